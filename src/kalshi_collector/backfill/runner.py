"""The backfill run: find the markets, work out what is missing, fetch it through one client, stage
it, checkpoint it, and merge it into the per-event files.

Shape of a run:

1. **Resolve** events (``--events``: ``GET /events/{t}`` plus ``/historical/markets?event_ticker``
   when the window reaches before the market cutoff; ``--series``: both tiers' market listings
   of the series, grouped by event, keeping events with a market that traded in the window).
   An event whose markets are all finalized keeps its market list in a manifest and is not asked
   again.
2. **Plan** per market from its checkpoint: ``window - covered`` for trades and for the chosen
   candle period (pure code in :mod:`.plan`). Markets with nothing missing cost no request at all.
3. **Fetch** with several requests in flight (a semaphore), all through the one client whose token
   bucket paces them to the configured tier and whose shared cool-down slows everyone after a 429.
   Live-tier candles go through the batch endpoint (up to 100 markets per call), historical-tier
   candles per market; trades per market and slice, from the tier(s) the trade cutoff assigns.
4. **Commit** a market's rows (a staged part, then its checkpoint) when its work is done or when
   enough rows are buffered; when every market of an event is done, merge the event's files.
   Every disk write goes through one background writer thread, in order (:class:`_Writer`).

Failures are contained: a request that still fails after the client's retries loses only its own
unit (not credited, so the next run fetches it); the run goes on and reports the market as failed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.intervals import Interval, subtract
from kalshi_collector.backfill.progress import NullProgress, Progress, RunStats
from kalshi_collector.backfill.store import (
    BackfillStore,
    EventManifest,
    MarketCheckpoint,
    candles_table,
    is_final,
    trades_table,
)
from kalshi_collector.kalshi.models import Candlestick, Market
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient, NotFound

__all__ = ["BackfillRequest", "BackfillSummary", "UnknownTickers", "backfill", "default_concurrency"]

log = logging.getLogger("kalshi_collector.backfill")

FLUSH_ROWS = 50_000  # stage a market's rows once this many are buffered (bounds memory, keeps progress)
TRADES_PAGE_LIMIT = 1000  # the documented maximum (API.md 5.9)


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
            f"backfill done: {self.events} events, {self.markets} markets ({self.markets_fetched} fetched), "
            f"{self.candles} candles, {self.trades} trades, {self.requests} requests, {self.retries} retries, "
            f"{self.http_429} 429s, {self.seconds:.1f} s{failed}"
        )


class UnknownTickers(Exception):
    """Events or series the exchange does not know (a typo, usually)."""

    def __init__(self, events: Sequence[str], series: Sequence[str]) -> None:
        parts = []
        if events:
            parts.append(f"unknown event{'s' if len(events) > 1 else ''} {', '.join(sorted(events))}")
        if series:
            parts.append(f"unknown series {', '.join(sorted(series))}")
        super().__init__("; ".join(parts) + " (not found on the exchange; check the ticker)")
        self.events = tuple(events)
        self.series = tuple(series)


def default_concurrency(requests_per_second: float) -> int:
    """Requests in flight: enough to fill the budget at ~0.3 s round trips, never a stampede."""
    if requests_per_second <= 0:
        return 16
    return max(4, min(64, math.ceil(requests_per_second * 0.3)))


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def market_info(market: Market, tier: P.Tier) -> P.MarketInfo:
    return P.MarketInfo(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        tier=tier,
        status=market.status,
        open_ts=_epoch(market.open_time),
        close_ts=_epoch(market.close_time),
        settled_ts=_epoch(market.settlement_ts),
    )


# ------------------------------------------------------------------------------------ run state


@dataclass(eq=False)
class _MarketJob:
    info: P.MarketInfo
    checkpoint: MarketCheckpoint
    outstanding: int = 0
    failed: bool = False
    trade_tables: list[pa.Table] = field(default_factory=list)
    candle_tables: list[pa.Table] = field(default_factory=list)
    trade_cover: list[Interval] = field(default_factory=list)
    candle_cover: list[Interval] = field(default_factory=list)
    buffered: int = 0


class _Writer:
    """Every disk write of a run, done in submission order by one background consumer in a
    worker thread: parquet encoding and fsyncs never stall the requests in flight, and commits
    that pile up while a write is running go out together (one part per event, not per market).

    Items: ``("commit", (checkpoint, trades, candles))`` and ``("assemble", event_ticker)``; an
    event is assembled only after every commit submitted before it is on disk.
    """

    def __init__(self, store: BackfillStore, on_assembled: Callable[[str], None]) -> None:
        self._store = store
        self._on_assembled = on_assembled
        self._items: list[tuple[str, object]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._loop(), name="backfill-writer")

    def commit(self, checkpoint: MarketCheckpoint, trades: pa.Table | None, candles: pa.Table | None) -> None:
        self._submit(("commit", (checkpoint, trades, candles)))

    def assemble(self, event_ticker: str) -> None:
        self._submit(("assemble", event_ticker))

    def _submit(self, item: tuple[str, object]) -> None:
        if self.error is not None:
            raise self.error
        self._items.append(item)
        self._wake.set()

    async def close(self) -> None:
        """Write everything submitted so far; re-raise a write error."""
        self._closed = True
        self._wake.set()
        await asyncio.shield(self._task)
        if self.error is not None:
            raise self.error

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._items:
                if self._closed:
                    return
                continue
            batch, self._items = self._items, []
            try:
                assembled = await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # disk full, permissions: stop the run, keep what is on disk
                self.error = exc
                return
            for event in assembled:
                self._on_assembled(event)
            self._wake.set()

    def _write(self, batch: list[tuple[str, object]]) -> list[str]:
        assembled: list[str] = []
        commits: list = []
        for kind, payload in batch:
            if kind == "commit":
                commits.append(payload)
                continue
            if commits:
                self._store.commit_batch(commits)
                commits = []
            self._store.assemble(payload)  # type: ignore[arg-type]
            assembled.append(payload)  # type: ignore[arg-type]
        if commits:
            self._store.commit_batch(commits)
        return assembled


class _Run:
    def __init__(
        self,
        client: KalshiRestClient,
        store: BackfillStore,
        request: BackfillRequest,
        *,
        now: float,
        concurrency: int,
        progress: Progress,
    ) -> None:
        self.client = client
        self.store = store
        self.req = request
        self.period = request.period_minutes
        self.window = P.Window.from_dates(request.start, request.end)
        self.now = now
        self.sem = asyncio.Semaphore(concurrency)
        self.progress = progress
        self.stats = RunStats()
        self._base = dict(client.stats)
        self._cutoff: tuple[int | None, int | None] | None = None
        self._cutoff_lock = asyncio.Lock()
        self.jobs: dict[str, _MarketJob] = {}
        self.fetching: set[str] = set()
        self.event_pending: dict[str, int] = {}
        self.writer = _Writer(store, self._assembled)

    # ---- client counters
    def _sync_counters(self) -> None:
        s = self.client.stats
        self.stats.requests = s["requests"] - self._base.get("requests", 0)
        self.stats.retries = s["retries"] - self._base.get("retries", 0)
        self.stats.http_429 = s["http_429"] - self._base.get("http_429", 0)
        self.progress.update(self.stats)

    # ---- cutoff (one request, only when something needs routing)
    async def cutoff(self) -> tuple[int | None, int | None]:
        """(market_settled_ts, trades_created_ts); (None, None) where the exchange has no split."""
        async with self._cutoff_lock:
            if self._cutoff is None:
                try:
                    c = await self.client.historical_cutoff()
                    self._cutoff = (_epoch(c.market_settled_ts), _epoch(c.trades_created_ts))
                except NotFound:
                    self._cutoff = (None, None)
                log.debug("historical cutoff: markets %s, trades %s", *self._cutoff)
            return self._cutoff

    async def _needs_historical_listing(self) -> bool:
        settled_cut, _ = await self.cutoff()
        return settled_cut is not None and self.window.start < settled_cut

    # ---- 1. resolve
    async def resolve(self) -> dict[str, list[P.MarketInfo]]:
        targets: dict[str, list[P.MarketInfo]] = {}
        unknown_events: list[str] = []
        unknown_series: list[str] = []

        async def one_event(ticker: str) -> None:
            try:
                targets[ticker] = await self._event_markets(ticker)
            except NotFound:
                unknown_events.append(ticker)

        async def one_series(ticker: str) -> None:
            try:
                for event, markets in (await self._series_markets(ticker)).items():
                    targets.setdefault(event, markets)
            except NotFound:
                unknown_series.append(ticker)

        await asyncio.gather(*(one_event(e) for e in dict.fromkeys(self.req.events)),
                             *(one_series(s) for s in dict.fromkeys(self.req.series)))
        if unknown_events or unknown_series:
            raise UnknownTickers(unknown_events, unknown_series)
        return dict(sorted(targets.items()))

    async def _event_markets(self, event_ticker: str) -> list[P.MarketInfo]:
        cached = self.store.load_manifest(event_ticker)
        if cached is not None and cached.final:
            return cached.markets
        event = await self.client.get_event(event_ticker, with_nested_markets=True)
        found = {m.ticker: market_info(m, "live") for m in event.markets}
        if await self._needs_historical_listing():
            async for page in self.client.iter_historical_markets(event_ticker=event_ticker):
                found.update((m.ticker, market_info(m, "historical")) for m in page)
        markets = sorted(found.values(), key=lambda m: m.ticker)
        self.store.save_manifest(EventManifest(event_ticker=event_ticker, final=is_final(markets), markets=markets))
        return markets

    async def _series_markets(self, series_ticker: str) -> dict[str, list[P.MarketInfo]]:
        await self.client.get_series(series_ticker)
        found: dict[str, P.MarketInfo] = {}
        async for page in self.client.iter_markets(series_ticker=series_ticker):
            found.update((m.ticker, market_info(m, "live")) for m in page)
        if await self._needs_historical_listing():
            async for page in self.client.iter_historical_markets(series_ticker=series_ticker):
                found.update((m.ticker, market_info(m, "historical")) for m in page)
        by_event: dict[str, list[P.MarketInfo]] = defaultdict(list)
        for m in found.values():
            by_event[m.event_ticker].append(m)
        out: dict[str, list[P.MarketInfo]] = {}
        for event, markets in sorted(by_event.items()):
            if any(m.overlaps(self.window) for m in markets):
                markets.sort(key=lambda m: m.ticker)
                self.store.save_manifest(EventManifest(event_ticker=event, final=is_final(markets), markets=markets))
                out[event] = markets
        return out

    # ---- 2. plan
    def plan(self, targets: dict[str, list[P.MarketInfo]]) -> tuple[list[P.TradeUnit], list[P.CandlePiece]]:
        trade_win = P.trade_window(self.window, self.now)
        candle_win = P.candle_window(self.window, self.now, self.period)
        trade_units: list[P.TradeUnit] = []
        pieces: list[P.CandlePiece] = []
        for event, markets in targets.items():
            pending = 0
            for m in markets:
                cp = self.store.load_checkpoint(event, m.ticker)
                t_units = P.trade_units(m, subtract([trade_win], cp.trades))
                c_pieces = P.candle_pieces(
                    m, subtract([candle_win], cp.candle_cover(self.period)), self.period,
                    max_candles=P.SINGLE_MAX_CANDLES,
                )
                if not t_units and not c_pieces:
                    continue
                self.jobs[m.ticker] = _MarketJob(m, cp, outstanding=len(t_units) + len(c_pieces))
                if any(u.fetch for u in t_units) or any(p.fetch for p in c_pieces):
                    self.fetching.add(m.ticker)
                trade_units += t_units
                pieces += c_pieces
                pending += 1
            self.event_pending[event] = pending
        return trade_units, pieces

    # ---- 3. fetch
    async def execute(self, trade_units: list[P.TradeUnit], pieces: list[P.CandlePiece]) -> None:
        # Ranges in which a market cannot have data are credited at once, without a request.
        for piece in pieces:
            if piece.fetch is None:
                self._done_candles(piece, [], ok=True)
        for unit in trade_units:
            if unit.fetch is None:
                self._done_trades(unit, [], ok=True)
        wanted = [p for p in pieces if p.fetch is not None]
        work: list[asyncio.Task[None]] = []
        if wanted:
            settled_cut, _ = await self.cutoff()
            live = [p for p in wanted if P.route_tier(self.jobs[p.ticker].info, settled_cut) == "live"]
            hist = [p for p in wanted if P.route_tier(self.jobs[p.ticker].info, settled_cut) == "historical"]
            work += [asyncio.create_task(self._live_candles(list(b.pieces))) for b in P.batch_live_pieces(live, self.period, max_candles=P.BATCH_MAX_CANDLES)]
            work += [asyncio.create_task(self._hist_candles(p)) for p in hist]
        fetch_trades = [u for u in trade_units if u.fetch is not None]
        if fetch_trades:
            _, trades_cut = await self.cutoff()
            work += [asyncio.create_task(self._trades(u, trades_cut)) for u in fetch_trades]
        try:
            await asyncio.gather(*work)
        finally:
            for task in work:
                task.cancel()

    async def _trades(self, unit: P.TradeUnit, trades_cut: int | None) -> None:
        """Walk every page of one slice. Pages become Arrow tables at once (a few bytes per trade
        instead of a Python object); a trade served by both tiers around the cutoff is dropped
        when the event file is merged (dedupe by ``trade_id``)."""
        assert unit.fetch is not None
        lo, hi = (datetime.fromtimestamp(x, UTC) for x in unit.fetch)
        event = self.jobs[unit.ticker].info.event_ticker
        tables: list[pa.Table] = []
        try:
            async with self.sem:
                for tier, (a, b) in P.trade_legs(unit.fetch, trades_cut):
                    # One second of margin each side: whether min_ts/max_ts are inclusive is not
                    # documented; the exact filter keeps only [lo, hi).
                    async for page in self.client.iter_trades(
                        ticker=unit.ticker, min_ts=a - 1, max_ts=b + 1, limit=TRADES_PAGE_LIMIT,
                        historical=tier == "historical",
                    ):
                        mine = [t for t in page.items if lo <= t.created_time < hi]
                        if mine:
                            tables.append(trades_table(event, mine))
                        self.stats.pages += 1
                        self._sync_counters()
        except ApiError as exc:
            log.error("trades of %s %s failed: %s", unit.ticker, _span(unit.fetch), exc)
            self._done_trades(unit, [], ok=False)
            return
        self._done_trades(unit, tables, ok=True)

    async def _live_candles(self, pieces: list[P.CandlePiece]) -> None:
        hull = (min(p.fetch[0] for p in pieces), max(p.fetch[1] for p in pieces))  # type: ignore[index]
        start_ts, end_ts = P.candle_request_bounds(*hull, self.period)
        try:
            async with self.sem:
                got = await self.client.batch_candlesticks(
                    [p.ticker for p in pieces], start_ts=start_ts, end_ts=end_ts, period_interval=self.period
                )
                self.stats.pages += 1
                self._sync_counters()
        except ApiError as exc:
            if exc.status == 400 and await self._split_candles(pieces, exc):
                return
            log.error("candles of %d markets %s failed: %s", len(pieces), _span(hull), exc)
            for p in pieces:
                self._done_candles(p, [], ok=False)
            return
        for p in pieces:
            if p.ticker in got:
                self._done_candles(p, got[p.ticker], ok=True)
            else:
                # Not served live any more (the cutoff moved during the run): ask the archive.
                await self._hist_candles(p)

    async def _hist_candles(self, piece: P.CandlePiece) -> None:
        assert piece.fetch is not None
        start_ts, end_ts = P.candle_request_bounds(*piece.fetch, self.period)
        try:
            async with self.sem:
                got = await self.client.historical_candlesticks(
                    piece.ticker, start_ts=start_ts, end_ts=end_ts, period_interval=self.period
                )
                self.stats.pages += 1
                self._sync_counters()
        except ApiError as exc:
            if exc.status == 400 and await self._split_candles([piece], exc, historical=True):
                return
            log.error("candles of %s %s failed: %s", piece.ticker, _span(piece.fetch), exc)
            self._done_candles(piece, [], ok=False)
            return
        self._done_candles(piece, got, ok=True)

    async def _split_candles(self, pieces: list[P.CandlePiece], exc: ApiError, *, historical: bool = False) -> bool:
        """A 400 on a candle request most likely means "too many candles" (the per-request caps
        are not all documented): ask again in halves, by markets first, then by time."""
        step = self.period * 60
        if len(pieces) > 1:
            mid = len(pieces) // 2
            halves = [pieces[:mid], pieces[mid:]]
        else:
            (p,) = pieces
            a, b = p.cover
            if b - a <= step:
                return False
            mid_ts = a + ((b - a) // step // 2) * step
            halves = [[P.CandlePiece(p.ticker, (a, mid_ts), p.limit)], [P.CandlePiece(p.ticker, (mid_ts, b), p.limit)]]
            self.jobs[p.ticker].outstanding += 1
        log.info("candle request refused (%s); retrying as two smaller requests", exc.detail)
        for half in halves:
            for piece in half:
                if piece.fetch is None:
                    self._done_candles(piece, [], ok=True)
            half = [q for q in half if q.fetch is not None]
            if not half:
                continue
            if historical:
                await self._hist_candles(half[0])
            else:
                await self._live_candles(half)
        return True

    # ---- 4. commit
    def _done_trades(self, unit: P.TradeUnit, tables: list[pa.Table], *, ok: bool) -> None:
        job = self.jobs[unit.ticker]
        if ok:
            rows = sum(t.num_rows for t in tables)
            job.trade_tables += tables
            job.buffered += rows
            self.stats.trades += rows
            job.trade_cover.append(unit.cover)
        self._unit_done(job, ok)

    def _done_candles(self, piece: P.CandlePiece, candles: list[Candlestick], *, ok: bool) -> None:
        job = self.jobs[piece.ticker]
        if ok:
            step = self.period * 60
            a, b = piece.cover
            mine = [c for c in candles if a <= c.end_period_ts - step < b]
            if mine:
                job.candle_tables.append(candles_table(job.info.event_ticker, piece.ticker, self.period, mine))
                job.buffered += len(mine)
                self.stats.candles += len(mine)
            job.candle_cover.append(piece.cover)
        self._unit_done(job, ok)

    def _unit_done(self, job: _MarketJob, ok: bool) -> None:
        job.failed |= not ok
        job.outstanding -= 1
        if job.outstanding == 0 or job.buffered >= FLUSH_ROWS:
            self._flush(job)
        if job.outstanding == 0:
            self.stats.markets_done += 1
            self.stats.markets_failed += job.failed
            self._market_finished(job.info.event_ticker)
        self._sync_counters()

    def _flush(self, job: _MarketJob) -> None:
        """Hand buffered rows and the ranges they complete to the writer. The new checkpoint is
        built here, in the event loop, so commits of one market reach the writer in order."""
        if not (job.trade_cover or job.candle_cover):
            return
        cp = MarketCheckpoint(
            market_ticker=job.checkpoint.market_ticker,
            event_ticker=job.checkpoint.event_ticker,
            trades=list(job.checkpoint.trades),
            candles={k: list(v) for k, v in job.checkpoint.candles.items()},
        )
        cp.add(trades=job.trade_cover, candles=job.candle_cover, period_minutes=self.period)
        self.writer.commit(
            cp,
            pa.concat_tables(job.trade_tables) if job.trade_tables else None,
            pa.concat_tables(job.candle_tables) if job.candle_tables else None,
        )
        job.checkpoint = cp
        job.trade_tables, job.candle_tables, job.trade_cover, job.candle_cover = [], [], [], []
        job.buffered = 0

    def _market_finished(self, event_ticker: str) -> None:
        self.event_pending[event_ticker] -= 1
        if self.event_pending[event_ticker] == 0:
            self.writer.assemble(event_ticker)

    def _assembled(self, event_ticker: str) -> None:
        self.stats.events_done += 1
        self._sync_counters()

    def flush_all(self) -> None:
        """On interruption: save what completed units fetched, so none of it is asked again."""
        for job in self.jobs.values():
            self._flush(job)


def _span(interval: Interval) -> str:
    def iso(ts: int) -> str:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return f"[{iso(interval[0])}, {iso(interval[1])})"


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
    run = _Run(
        client,
        store,
        request,
        now=now(),
        concurrency=concurrency or default_concurrency(client.rate),
        progress=progress,
    )
    with store.lock():
        targets = await run.resolve()
        trade_units, pieces = run.plan(targets)
        run.stats.events_total = len(targets)
        run.stats.markets_total = len(run.jobs)
        progress.start(run.stats)
        # Events with nothing to fetch may still hold parts staged by an interrupted run.
        for event, pending in run.event_pending.items():
            if pending == 0:
                run.writer.assemble(event)
        try:
            await run.execute(trade_units, pieces)
        except BaseException:
            if run.writer.error is None:
                run.flush_all()
            await run.writer.close()
            raise
        else:
            await run.writer.close()
        finally:
            progress.close(run.stats)
    failed = sorted(t for t, j in run.jobs.items() if j.failed)
    return BackfillSummary(
        events=len(targets),
        markets=sum(len(m) for m in targets.values()),
        markets_fetched=len(run.fetching),
        markets_failed=failed,
        candles=run.stats.candles,
        trades=run.stats.trades,
        requests=run.stats.requests,
        retries=run.stats.retries,
        http_429=run.stats.http_429,
        seconds=run.stats.elapsed,
    )
