"""A backfill over an event whose files the original collector wrote (its schema: fewer columns,
integer prices, extra candle columns) merges into them and keeps every old row and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from bf_helpers import client, sim_today

from kalshi_collector.backfill import BackfillRequest, backfill
from kalshi_collector.sim import SimExchange

ORIGINAL_TRADES = pa.schema([("timestamp", pa.timestamp("us", tz="UTC")), ("event_ticker", pa.string()),
                             ("market_ticker", pa.string()), ("trade_id", pa.string()), ("price", pa.int64()),
                             ("count", pa.int64()), ("taker_side", pa.string())])
ORIGINAL_CANDLES = pa.schema([("timestamp", pa.timestamp("us", tz="UTC")), ("event_ticker", pa.string()),
                              ("market_ticker", pa.string()), ("open_price", pa.float64()),
                              ("close_price", pa.float64()), ("high_price", pa.float64()),
                              ("low_price", pa.float64()), ("volume", pa.int64()), ("note", pa.string())])


async def test_backfill_merges_into_the_original_collectors_files(sim: SimExchange, tmp_path: Path) -> None:
    today = sim_today(sim)
    day = today - timedelta(days=1)
    event = next(e["event_ticker"] for e in sim.truth.events()
                 if e["series_ticker"] == "KXHIGHCHI" and e["event_ticker"].endswith(f"{day:%y%b%d}".upper()))
    market = sim.truth.markets(event)[0]["ticker"]
    when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    trades_file = tmp_path / "historical" / "trades" / f"{event}.parquet"
    candles_file = tmp_path / "historical" / "candlesticks" / f"{event}.parquet"
    trades_file.parent.mkdir(parents=True)
    candles_file.parent.mkdir(parents=True)
    pq.write_table(pa.table([[when], [event], [market], ["old-trade-1"], [42], [3], ["yes"]],
                            schema=ORIGINAL_TRADES), trades_file)
    pq.write_table(pa.table([[when], [event], [market], [40.0], [44.0], [45.0], [39.0], [7], ["kept"]],
                            schema=ORIGINAL_CANDLES), candles_file)

    request = BackfillRequest(start=day, end=day, events=(event,), period_minutes=60)
    async with client(sim) as c:
        summary = await backfill(c, tmp_path, request)
    assert summary.ok and summary.trades > 0 and summary.candles > 0

    trades = pq.read_table(trades_file).to_pylist()
    old = [t for t in trades if t["trade_id"] == "old-trade-1"]
    assert len(old) == 1 and old[0]["price"] == 42.0 and old[0]["count"] == 3.0 and old[0]["no_price"] is None
    assert len(trades) == summary.trades + 1
    candles = pq.read_table(candles_file)
    assert "note" in candles.column_names  # a column of the old file is never dropped
    kept = [r for r in candles.to_pylist() if r["note"] == "kept"]
    assert len(kept) == 1 and kept[0]["open_price"] == 40.0 and kept[0]["period_minutes"] is None
    assert candles.num_rows == summary.candles + 1
