"""What a running collector looks like from outside, at one instant: the typed view that health
rules, metrics and the stats line read instead of the collector's internals.

Built by ``Collector.view()`` from its parts (counters and lag copied, so the view cannot change
under a reader). Nothing here imports the collector: the monitor is handed ``Collector.view`` as a
callable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kalshi_collector.httpclient import HttpStats
from kalshi_collector.live.connection import SubscriptionPosition
from kalshi_collector.live.counters import Counters, Lag
from kalshi_collector.live.sequence import SeqStatus

__all__ = ["CollectorView", "StatsLine"]


@dataclass(frozen=True)
class CollectorView:
    now: float
    markets: int  # markets tracked
    books_valid: int
    connected: bool  # connected and subscribed
    subscribed_channels: frozenset[str]
    subscriptions: tuple[SubscriptionPosition, ...]  # of the current connection
    last_frame_at: float | None  # last data frame or ping (None: no connection)
    counters: Counters
    lag: Lag
    awaiting_resync: tuple[float, ...]  # when each book still waiting for a snapshot became doubtful
    last_good_flush_at: float
    store: dict[str, Any]  # LiveStore.stats
    rest: HttpStats  # a copy of KalshiRestClient.stats
    stopping: bool


class StatsLine:
    """The periodic log line: rates and averages since the previous line."""

    def __init__(self, now: float) -> None:
        self._then = (now, 0, 0.0, 0)  # time, messages, lag total, lag count

    def line(self, v: CollectorView) -> str:
        then, n_then, lag_then, lag_n_then = self._then
        c, lag = v.counters, v.lag
        rate = (c.messages - n_then) / max(v.now - then, 1e-9)
        n_lag = lag.count - lag_n_then
        lag_avg = (lag.total - lag_then) / n_lag * 1000 if n_lag else 0.0
        self._then = (v.now, c.messages, lag.total, lag.count)
        return (
            f"stats: {rate:.0f} msg/s, books {v.books_valid}/{v.markets} valid, "
            f"lag avg {lag_avg:.1f} ms max {lag.period_max * 1000:.1f} ms, rows buffered {v.store['buffered_rows']}, "
            f"gaps {c.seq_breaks[SeqStatus.GAP]}, resyncs {c.resync_requests}, "
            f"reconnects {c.disconnects}, malformed {c.malformed}"
        )
