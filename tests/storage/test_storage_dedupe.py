"""trades_live keeps one row per trade_id (the first received), in every reader: parts not yet
compacted, day files, and the DuckDB view; rows without a trade id are all kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
from storage_helpers import DAY, trade_row, us

from kalshi_collector.query import run_sql
from kalshi_collector.storage import LiveStore, ParquetStorage

NEXT = DAY + dt.timedelta(days=1)


def resent(ts: int, i: int, *, sid: int, seq: int, trade_id: str | None = None) -> tuple:
    row = list(trade_row(ts, i))
    row[2] = trade_id if trade_id is not None else f"trade-{i}"
    row[10], row[11] = sid, seq
    return tuple(row)


def write_trades(data_dir: Path) -> None:
    """Trades 0-9 of DAY; 3 and 7 arrive again (7 in a later part, on another sid); two without id."""
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("trades_live", [resent(us(DAY, i), i, sid=1, seq=i) for i in range(10)])
        store.append("trades_live", resent(us(DAY, 3.5), 3, sid=1, seq=3))  # the same message twice
        store.flush()
        store.append("trades_live", resent(us(DAY, 20), 7, sid=2, seq=1))  # a second connection
        no_id = resent(us(DAY, 30), 99, sid=1, seq=50)
        store.extend("trades_live", [(*no_id[:2], None, *no_id[3:]), (*no_id[:2], None, *no_id[3:])])
        store.flush()


def test_each_trade_once_from_parts_and_from_the_day_file(data_dir: Path) -> None:
    write_trades(data_dir)
    for compacted in (False, True):
        if compacted:
            with LiveStore(data_dir, journal_sync_interval=None) as store:
                assert len(store.compact(NEXT)) == 1
            day_file = data_dir / "trades_live" / f"{DAY}.parquet"
            assert pq.read_metadata(day_file).num_rows == 12  # the repeats are not written
        df = ParquetStorage(data_dir).read_parquets("trades_live")
        ids = df["trade_id"].dropna()
        assert sorted(ids) == sorted(f"trade-{i}" for i in range(10)) and df["trade_id"].isna().sum() == 2
        seven = df[df["trade_id"] == "trade-7"].iloc[0]
        assert (seven["sid"], seven["seq"]) == (1, 7), "the first received copy is kept, with its sid/seq"
        n = run_sql(ParquetStorage(data_dir), "SELECT count(*) AS n, count(DISTINCT trade_id) AS d FROM trades_live")
        assert (n.column("n")[0].as_py(), n.column("d")[0].as_py()) == (12, 10)
