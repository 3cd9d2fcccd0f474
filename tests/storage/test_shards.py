"""Several collectors (shards) sharing one data folder: each compacts only its own files, every
reader (our reader, ``status``, the documented DuckDB one-liner) sees one dataset."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.cli import main as cli_main
from kalshi_collector.storage import TABLES, LiveStore, ParquetStorage
from kalshi_collector.storage.compact import compact_day, merged_part_names
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import parse_day_file

TODAY = DAY + dt.timedelta(days=1)
SPEC = TABLES["market_snapshots"]
make = ROW_FACTORIES["market_snapshots"]


def write(data: Path, cid: str, first: int, count: int) -> None:
    with LiveStore(data, cid, journal_sync_interval=None) as store:
        store.extend("market_snapshots", [make(us(DAY, 60.0 * (first + i)), first + i) for i in range(count)])
        store.flush()


def files(data: Path) -> list[str]:
    return sorted(p.relative_to(data / "market_snapshots").as_posix()
                  for p in (data / "market_snapshots").rglob("*.parquet"))


def test_each_shard_compacts_its_own_parts_into_its_own_day_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write(data, "c0", 0, 10)
    write(data, "east", 100, 7)
    with LiveStore(data, "east", journal_sync_interval=None) as east:
        assert east.compact(TODAY) == [str(data / "market_snapshots" / f"{DAY}.east.parquet")]
    left = files(data)
    assert f"{DAY}.east.parquet" in left and any(name.startswith(f"{DAY}/part-c0-") for name in left)
    assert len(ParquetStorage(data).read_parquets("market")) == 17  # east's day file + c0's parts
    with LiveStore(data, "c0", journal_sync_interval=None) as c0:
        assert c0.compact(TODAY) == [str(data / "market_snapshots" / f"{DAY}.parquet")]
    assert files(data) == [f"{DAY}.east.parquet", f"{DAY}.parquet"]
    assert len(ParquetStorage(data).read_parquets("market")) == 17


def test_status_and_duckdb_see_the_union(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    duckdb = pytest.importorskip("duckdb")
    data = tmp_path / "data"
    write(data, "c0", 0, 10)
    write(data, "west", 50, 5)
    with LiveStore(data, "west", journal_sync_interval=None) as west:
        west.compact(TODAY)
    assert cli_main(["status", "--data-dir", str(data), "--config", str(tmp_path / "none.yaml"), "--json"]) == 0
    rows = {t["table"]: t["rows"] for t in json.loads(capsys.readouterr().out)["tables"]}
    assert rows["market_snapshots"] == 15
    monkeypatch.chdir(tmp_path)
    n = duckdb.sql("SELECT count(*) FROM read_parquet('data/market_snapshots/**/*.parquet', union_by_name=true)")
    assert n.fetchall()[0][0] == 15


def test_parts_an_earlier_version_merged_into_the_default_day_file_are_not_merged_twice(tmp_path: Path) -> None:
    # Earlier versions let the smallest id compact every collector's parts into YYYY-MM-DD.parquet.
    data = tmp_path / "data"
    write(data, "c0", 0, 4)
    write(data, "east", 100, 3)
    east_parts = [p.name for p in SPEC.layout.parts(LocalFS(), data, DAY) if "-east-" in p.name]
    all_parts = SPEC.layout.parts(LocalFS(), data, DAY)
    _legacy_merge_all(data, all_parts)
    # an interrupted old compaction left east's part behind: east must delete it, not merge it again
    assert compact_day(LocalFS(), data, SPEC, DAY, "east") is None
    assert not (data / "market_snapshots" / f"{DAY}.east.parquet").exists()
    assert set(east_parts) <= merged_part_names(LocalFS(), SPEC.layout.day_file(data, DAY))
    assert len(ParquetStorage(data).read_parquets("market")) == 7


def _legacy_merge_all(data: Path, parts: list) -> None:
    """What an earlier version wrote: one day file holding every collector's parts, which stay
    on disk as if its run were cut short before deleting them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kalshi_collector.storage.layout import MERGED_PARTS_KEY

    table = pa.concat_tables([pq.read_table(p) for p in parts])
    table = table.replace_schema_metadata({MERGED_PARTS_KEY: json.dumps(sorted(p.name for p in parts)).encode()})
    pq.write_table(table, SPEC.layout.day_file(data, DAY))


def test_day_file_names() -> None:
    assert parse_day_file("2026-02-11.parquet") == (DAY, "c0")
    assert parse_day_file("2026-02-11.east_2.parquet") == (DAY, "east_2")
    assert parse_day_file("2026-02-11.parquet.tmp") is None
    assert parse_day_file("part-c0-1-2-3.parquet") is None
    assert SPEC.layout.day_file(Path("d"), DAY, "east") == Path("d/market_snapshots/2026-02-11.east.parquet")
