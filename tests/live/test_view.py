"""The typed view of a collector and the stats line read from it."""

from __future__ import annotations

from dataclasses import replace

from kalshi_collector.httpclient import HttpStats
from kalshi_collector.live.counters import Counters, Lag
from kalshi_collector.live.sequence import SeqStatus
from kalshi_collector.live.view import CollectorView, StatsLine


def view(now: float, messages: int, lag: Lag, gaps: int = 0) -> CollectorView:
    counters = Counters(messages=messages, disconnects=1, malformed=2, resync_requests=3)
    counters.seq_breaks[SeqStatus.GAP] = gaps
    return CollectorView(now=now, markets=6, books_valid=5, connected=True, subscribed_channels=frozenset(),
                         subscriptions=(), last_frame_at=now, counters=counters, lag=lag, awaiting_resync=(),
                         last_good_flush_at=now, store={"buffered_rows": 40}, rest=HttpStats(), stopping=False)


def test_the_stats_line_gives_rates_and_averages_since_the_previous_line() -> None:
    stats = StatsLine(100.0)
    first = stats.line(view(110.0, 5000, Lag(total=2.0, count=1000, period_max=0.010), gaps=4))
    assert first == ("stats: 500 msg/s, books 5/6 valid, lag avg 2.0 ms max 10.0 ms, rows buffered 40, "
                     "gaps 4, resyncs 3, reconnects 1, malformed 2")
    second = stats.line(view(120.0, 6000, Lag(total=2.5, count=1100, period_max=0.007)))
    assert second.startswith("stats: 100 msg/s, books 5/6 valid, lag avg 5.0 ms max 7.0 ms")


def test_a_view_is_a_value() -> None:
    v = view(1.0, 1, Lag())
    assert replace(v, books_valid=6) != v and v.books_valid == 5
