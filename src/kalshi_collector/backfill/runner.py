"""The backfill run: find the markets, work out what is missing, fetch it through one client, stage
it, checkpoint it, and merge it into the per-event files.

Shape of a run, one module per step:

1. **Resolve** (:mod:`.resolve`) the requested events and series to their markets on both tiers.
2. **Plan** (:mod:`.plan`, pure) per market from its checkpoint: ``window - covered`` for trades
   and for the chosen candle period. Markets with nothing missing cost no request at all.
3. **Fetch** (:mod:`.fetch`) with several requests in flight, all through the one client whose
   token bucket paces them. Live-tier candles go through the batch endpoint (up to 100 markets
   per call), historical-tier candles per market; trades per market and slice, from the tier(s)
   the trade cutoff (:mod:`.cutoff`) assigns.
4. **Commit** (:mod:`.ledger`) a market's rows (a staged part, then its checkpoint) when its work
   is done or when enough rows are buffered; when every market of an event is done, merge the
   event's files. Every disk write goes through one background writer thread, in order
   (:mod:`.writer`).

Failures are contained: a request that still fails after the client's retries loses only its own
unit (not credited, so the next run fetches it); the run goes on and reports the market as failed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.cutoff import HistoricalCutoff
from kalshi_collector.backfill.fetch import Fetcher
from kalshi_collector.backfill.ledger import Ledger
from kalshi_collector.backfill.progress import NullProgress, Progress, RunMeter, RunStats
from kalshi_collector.backfill.resolve import Resolver, UnknownTickers
from kalshi_collector.backfill.store import BackfillStore
from kalshi_collector.backfill.writer import Writer
from kalshi_collector.kalshi.rest import KalshiRestClient

__all__ = ["BackfillRequest", "BackfillSummary", "UnknownTickers", "backfill", "default_concurrency"]


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    start: date
    end: date
    events: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    period_minutes: int = 60


@dataclass(slots=True)
class BackfillSummary:
    events: int
    markets: int
    markets_fetched: int
    """Markets for which something was asked (the others were complete, or could not have
    traded in what was missing)."""
    markets_failed: list[str]
    markets_complete: int
    """Markets skipped without a request: their checkpoint already covered the whole range."""
    candles: int
    trades: int
    requests: int
    retries: int
    http_429: int
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.markets_failed

    def line(self) -> str:
        failed = f", {len(self.markets_failed)} markets FAILED (run again to retry)" if self.markets_failed else ""
        return (
            f"backfill done: {self.events} events, {self.markets} markets ({self.markets_complete} already complete, "
            f"{self.markets_fetched} fetched), "
            f"{self.candles} candles, {self.trades} trades, {self.requests} requests, {self.retries} retries, "
            f"{self.http_429} 429s, {self.seconds:.1f} s{failed}"
        )


def default_concurrency(requests_per_second: float) -> int:
    """Requests in flight: enough to fill the budget at ~0.3 s round trips, never a stampede."""
    if requests_per_second <= 0:
        return 16
    return max(4, min(64, math.ceil(requests_per_second * 0.3)))


async def backfill(
    client: KalshiRestClient,
    data_dir: str | Path,
    request: BackfillRequest,
    *,
    now: Callable[[], float] = time.time,
    concurrency: int | None = None,
    progress: Progress | None = None,
    work_dir: str | Path | None = None,
) -> BackfillSummary:
    """Fetch every candle (``request.period_minutes``) and trade of the requested events in the
    date window into ``<data_dir>/historical/``, skipping what earlier runs already stored.

    Raises :class:`UnknownTickers` (before fetching anything) for events/series the exchange does
    not know, and :class:`~kalshi_collector.backfill.store.BackfillLocked` if another backfill
    holds the folder. Request failures do not raise: they are listed in the summary.

    ``data_dir`` may be an object-store URL (``s3://bucket/prefix``): the event files are uploaded
    there, the working state (checkpoints, staged parts, lock) stays on local disk in ``work_dir``
    (default: see :class:`~kalshi_collector.backfill.store.BackfillStore`).
    """
    if request.period_minutes not in P.PERIODS:
        raise ValueError(f"period must be one of {P.PERIODS}, got {request.period_minutes}")
    store = BackfillStore(data_dir, work_dir=work_dir)
    progress = progress or NullProgress()
    meter = RunMeter(lambda: client.stats, progress)
    window = P.Window.from_dates(request.start, request.end)
    started_at = now()
    cutoff = HistoricalCutoff(client)
    with store.lock():
        targets = await Resolver(client, store, window, cutoff).resolve(request.events, request.series)
        writer = Writer(store, lambda _event: meter.event_done())
        ledger = Ledger(writer, meter, request.period_minutes)
        works = _plan(store, targets, ledger, meter, window, started_at, request.period_minutes)
        fetcher = Fetcher(client, ledger, meter, cutoff, period_minutes=request.period_minutes,
                          concurrency=concurrency or default_concurrency(client.rate))
        meter.stats.events_total = len(targets)
        meter.stats.markets_total = ledger.markets
        progress.start(meter.stats)
        try:
            await _execute(fetcher, works, ledger, writer)
        finally:
            progress.close(meter.stats)
    return _summary(targets, ledger, meter.stats)


def _plan(
    store: BackfillStore,
    targets: dict[str, list[P.MarketInfo]],
    ledger: Ledger,
    meter: RunMeter,
    window: P.Window,
    now: float,
    period_minutes: int,
) -> list[P.MarketWork]:
    """Each market's work from its checkpoint, entered in the ledger; markets with nothing
    missing are left out (and counted as already complete)."""
    trade_win = P.trade_window(window, now)
    candle_win = P.candle_window(window, now, period_minutes)
    works: list[P.MarketWork] = []
    for event, markets in targets.items():
        ledger.add_event(event)
        for market in markets:
            checkpoint = store.load_checkpoint(event, market.ticker)
            work = P.market_work(
                market,
                trades_covered=checkpoint.trades,
                candles_covered=checkpoint.candle_cover(period_minutes),
                trade_win=trade_win,
                candle_win=candle_win,
                period_minutes=period_minutes,
            )
            if work.units:
                ledger.add_market(work, checkpoint)
                works.append(work)
            else:
                meter.market_complete()
    return works


def _summary(targets: dict[str, list[P.MarketInfo]], ledger: Ledger, stats: RunStats) -> BackfillSummary:
    return BackfillSummary(
        events=len(targets),
        markets=sum(len(m) for m in targets.values()),
        markets_fetched=ledger.markets_asked,
        markets_failed=ledger.failed(),
        markets_complete=stats.markets_complete,
        candles=stats.candles,
        trades=stats.trades,
        requests=stats.requests,
        retries=stats.retries,
        http_429=stats.http_429,
        seconds=stats.elapsed,
    )


async def _execute(fetcher: Fetcher, works: list[P.MarketWork], ledger: Ledger, writer: Writer) -> None:
    """Fetch everything, then wait for the writer. Interrupted (Ctrl-C, a cancelled task, a
    write error): save what completed units fetched, write it, and re-raise."""
    # Events with nothing to fetch may still hold parts staged by an interrupted run.
    for event in ledger.idle_events():
        writer.assemble(event)
    try:
        await fetcher.run(works)
    except BaseException:
        if writer.error is None:
            ledger.flush_all()
        await writer.close()
        raise
    await writer.close()
