"""The one-liners docs/schemas.md gives for plain tools read today's rows as soon as they are flushed.

Each test runs the documented line verbatim (from the folder that holds ``data/``) over a folder a
real :class:`LiveStore` wrote: a compacted yesterday, today's parts of two flushes, and the
temporary files a writer leaves while it writes. Spark is documented but not installed here, so its
line is not run (the docs say so).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.storage import TABLES, LiveStore, ParquetStorage
from kalshi_collector.storage.layout import MERGED_PARTS_KEY

TODAY = DAY + dt.timedelta(days=1)
YESTERDAY_ROWS, TODAY_ROWS = 40, 25
TOTAL = YESTERDAY_ROWS + TODAY_ROWS


@pytest.fixture()
def live_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``data/market_snapshots``: yesterday compacted, today in parts; the cwd is its parent."""
    data = tmp_path / "data"
    make = ROW_FACTORIES["market_snapshots"]
    with LiveStore(data, journal_sync_interval=None) as store:
        store.extend("market_snapshots", [make(us(DAY, 60.0 * i), i) for i in range(YESTERDAY_ROWS)])
        store.extend("market_snapshots", [make(us(TODAY, 60.0 * i), 1000 + i) for i in range(10)])
        store.flush()
        assert store.compact(TODAY) == [str(TABLES["market_snapshots"].layout.day_file(data, DAY))]
        store.extend("market_snapshots", [make(us(TODAY, 600.0 + 60.0 * i), 1010 + i) for i in range(15)])
        store.flush()  # today: two parts, not compacted
    folder = data / "market_snapshots"
    # a writer caught mid-write: temporary files beside the day file and among today's parts
    (folder / ".2026-02-12.parquet.0a1b2c3d.tmp").write_bytes(b"half a file")
    (folder / TODAY.isoformat() / ".part-c0-1-2-9.parquet.0a1b2c3d.tmp").write_bytes(b"half a file")
    monkeypatch.chdir(tmp_path)
    return folder


def check(volumes: list[float]) -> None:
    assert len(volumes) == TOTAL
    assert len(set(volumes)) == TOTAL  # no row twice
    assert sum(v >= 2200.0 for v in volumes) == TODAY_ROWS  # today's rows (volume 1200 + 1000 + i)


def test_the_folder_holds_a_day_file_and_todays_parts(live_folder: Path) -> None:
    assert sorted(p.relative_to(live_folder).as_posix() for p in live_folder.rglob("*.parquet"))[0] == \
        "2026-02-11.parquet"
    assert len(list((live_folder / TODAY.isoformat()).glob("part-*.parquet"))) == 2


def test_pandas(live_folder: Path) -> None:
    import pandas as pd

    df = pd.read_parquet("data/market_snapshots")
    check(list(df["volume"]))


def test_pyarrow(live_folder: Path) -> None:
    table = pq.read_table("data/market_snapshots")
    check(table.column("volume").to_pylist())


def test_duckdb(live_folder: Path) -> None:
    import duckdb

    rel = duckdb.sql("SELECT * FROM read_parquet('data/market_snapshots/**/*.parquet', union_by_name=true)")
    check([row[0] for row in rel.select("volume").fetchall()])


def test_polars(live_folder: Path) -> None:
    import polars as pl

    df = pl.read_parquet("data/market_snapshots/**/*.parquet")
    check(df["volume"].to_list())
    lazy = pl.scan_parquet("data/market_snapshots/**/*.parquet").select("volume").collect()
    check(lazy["volume"].to_list())


def test_during_the_compaction_window_plain_tools_see_a_day_twice_and_our_reader_does_not(live_folder: Path) -> None:
    """What docs/schemas.md says: a compaction that stopped after writing its day file but before
    deleting the parts leaves parts that a glob reads twice until the next compaction deletes them."""
    import duckdb

    day_file = live_folder / f"{DAY.isoformat()}.parquet"
    merged = json.loads(pq.read_schema(day_file).metadata[MERGED_PARTS_KEY])
    leftover = live_folder / DAY.isoformat() / merged[0]
    leftover.parent.mkdir()
    shutil.copy(day_file, leftover)
    glob = duckdb.sql("SELECT count(*) FROM read_parquet('data/market_snapshots/**/*.parquet', union_by_name=true)")
    assert glob.fetchall()[0][0] == TOTAL + YESTERDAY_ROWS
    assert len(ParquetStorage(live_folder.parent).read_parquets("market")) == TOTAL
    with LiveStore(live_folder.parent, journal_sync_interval=None) as store:
        store.compact(TODAY)  # the next compaction deletes what the interrupted one left
    assert not leftover.exists()
    check([row[0] for row in duckdb.sql(
        "SELECT volume FROM read_parquet('data/market_snapshots/**/*.parquet', union_by_name=true)").fetchall()])
