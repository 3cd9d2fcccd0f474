"""The files of a backfill: dedupe on merge, every crash point between a part, a checkpoint and
the event file, damaged checkpoints, the folder lock."""

from __future__ import annotations

import logging
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bf_helpers import assert_same_files, client, event_files, leftovers, window_request

from kalshi_collector.backfill import backfill
from kalshi_collector.backfill.store import (
    TRADES_SCHEMA,
    BackfillLocked,
    BackfillStore,
    MarketCheckpoint,
    merge_tables,
    trades_table,
)
from kalshi_collector.kalshi.models import Trade
from kalshi_collector.sim import SimExchange


def _trade(trade_id: str, ticker: str, second: int, price: float = 29.0) -> Trade:
    return Trade(
        trade_id=trade_id, ticker=ticker, count=1.5, yes_price=price, no_price=100 - price,
        created_time=datetime.fromtimestamp(1_770_000_000 + second, UTC), taker_side="yes",
        taker_book_side="bid", is_block_trade=False,
    )


def test_merge_keeps_the_latest_row_per_key_and_sorts() -> None:
    old = trades_table("E", [_trade("b", "E-M2", 5, 10.0), _trade("a", "E-M1", 9, 10.0)])
    new = trades_table("E", [_trade("b", "E-M2", 5, 11.0), _trade("c", "E-M1", 1)])
    merged = merge_tables([old, new], TRADES_SCHEMA, ("trade_id",), ("market_ticker", "timestamp", "trade_id"))
    assert merged["trade_id"].to_pylist() == ["c", "a", "b"]
    assert merged["price"].to_pylist() == [29.0, 10.0, 11.0]
    assert merged.schema == TRADES_SCHEMA
    assert merge_tables([], TRADES_SCHEMA, ("trade_id",), ("trade_id",)).num_rows == 0


def test_merge_sorts_exactly_as_a_plain_sort_by_the_keys() -> None:
    """The ranked sort (string keys as integer ranks) orders rows as Arrow's sort of the strings
    themselves: byte order, nulls last, ties in input order; candles' three keys too."""
    rng = random.Random(7)
    for _ in range(20):
        rows = [_trade(f"t{rng.randrange(400)}", rng.choice(["E-B10", "E-B9", "E-A", "E-\u00e9"]), rng.randrange(30))
                for _ in range(rng.randrange(1, 300))]
        tables = [trades_table("E", rows[i::3]) for i in range(3)]
        tables[0] = tables[0].set_column(2, "market_ticker", pa.array(
            [None if i % 7 == 0 else t for i, t in enumerate(tables[0]["market_ticker"].to_pylist())], pa.string()))
        merged = merge_tables(tables, TRADES_SCHEMA, ("trade_id",), ("market_ticker", "timestamp", "trade_id"))
        plain = merged.sort_by([(c, "ascending") for c in ("market_ticker", "timestamp", "trade_id")])
        assert merged.equals(plain)
        assert sorted(merged["trade_id"].to_pylist()) == sorted({t.trade_id for t in rows})


def test_assembly_interrupted_before_parts_were_deleted_adds_nothing_twice(tmp_path: Path) -> None:
    store = BackfillStore(tmp_path)
    cp = MarketCheckpoint(market_ticker="E-M1", event_ticker="E", trades=[(0, 10)])
    store.commit(cp, trades=trades_table("E", [_trade("a", "E-M1", 1), _trade("b", "E-M1", 2)]))
    # the same rows fetched again (the checkpoint was lost) and a third one
    store.commit(cp, trades=trades_table("E", [_trade("b", "E-M1", 2), _trade("c", "E-M1", 3)]))
    parts = sorted((tmp_path / "historical/_backfill/E/parts").glob("*.parquet"))
    saved = [p.read_bytes() for p in parts]
    assert store.assemble("E") == {"trades": 3}
    first = pq.read_table(store.event_file("trades", "E"))
    assert first["trade_id"].to_pylist() == ["a", "b", "c"]
    # crash after the event file was renamed, before the parts were deleted: they come back
    for p, data in zip(parts, saved, strict=True):
        p.write_bytes(data)
    (tmp_path / "historical/trades/.E.parquet.deadbeef.tmp").write_bytes(b"half a file")
    assert store.has_parts("E")
    assert store.assemble("E") == {"trades": 3}
    assert pq.read_table(store.event_file("trades", "E")).equals(first)
    assert not store.has_parts("E") and leftovers(tmp_path) == []


def test_damaged_checkpoint_means_fetch_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = BackfillStore(tmp_path)
    store.commit(MarketCheckpoint(market_ticker="E-M1", event_ticker="E", trades=[(0, 10)]))
    assert store.load_checkpoint("E", "E-M1").trades == [(0, 10)]
    (tmp_path / "historical/_backfill/E/E-M1.json").write_text('{"version": 1, "market_tic')
    with caplog.at_level(logging.WARNING):
        assert store.load_checkpoint("E", "E-M1").trades == []
    assert "fetched again" in caplog.text


def test_one_backfill_per_data_folder(tmp_path: Path) -> None:
    store = BackfillStore(tmp_path)
    with store.lock():
        with pytest.raises(BackfillLocked, match="another backfill is running"):
            with BackfillStore(tmp_path).lock():
                pass
    with store.lock():  # released
        pass


async def test_lost_checkpoints_and_event_files_rebuild_identically(sim: SimExchange, tmp_path: Path) -> None:
    """Crash points of a market commit: rows staged but the checkpoint not written (the range is
    fetched again, duplicates dropped), or an event file never assembled."""
    request = window_request(sim)
    async with client(sim) as c:
        await backfill(c, tmp_path / "clean", request)
    shutil.copytree(tmp_path / "clean", tmp_path / "crashed")
    work = tmp_path / "crashed" / "historical" / "_backfill"
    lost = sorted(p for p in work.glob("*/*.json") if p.name != "manifest.json")[::5]
    for p in lost:
        p.unlink()
    gone = sorted((tmp_path / "crashed" / "historical" / "trades").glob("*.parquet"))[0]
    gone.unlink()
    (work / gone.stem).joinpath("parts").mkdir(parents=True, exist_ok=True)
    # the event file's rows were still staged when the crash happened
    pq.write_table(pq.read_table(tmp_path / "clean" / "historical" / "trades" / gone.name),
                   work / gone.stem / "parts" / "trades-00000000000000000001-00000000.parquet")
    async with client(sim) as c:
        summary = await backfill(c, tmp_path / "crashed", request)
    assert summary.markets_fetched == len(lost)
    assert_same_files(tmp_path / "clean", tmp_path / "crashed")
    assert sorted(event_files(tmp_path / "crashed")) == sorted(event_files(tmp_path / "clean"))


def test_trades_table_types() -> None:
    table = trades_table("E", [_trade("a", "E-M1", 1)])
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.to_pylist()[0] == {
        "timestamp": datetime.fromtimestamp(1_770_000_001, UTC), "event_ticker": "E", "market_ticker": "E-M1",
        "trade_id": "a", "price": 29.0, "count": 1.5, "taker_side": "yes", "no_price": 71.0,
        "taker_book_side": "bid", "is_block_trade": False,
    }
