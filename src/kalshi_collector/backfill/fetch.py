"""The requests of a backfill run: one fetcher per candle tier, one for trades, and the
:class:`Fetcher` that runs them all with a bounded number in flight and credits the results.

Every request goes through the one client, whose token bucket paces them to the configured
tier and whose shared cool-down slows everyone after a 429. A request that still fails after the
client's retries loses only its own unit (not credited, so the next run asks again).

The candle path, for one planned request: ask the tier that serves it; if the exchange refuses
it as too large (400), ask its two halves instead (:func:`~.plan.halve_candle_request`); if the
live tier's answer lacks a market (the cutoff moved during the run), ask the archive for it.
Each step yields the follow-up requests, worked off in order by a loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.cutoff import HistoricalCutoff
from kalshi_collector.backfill.intervals import Interval
from kalshi_collector.backfill.ledger import Ledger
from kalshi_collector.backfill.progress import RunMeter
from kalshi_collector.backfill.store import trades_table_from_columns
from kalshi_collector.kalshi.models import Candlestick
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient
from kalshi_collector.storage.schemas import TS

__all__ = ["CANDLE_FETCHERS", "TRADES_PAGE_LIMIT", "Fetcher", "historical_candles", "live_candles", "trade_tables"]

log = logging.getLogger("kalshi_collector.backfill")

TRADES_PAGE_LIMIT = 1000  # the documented maximum (API.md 5.9)

CandleFetcher = Callable[[KalshiRestClient, P.CandleRequest, int], Awaitable[dict[str, list[Candlestick]]]]


async def live_candles(client: KalshiRestClient, request: P.CandleRequest, period: int) -> dict[str, list[Candlestick]]:
    """One batch call; a market the live tier no longer serves is absent from the answer."""
    start_ts, end_ts = P.candle_request_bounds(*request.hull, period)
    return await client.batch_candlesticks(request.tickers, start_ts=start_ts, end_ts=end_ts, period_interval=period)


async def historical_candles(
    client: KalshiRestClient, request: P.CandleRequest, period: int
) -> dict[str, list[Candlestick]]:
    (ticker,) = request.tickers
    start_ts, end_ts = P.candle_request_bounds(*request.hull, period)
    return {ticker: await client.historical_candlesticks(ticker, start_ts=start_ts, end_ts=end_ts, period_interval=period)}


CANDLE_FETCHERS: dict[P.Tier, CandleFetcher] = {"live": live_candles, "historical": historical_candles}


async def trade_tables(
    client: KalshiRestClient,
    unit: P.TradeUnit,
    event_ticker: str,
    trades_cutoff_ts: int | None,
    on_page: Callable[[], None],
) -> list[pa.Table]:
    """Every page of one trade walk, from the tier(s) the cutoff assigns. Pages become Arrow
    tables at once (a few bytes per trade instead of a Python object); a trade served by both
    tiers around the cutoff is dropped when the event file is merged (dedupe by ``trade_id``)."""
    assert unit.fetch is not None
    lo, hi = (pa.scalar(x * 1_000_000, pa.int64()).cast(TS) for x in unit.fetch)
    tables: list[pa.Table] = []
    for tier, (a, b) in P.trade_legs(unit.fetch, trades_cutoff_ts):
        # One second of margin each side: whether min_ts/max_ts are inclusive is not documented;
        # the exact filter keeps only [lo, hi).
        async for cols in client.iter_trade_columns(
            ticker=unit.ticker, min_ts=a - 1, max_ts=b + 1, limit=TRADES_PAGE_LIMIT, historical=tier == "historical",
        ):
            table = trades_table_from_columns(event_ticker, cols)
            t = table["timestamp"]
            table = table.filter(pc.and_(pc.greater_equal(t, lo), pc.less(t, hi)))
            if table.num_rows:
                tables.append(table)
            on_page()
    return tables


class Fetcher:
    """Runs a run's requests with at most ``concurrency`` in flight; results go to the ledger."""

    def __init__(
        self, client: KalshiRestClient, ledger: Ledger, meter: RunMeter, cutoff: HistoricalCutoff,
        *, period_minutes: int, concurrency: int,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._meter = meter
        self._cutoff = cutoff
        self._period = period_minutes
        self._sem = asyncio.Semaphore(concurrency)

    async def run(self, works: Sequence[P.MarketWork]) -> None:
        """Do every unit of ``works``; returns when all are credited or counted as failed."""
        markets = {w.market.ticker: w.market for w in works}
        pieces = [p for w in works for p in w.candles]
        units = [u for w in works for u in w.trades]
        # Ranges in which a market cannot have data are credited at once, without a request.
        for piece in pieces:
            if piece.fetch is None:
                self._ledger.candles_done(piece, [], ok=True)
        for unit in units:
            if unit.fetch is None:
                self._ledger.trades_done(unit, [], ok=True)
        jobs = [*await self._candle_jobs(pieces, markets), *await self._trade_jobs(units, markets)]
        work = [asyncio.create_task(job) for job in jobs]
        try:
            await asyncio.gather(*work)
        finally:
            for task in work:
                task.cancel()

    async def _candle_jobs(self, pieces: list[P.CandlePiece], markets: Mapping[str, P.MarketInfo]) -> list[Awaitable[None]]:
        if not any(p.fetch is not None for p in pieces):
            return []
        settled_cut = (await self._cutoff.get()).market_settled_ts
        tiers = {t: P.route_tier(m, settled_cut) for t, m in markets.items()}
        return [self._candles(r) for r in P.candle_requests(pieces, tiers, self._period)]

    async def _trade_jobs(self, units: list[P.TradeUnit], markets: Mapping[str, P.MarketInfo]) -> list[Awaitable[None]]:
        wanted = [u for u in units if u.fetch is not None]
        if not wanted:
            return []
        trades_cut = (await self._cutoff.get()).trades_created_ts
        return [self._trades(u, markets[u.ticker].event_ticker, trades_cut) for u in wanted]

    # ---- candles
    async def _candles(self, planned: P.CandleRequest) -> None:
        """One planned request and the requests it leads to, depth first."""
        todo = [planned]
        while todo:
            todo += reversed(await self._ask_candles(todo.pop()))

    async def _ask_candles(self, request: P.CandleRequest) -> list[P.CandleRequest]:
        """Ask once, credit what came back; returns the follow-up requests."""
        try:
            async with self._sem:
                got = await CANDLE_FETCHERS[request.tier](self._client, request, self._period)
                self._meter.page()
        except ApiError as exc:
            return self._candles_refused(request, exc)
        for piece in request.pieces:
            if piece.ticker in got:
                self._ledger.candles_done(piece, got[piece.ticker], ok=True)
        # Not served live any more (the cutoff moved during the run): ask the archive.
        return [P.CandleRequest("historical", (p,)) for p in request.pieces if p.ticker not in got]

    def _candles_refused(self, request: P.CandleRequest, exc: ApiError) -> list[P.CandleRequest]:
        split = P.halve_candle_request(request, self._period) if exc.status == 400 else None
        if split is None:
            what = request.tickers[0] if len(request.pieces) == 1 else f"{len(request.pieces)} markets"
            log.error("candles of %s %s failed: %s", what, _span(request.hull), exc)
            for piece in request.pieces:
                self._ledger.candles_done(piece, [], ok=False)
            return []
        log.info("candle request refused (%s); retrying as two smaller requests", exc.detail)
        self._ledger.replace_candle_pieces(request.pieces, split.pieces)
        for piece in split.empty:
            self._ledger.candles_done(piece, [], ok=True)
        return list(split.requests)

    # ---- trades
    async def _trades(self, unit: P.TradeUnit, event_ticker: str, trades_cut: int | None) -> None:
        assert unit.fetch is not None
        try:
            async with self._sem:
                tables = await trade_tables(self._client, unit, event_ticker, trades_cut, self._meter.page)
        except ApiError as exc:
            log.error("trades of %s %s failed: %s", unit.ticker, _span(unit.fetch), exc)
            self._ledger.trades_done(unit, [], ok=False)
            return
        self._ledger.trades_done(unit, tables, ok=True)


def _span(interval: Interval) -> str:
    def iso(ts: int) -> str:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return f"[{iso(interval[0])}, {iso(interval[1])})"
