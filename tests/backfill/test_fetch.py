"""The fetchers and the request loop, against the simulated exchange: each tier's candle call,
trade walks across the cutoff, a refused request asked again in halves, a market the live tier
no longer serves asked of the archive, and a failure that loses only its own unit."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from bf_helpers import RecordingClient, client

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.cutoff import HistoricalCutoff
from kalshi_collector.backfill.fetch import Fetcher, historical_candles, live_candles, trade_tables
from kalshi_collector.backfill.ledger import Ledger
from kalshi_collector.backfill.progress import NullProgress, RunMeter
from kalshi_collector.backfill.resolve import Resolver
from kalshi_collector.backfill.store import BackfillStore
from kalshi_collector.backfill.writer import Writer
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.sim import SimExchange, restdata


def _events(sim: SimExchange, *, historical: bool) -> list[str]:
    return [e["event_ticker"] for e in sim.truth.events()
            if all(m["historical"] == historical for m in sim.truth.markets(e["event_ticker"]))]


async def _markets(c: KalshiRestClient, tmp_path: Path, window: P.Window, event: str) -> list[P.MarketInfo]:
    return (await Resolver(c, BackfillStore(tmp_path), window, HistoricalCutoff(c)).resolve([event], []))[event]


async def test_each_tier_answers_its_candle_call(sim: SimExchange, tmp_path: Path) -> None:
    window = P.Window.from_dates(sim.model.today - timedelta(days=7), sim.model.today - timedelta(days=1))
    live_event, old_event = _events(sim, historical=False)[0], _events(sim, historical=True)[0]
    async with client(sim) as c:
        live = await _markets(c, tmp_path, window, live_event)
        old = await _markets(c, tmp_path, window, old_event)
        hull = (window.start, window.end)
        batch = P.CandleRequest("live", tuple(P.CandlePiece(m.ticker, hull, None) for m in live))
        got_live = await live_candles(c, batch, 60)
        got_old = await historical_candles(c, P.CandleRequest("historical", (P.CandlePiece(old[0].ticker, hull, None),)), 60)
    start_ts, end_ts = P.candle_request_bounds(*hull, 60)
    assert {t: len(v) for t, v in got_live.items()} == {
        m.ticker: len(sim.truth.candles(m.ticker, 60, start_ts, end_ts)) for m in live}
    truth_old = sim.truth.candles(old[0].ticker, 60, start_ts, end_ts, historical=True)
    assert [x.end_period_ts for x in got_old[old[0].ticker]] == [x["end_period_ts"] for x in truth_old] != []


async def test_a_trade_walk_asks_both_tiers_around_the_cutoff_and_keeps_its_range(sim: SimExchange) -> None:
    cut = int(sim.cutoff.timestamp())
    ticker = next(t["ticker"] for t in sim.truth.trades() if cut - 3600 <= t["created_ms"] // 1000 < cut)
    lo, hi = cut - 6 * 3600, cut + 6 * 3600
    pages = Counter[str]()
    async with client(sim) as c:
        tables = await trade_tables(c, P.TradeUnit(ticker, (lo, hi), (lo, hi)), "E", cut, lambda: pages.update(["page"]))
    got = sorted(i for t in tables for i in t["trade_id"].to_pylist())
    want = sorted(t["trade_id"] for t in sim.truth.trades(ticker) if lo <= t["created_ms"] / 1000 < hi)
    assert got == want and any(t["created_ms"] // 1000 >= cut for t in sim.truth.trades(ticker, lo, hi))
    assert pages["page"] >= 2  # one walk per tier


class _Run:
    """A fetcher over a real ledger, writer and store, as a run builds it."""

    def __init__(self, c: KalshiRestClient, tmp_path: Path, *, period: int) -> None:
        self.store = BackfillStore(tmp_path)
        self.meter = RunMeter(lambda: c.stats, NullProgress())
        self.writer = Writer(self.store, lambda event: self.meter.event_done())
        self.ledger = Ledger(self.writer, self.meter, period)
        self.fetcher = Fetcher(c, self.ledger, self.meter, HistoricalCutoff(c), period_minutes=period, concurrency=4)
        self.period = period

    async def candles(self, markets: list[P.MarketInfo], window: P.Window) -> list[P.MarketWork]:
        cover = (window.start, window.end)
        works = [P.market_work(m, trades_covered=[cover], candles_covered=[], trade_win=cover, candle_win=cover,
                               period_minutes=self.period) for m in markets]
        for w in works:
            self.ledger.add_event(w.market.event_ticker)
            self.ledger.add_market(w, self.store.load_checkpoint(w.market.event_ticker, w.market.ticker))
        await self.fetcher.run(works)
        await self.writer.close()
        return works


async def test_a_market_gone_from_the_live_tier_is_asked_of_the_archive(sim: SimExchange, tmp_path: Path) -> None:
    window = P.Window.from_dates(sim.model.today - timedelta(days=7), sim.model.today - timedelta(days=1))
    event = _events(sim, historical=True)[-1]
    async with client(sim, RecordingClient) as c:
        # as if listed live and not yet settled when the run began: the batch call leaves it out
        markets = [dataclasses.replace(m, tier="live", settled_ts=None)
                   for m in await _markets(c, tmp_path / "listing", window, event)]
        run = _Run(c, tmp_path, period=60)
        c.calls.clear()
        await run.candles(markets, window)
    assert [p for p, _ in c.calls] == ["/historical/cutoff", "/markets/candlesticks",
                                       *(f"/historical/markets/{m.ticker}/candlesticks" for m in markets)]
    assert run.ledger.failed() == [] and run.meter.stats.markets_done == len(markets)
    start_ts, end_ts = P.candle_request_bounds(window.start, window.end, 60)
    want = sum(len(sim.truth.candles(m.ticker, 60, start_ts, end_ts)) for m in markets)
    assert want and pq.read_table(run.store.event_file("candlesticks", event)).num_rows == want


async def test_a_refused_request_is_asked_again_in_halves(
    sim: SimExchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An archive with a smaller per-market cap than we plan for: each market's life in 1-minute
    # candles is refused and has to be cut in time, twice.
    monkeypatch.setattr(restdata, "MAX_CANDLES_PER_MARKET", 1000)
    window = P.Window.from_dates(sim.model.today - timedelta(days=7), sim.model.today - timedelta(days=1))
    event = _events(sim, historical=True)[-1]
    async with client(sim) as c:
        markets = await _markets(c, tmp_path / "listing", window, event)
        run = _Run(c, tmp_path, period=1)
        works = await run.candles(markets, window)
        refused = c.stats.http_4xx
    assert refused >= 2 * len(markets)
    assert run.ledger.failed() == [] and run.meter.stats.markets_done == len(markets)
    start_ts, end_ts = P.candle_request_bounds(window.start, window.end, 1)
    want = sum(len(sim.truth.candles(m.ticker, 1, start_ts, end_ts)) for m in markets)
    assert pq.read_table(run.store.event_file("candlesticks", event)).num_rows == want
    # and the checkpoints claim the whole window, as the unsplit pieces would have
    for w in works:
        cp = run.store.load_checkpoint(event, w.market.ticker)
        assert cp.candle_cover(1) == [(window.start, window.end)]


async def test_a_failed_request_loses_only_its_own_market(sim: SimExchange, tmp_path: Path) -> None:
    window = P.Window.from_dates(sim.model.today - timedelta(days=6), sim.model.today - timedelta(days=1))
    event = _events(sim, historical=False)[0]
    async with client(sim) as c:
        markets = await _markets(c, tmp_path / "listing", window, event)
        # one market believed archived: the archive does not know it (404), the others are fine
        wrong = dataclasses.replace(markets[0], tier="historical")
        run = _Run(c, tmp_path, period=60)
        await run.candles([wrong, *markets[1:]], window)
    assert run.ledger.failed() == [wrong.ticker]
    assert run.store.load_checkpoint(event, wrong.ticker).candle_cover(60) == []
    assert all(run.store.load_checkpoint(event, m.ticker).candle_cover(60) for m in markets[1:])
