"""What this connection has asked Kalshi for, and what Kalshi has granted (pure bookkeeping).

Kalshi answers a multi-channel ``subscribe`` with one ``subscribed`` per channel, each with its own
``sid``; ``update_subscription`` replies ``ok`` with the full market list after the update. This
class maps command ids to what they asked, sids to channels, and keeps the market set of each
market-scoped subscription so a gap on a sid knows which books it spoils.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Subscriptions", "PendingCommand", "MARKET_CHANNELS", "ALL_CHANNELS"]

# Channels we subscribe per market, and the lifecycle channel (all markets, no selector).
MARKET_CHANNELS = ("orderbook_delta", "ticker", "trade")
ALL_CHANNELS = (*MARKET_CHANNELS, "market_lifecycle_v2")


@dataclass(slots=True)
class PendingCommand:
    cmd: str
    channels: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    sid: int | None = None
    action: str | None = None


@dataclass
class Subscriptions:
    pending: dict[int, PendingCommand] = field(default_factory=dict)
    sid_by_channel: dict[str, int] = field(default_factory=dict)
    channel_by_sid: dict[int, str] = field(default_factory=dict)
    markets_by_sid: dict[int, set[str]] = field(default_factory=dict)

    def expect(self, cmd_id: int, pending: PendingCommand) -> None:
        self.pending[cmd_id] = pending

    def on_subscribed(self, cmd_id: int | None, channel: str, sid: int) -> None:
        self.sid_by_channel[channel] = sid
        self.channel_by_sid[sid] = channel
        pending = self.pending.get(cmd_id) if cmd_id is not None else None
        tickers = set(pending.tickers) if pending else set()
        self.markets_by_sid[sid] = tickers
        if pending is not None:
            remaining = tuple(c for c in pending.channels if c != channel)
            if remaining:
                pending.channels = remaining
            else:
                self.pending.pop(cmd_id, None)  # type: ignore[arg-type]

    def on_ok(self, cmd_id: int | None, sid: int | None, market_tickers: list[str] | None) -> PendingCommand | None:
        pending = self.pending.pop(cmd_id, None) if cmd_id is not None else None
        if sid is not None and market_tickers is not None and sid in self.markets_by_sid:
            self.markets_by_sid[sid] = set(market_tickers)
        elif pending is not None and pending.sid is not None and pending.sid in self.markets_by_sid:
            current = self.markets_by_sid[pending.sid]
            if pending.action == "add_markets":
                current.update(pending.tickers)
            elif pending.action == "delete_markets":
                current.difference_update(pending.tickers)
        return pending

    def on_unsubscribed(self, sid: int) -> None:
        channel = self.channel_by_sid.pop(sid, None)
        if channel is not None and self.sid_by_channel.get(channel) == sid:
            del self.sid_by_channel[channel]
        self.markets_by_sid.pop(sid, None)

    def on_error(self, cmd_id: int | None) -> PendingCommand | None:
        return self.pending.pop(cmd_id, None) if cmd_id is not None else None

    def channel(self, sid: int) -> str | None:
        return self.channel_by_sid.get(sid)

    def sid(self, channel: str) -> int | None:
        return self.sid_by_channel.get(channel)

    def markets(self, sid: int) -> set[str]:
        return self.markets_by_sid.get(sid, set())
