"""What one WebSocket connection has said and heard: its id, command ids, subscriptions, sequences.

Kalshi scopes all of these to a connection: command ids must be unique per connection, sids and
their ``seq`` numbering start again on every connection (API.md 7). So they live together in one
small object that the frame handler replaces on reconnect, instead of being reset field by field.
Pure bookkeeping (no I/O): the command builders return the exact bytes to send, registered as
pending so that the reply (``subscribed`` / ``ok`` / ``error``) can be matched.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.sequence import SequenceTracker
from kalshi_collector.live.subscriptions import MARKET_CHANNELS, PendingCommand, Subscriptions

__all__ = ["ConnectionState", "SubscriptionPosition"]

_LIFECYCLE = ("market_lifecycle_v2",)


class SubscriptionPosition(NamedTuple):
    """Where one live subscription's numbering stands (metrics count messages per channel by it)."""

    conn: int
    sid: int
    channel: str
    last_seq: int


@dataclass(slots=True)
class ConnectionState:
    number: int = 0  # the connection id recorded on every tape row (0 = not connected yet)
    subscribed_at: float = 0.0  # when the subscribe commands went out
    seq: SequenceTracker = field(default_factory=SequenceTracker)
    subs: Subscriptions = field(default_factory=Subscriptions)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def command(self, pending: PendingCommand) -> int:
        """A fresh command id, with what it asks recorded until the reply comes."""
        cid = next(self._ids)
        self.subs.expect(cid, pending)
        return cid

    # --- commands -----------------------------------------------------------------------------------

    def subscribe_markets(self, tickers: Sequence[str]) -> bytes:
        """One ``subscribe`` of every per-market channel for ``tickers`` (YES/NO prices pinned)."""
        cid = self.command(PendingCommand("subscribe", MARKET_CHANNELS, tuple(tickers)))
        return wm.subscribe(cid, list(MARKET_CHANNELS), list(tickers), use_yes_price=False)

    def subscribe_lifecycle(self) -> bytes:
        cid = self.command(PendingCommand("subscribe", _LIFECYCLE))
        return wm.subscribe(cid, list(_LIFECYCLE))

    def update_markets(self, sid: int, action: wm.UpdateAction, tickers: Sequence[str]) -> bytes:
        """``update_subscription`` of ``sid``: add_markets, delete_markets or get_snapshot."""
        cid = self.command(PendingCommand("update_subscription", (), tuple(tickers), sid, action))
        return wm.update_subscription(cid, action, list(tickers), sid=sid)

    def market_updates(self, added: Sequence[str], removed: Sequence[str]) -> list[bytes]:
        """``add_markets`` / ``delete_markets`` for every per-market subscription granted so far."""
        out = []
        for channel in MARKET_CHANNELS:
            sid = self.subs.sid(channel)
            if sid is None:
                continue
            if added:
                out.append(self.update_markets(sid, "add_markets", added))
            if removed:
                out.append(self.update_markets(sid, "delete_markets", removed))
        return out

    # --- reading ------------------------------------------------------------------------------------

    def positions(self) -> list[SubscriptionPosition]:
        """Every subscription that has numbered a message on this connection."""
        out = []
        for sid, channel in list(self.subs.channel_by_sid.items()):
            last = self.seq.last(sid)
            if last is not None:
                out.append(SubscriptionPosition(self.number, sid, channel, last))
        return out
