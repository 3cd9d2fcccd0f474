"""How a backfill reports progress: a tqdm bar on a terminal, a plain log line every few seconds
otherwise (journald, nohup and CI logs must not fill up with carriage-return bar redraws)."""

from __future__ import annotations

import copy
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from kalshi_collector.httpclient import HttpStats

__all__ = ["RunStats", "RunMeter", "Progress", "TqdmProgress", "LogProgress", "NullProgress", "make_progress"]

log = logging.getLogger("kalshi_collector.backfill")


@dataclass
class RunStats:
    """Live counters of one run (requests, retries and 429s come from the REST client)."""

    events_total: int = 0
    events_done: int = 0
    markets_total: int = 0
    """Markets with work in this run (the already complete ones are not among them)."""
    markets_done: int = 0
    markets_failed: int = 0
    markets_complete: int = 0
    """Markets skipped because their checkpoint already covered the whole range."""
    pages: int = 0
    trades: int = 0
    candles: int = 0
    requests: int = 0
    retries: int = 0
    http_429: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta_seconds(self) -> float | None:
        if not self.markets_done or self.markets_done >= self.markets_total:
            return None
        return self.elapsed / self.markets_done * (self.markets_total - self.markets_done)


class Progress(Protocol):
    def start(self, stats: RunStats) -> None: ...
    def update(self, stats: RunStats) -> None: ...
    def close(self, stats: RunStats) -> None: ...


class RunMeter:
    """A run's counters and their display, counted in one place. Requests, retries and 429s are
    the REST client's counters (``client_stats``), reckoned from when the meter was made, so a
    client that served other calls before the run does not inflate the summary."""

    def __init__(self, client_stats: Callable[[], HttpStats], progress: Progress) -> None:
        self.stats = RunStats()
        self._client_stats = client_stats
        self._base = copy.copy(client_stats())
        self._progress = progress

    def page(self) -> None:
        """One response received (a page of trades, a candle answer)."""
        self.stats.pages += 1
        self.update()

    def rows(self, *, trades: int = 0, candles: int = 0) -> None:
        self.stats.trades += trades
        self.stats.candles += candles

    def market_done(self, *, failed: bool) -> None:
        self.stats.markets_done += 1
        self.stats.markets_failed += failed

    def market_complete(self) -> None:
        """A market with nothing missing: skipped without a request (its checkpoint covers the range)."""
        self.stats.markets_complete += 1

    def event_done(self) -> None:
        self.stats.events_done += 1
        self.update()

    def update(self) -> None:
        """Refresh the client's counters and show them (each display throttles itself)."""
        now = self._client_stats()
        self.stats.requests = now.requests - self._base.requests
        self.stats.retries = now.retries - self._base.retries
        self.stats.http_429 = now.http_429 - self._base.http_429
        self._progress.update(self.stats)


class NullProgress:
    def start(self, stats: RunStats) -> None:
        pass

    def update(self, stats: RunStats) -> None:
        pass

    def close(self, stats: RunStats) -> None:
        pass


class TqdmProgress:
    """A bar over markets, with events, pages and trades/s beside it; tqdm computes the ETA."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.2) -> None:
        self._stream = stream or sys.stderr
        self._min_interval = min_interval
        self._last = 0.0
        self._bar = None
        self._shown_done = 0

    def start(self, stats: RunStats) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=stats.markets_total, unit="mkt", desc="backfill", file=self._stream, dynamic_ncols=True)

    def update(self, stats: RunStats) -> None:
        now = time.monotonic()
        if self._bar is None or now - self._last < self._min_interval:
            return
        self._last = now
        self._draw(stats)

    def _draw(self, stats: RunStats) -> None:
        assert self._bar is not None
        self._bar.update(stats.markets_done - self._shown_done)
        self._shown_done = stats.markets_done
        rate = stats.trades / stats.elapsed if stats.elapsed > 0 else 0.0
        self._bar.set_postfix_str(
            f"events {stats.events_done}/{stats.events_total} pages {stats.pages} "
            f"trades {stats.trades} ({rate:,.0f}/s) req {stats.requests}",
            refresh=False,
        )
        self._bar.refresh()

    def close(self, stats: RunStats) -> None:
        if self._bar is not None:
            self._draw(stats)
            self._bar.close()
            self._bar = None


class LogProgress:
    """One INFO line every ``interval`` seconds."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._last = 0.0

    def start(self, stats: RunStats) -> None:
        self._last = time.monotonic()
        log.info("backfill: %d events, %d markets to check, %d already complete", stats.events_total,
                 stats.markets_total, stats.markets_complete)

    def update(self, stats: RunStats) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            eta = stats.eta_seconds()
            log.info(
                "backfill: markets %d/%d, events %d/%d, pages %d, trades %d (%.0f/s), candles %d, "
                "requests %d, retries %d, 429s %d%s",
                stats.markets_done,
                stats.markets_total,
                stats.events_done,
                stats.events_total,
                stats.pages,
                stats.trades,
                stats.trades / max(stats.elapsed, 1e-9),
                stats.candles,
                stats.requests,
                stats.retries,
                stats.http_429,
                f", ETA {eta:.0f} s" if eta is not None else "",
            )

    def close(self, stats: RunStats) -> None:
        pass


def make_progress(stream: TextIO | None = None) -> Progress:
    stream = stream or sys.stderr
    return TqdmProgress(stream) if stream.isatty() else LogProgress()
