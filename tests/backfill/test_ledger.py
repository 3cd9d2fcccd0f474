"""The run's bookkeeping: a market is written when its last unit is done (or enough rows are
buffered), a failed unit is not credited, an event is merged after its last market."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from kalshi_collector.backfill import ledger as L
from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.ledger import Ledger
from kalshi_collector.backfill.progress import NullProgress, RunMeter
from kalshi_collector.backfill.store import BackfillStore, MarketCheckpoint, trades_table
from kalshi_collector.backfill.writer import Writer
from kalshi_collector.httpclient import HttpStats
from kalshi_collector.kalshi.models import Candlestick, Trade

HOUR = 3600
T0 = 1_770_681_600  # 2026-02-10T00:00:00Z


def _market(ticker: str, event: str = "E") -> P.MarketInfo:
    return P.MarketInfo(ticker, event, "live", "finalized", T0, T0 + 10 * HOUR)


def _trades(ticker: str, seconds: list[int]):  # type: ignore[no-untyped-def]
    return trades_table("E", [
        Trade(trade_id=f"{ticker}-{s}", ticker=ticker, count=1.0, yes_price=40.0, no_price=60.0,
              created_time=datetime.fromtimestamp(T0 + s, UTC), taker_side="yes", taker_book_side="bid",
              is_block_trade=False)
        for s in seconds
    ])


def _candle(end_ts: int) -> Candlestick:
    p = 50.0
    return Candlestick(end_period_ts=end_ts, open_price=p, high_price=p, low_price=p, close_price=p, mean_price=p,
                       previous_price=p, yes_bid_open=p, yes_bid_high=p, yes_bid_low=p, yes_bid_close=p,
                       yes_ask_open=p, yes_ask_high=p, yes_ask_low=p, yes_ask_close=p, volume=1.0, open_interest=1.0)


class _Run:
    """A ledger over a real writer and store, as a run builds it."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = BackfillStore(tmp_path)
        self.meter = RunMeter(HttpStats, NullProgress())
        self.writer = Writer(self.store, lambda event: self.meter.event_done())
        self.ledger = Ledger(self.writer, self.meter, 60)

    def add(self, market: P.MarketInfo, trades: list[P.TradeUnit], candles: list[P.CandlePiece]) -> None:
        self.ledger.add_event(market.event_ticker)
        cp = self.store.load_checkpoint(market.event_ticker, market.ticker)
        self.ledger.add_market(P.MarketWork(market, tuple(trades), tuple(candles)), cp)

    def checkpoint(self, ticker: str) -> MarketCheckpoint:
        path = self.store.work / "E" / f"{ticker}.json"
        return msgspec.json.decode(path.read_bytes(), type=MarketCheckpoint)


def _units() -> tuple[P.TradeUnit, P.TradeUnit, P.CandlePiece]:
    asked = P.TradeUnit("E-M1", (T0, T0 + HOUR), (T0, T0 + HOUR))
    credited = P.TradeUnit("E-M1", (T0 + HOUR, T0 + 2 * HOUR), None)  # outside the market's life
    return asked, credited, P.CandlePiece("E-M2", (T0, T0 + 3 * HOUR), None)


async def test_nothing_is_written_while_a_unit_is_owed(tmp_path: Path) -> None:
    run = _Run(tmp_path)
    asked, credited, piece = _units()
    run.add(_market("E-M1"), [asked, credited], [])
    run.add(_market("E-M2"), [], [piece])
    assert (run.ledger.markets, run.ledger.markets_asked) == (2, 2)
    run.ledger.trades_done(asked, [_trades("E-M1", [5, 6])], ok=True)
    await run.writer.close()
    assert not (run.store.work / "E" / "E-M1.json").exists()
    assert run.meter.stats.markets_done == 0


async def test_a_market_is_written_when_its_last_unit_is_done_and_the_event_after_its_last_market(
    tmp_path: Path,
) -> None:
    run = _Run(tmp_path)
    asked, credited, piece = _units()
    run.add(_market("E-M1"), [asked, credited], [])
    run.add(_market("E-M2"), [], [piece])
    run.ledger.trades_done(asked, [_trades("E-M1", [5, 6])], ok=True)
    run.ledger.trades_done(credited, [], ok=True)
    # candles are kept by their period's start: the one ending at T0 belongs to the day before
    run.ledger.candles_done(piece, [_candle(T0), _candle(T0 + HOUR), _candle(T0 + 3 * HOUR)], ok=True)
    await run.writer.close()
    assert run.checkpoint("E-M1").trades == [(T0, T0 + 2 * HOUR)]
    assert run.checkpoint("E-M2").candle_cover(60) == [(T0, T0 + 3 * HOUR)]
    assert pq.read_table(run.store.event_file("trades", "E")).num_rows == 2
    assert pq.read_table(run.store.event_file("candlesticks", "E")).num_rows == 2
    s = run.meter.stats
    assert (s.markets_done, s.markets_failed, s.events_done, s.trades, s.candles) == (2, 0, 1, 2, 2)


async def test_a_failed_unit_is_not_credited(tmp_path: Path) -> None:
    run = _Run(tmp_path)
    ok, bad = P.TradeUnit("E-M1", (T0, T0 + HOUR), (T0, T0 + HOUR)), P.TradeUnit("E-M1", (T0 + HOUR, T0 + 2 * HOUR),
                                                                                   (T0 + HOUR, T0 + 2 * HOUR))
    run.add(_market("E-M1"), [ok, bad], [])
    run.ledger.trades_done(ok, [_trades("E-M1", [1])], ok=True)
    run.ledger.trades_done(bad, [], ok=False)
    await run.writer.close()
    assert run.ledger.failed() == ["E-M1"] and run.meter.stats.markets_failed == 1
    assert run.checkpoint("E-M1").trades == [(T0, T0 + HOUR)]


async def test_rows_are_staged_early_once_enough_are_buffered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "FLUSH_ROWS", 3)
    run = _Run(tmp_path)
    units = [P.TradeUnit("E-M1", (T0 + i * HOUR, T0 + (i + 1) * HOUR), (T0 + i * HOUR, T0 + (i + 1) * HOUR))
             for i in range(3)]
    run.add(_market("E-M1"), units, [])
    run.ledger.trades_done(units[0], [_trades("E-M1", [1, 2, 3])], ok=True)
    await run.writer.close()
    assert run.checkpoint("E-M1").trades == [(T0, T0 + HOUR)]  # the market is not done, its rows are safe
    assert not run.store.event_file("trades", "E").exists()


async def test_cut_pieces_are_owed_one_by_one_and_interruption_keeps_completed_units(tmp_path: Path) -> None:
    run = _Run(tmp_path)
    piece = P.CandlePiece("E-M1", (T0, T0 + 4 * HOUR), None)
    run.add(_market("E-M1"), [], [piece])
    halves = (P.CandlePiece("E-M1", (T0, T0 + 2 * HOUR), None), P.CandlePiece("E-M1", (T0 + 2 * HOUR, T0 + 4 * HOUR), None))
    run.ledger.replace_candle_pieces([piece], halves)
    run.ledger.candles_done(halves[0], [_candle(T0 + HOUR)], ok=True)
    assert run.meter.stats.markets_done == 0  # the second half is still owed
    run.ledger.flush_all()  # Ctrl-C here
    await run.writer.close()
    assert run.checkpoint("E-M1").candle_cover(60) == [(T0, T0 + 2 * HOUR)]
    assert run.ledger.idle_events() == []
