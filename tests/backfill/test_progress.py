"""How a backfill reports progress: a log line off a terminal, a bar on one, and the meter that
counts a run (the client's counters reckoned from the run's start)."""

from __future__ import annotations

import io
import logging

import pytest

from kalshi_collector.backfill.progress import LogProgress, RunMeter, RunStats, TqdmProgress, make_progress
from kalshi_collector.httpclient import HttpStats


def _stats() -> RunStats:
    return RunStats(events_total=2, events_done=1, markets_total=10, markets_done=4, pages=7, trades=1234,
                    candles=99, requests=20, retries=1, http_429=0)


def test_plain_log_lines_when_not_on_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(make_progress(io.StringIO()), LogProgress)
    progress = LogProgress(interval=0)
    with caplog.at_level(logging.INFO, logger="kalshi_collector.backfill"):
        progress.start(_stats())
        progress.update(_stats())
    assert "2 events, 10 markets to check, 0 already complete" in caplog.text
    assert "markets 4/10, events 1/2, pages 7, trades 1234" in caplog.text
    assert "requests 20, retries 1, 429s 0" in caplog.text and "ETA" in caplog.text


def test_a_bar_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = make_progress(stream)
    assert isinstance(progress, TqdmProgress)
    progress.start(_stats())
    progress.update(_stats())
    progress.close(_stats())
    text = stream.getvalue()
    assert "4/10" in text and "events 1/2" in text and "pages 7" in text and "trades 1234" in text


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[RunStats] = []

    def start(self, stats: RunStats) -> None:
        pass

    def update(self, stats: RunStats) -> None:
        self.seen.append(RunStats(**{k: getattr(stats, k) for k in ("requests", "retries", "http_429", "pages",
                                                                     "events_done", "trades", "candles")}))

    def close(self, stats: RunStats) -> None:
        pass


def test_meter_counts_the_clients_requests_from_the_start_of_the_run() -> None:
    client_stats = HttpStats(requests=40, retries=3, http_429=2)  # served before the run
    shown = _Recorder()
    meter = RunMeter(lambda: client_stats, shown)
    client_stats.requests += 5
    client_stats.retries += 1
    meter.page()
    meter.rows(trades=10, candles=2)
    meter.market_done(failed=True)
    client_stats.requests += 1
    client_stats.http_429 += 1
    meter.event_done()
    s = meter.stats
    assert (s.requests, s.retries, s.http_429) == (6, 1, 1)
    assert (s.pages, s.trades, s.candles, s.markets_done, s.markets_failed, s.events_done) == (1, 10, 2, 1, 1, 1)
    # every page and event is shown with the counters of that moment
    assert [(x.pages, x.requests, x.events_done) for x in shown.seen] == [(1, 5, 0), (1, 6, 1)]


def test_meter_counts_markets_already_complete() -> None:
    meter = RunMeter(HttpStats, _Recorder())
    meter.market_complete()
    meter.market_complete()
    meter.market_done(failed=False)
    assert (meter.stats.markets_complete, meter.stats.markets_done) == (2, 1)
