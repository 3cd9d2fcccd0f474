"""Everything that knows Kalshi's wire format: auth, REST, WebSocket, typed messages.

Nothing in here knows about storage; the collector joins the two.
"""
