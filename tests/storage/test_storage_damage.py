"""Damaged part and day files (truncated, garbled) cost their own rows only: the reader skips each
with one warning naming it, compaction keeps a part it cannot read and never deletes it."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest
from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import LocalFS

NEXT = DAY + dt.timedelta(days=1)
TODAY = DAY + dt.timedelta(days=2)


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)


def garble(path: Path) -> None:
    """Overwrite 16 bytes in the middle of the data; the footer stays intact."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


DAMAGE = {"truncated": truncate, "garbled": garble}


def write_days(data_dir: Path) -> None:
    """market_snapshots: DAY compacted (10 rows); NEXT and TODAY as two parts of 10 rows each."""
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        factory = ROW_FACTORIES["market_snapshots"]
        store.extend("market_snapshots", [factory(us(DAY, 60.0 * i), i) for i in range(10)])
        store.flush()
        store.compact(NEXT)
        for n, day in enumerate((NEXT, TODAY), start=1):
            for half in range(2):
                store.extend("market_snapshots",
                             [factory(us(day, 60.0 * i + half), 100 * n + 10 * half + i) for i in range(10)])
                store.flush()


def parts(data_dir: Path, day: dt.date) -> list[Path]:
    return sorted((data_dir / "market_snapshots" / day.isoformat()).glob("part-*.parquet"))


def damage_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "damaged file" in r.getMessage()]


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_the_reader_skips_a_damaged_part_and_day_file_with_one_warning_each(data_dir: Path, how: str,
                                                                            caplog) -> None:
    write_days(data_dir)
    day_file = data_dir / "market_snapshots" / f"{DAY}.parquet"
    bad_part = parts(data_dir, TODAY)[0]
    DAMAGE[how](day_file)
    DAMAGE[how](bad_part)
    storage = ParquetStorage(data_dir)
    with caplog.at_level(logging.WARNING):
        assert len(storage.read_parquets("market")) == 30  # 40 minus the 10 of each damaged file
        assert len(storage.read_parquets("market", TODAY, TODAY)) == 10  # read again: no new warning
        assert len(ParquetStorage(data_dir).read_parquets("market", NEXT)) == 30
    assert sorted(storage.damage.files) == sorted([str(day_file), str(bad_part)])
    warnings = damage_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert any(str(bad_part) in w for w in warnings) and any(str(day_file) in w for w in warnings)
    assert all("quarantine" in w for w in warnings)


def test_a_day_file_with_a_damaged_footer_lets_its_leftover_parts_be_read(data_dir: Path) -> None:
    write_days(data_dir)
    truncate(data_dir / "market_snapshots" / f"{DAY}.parquet")
    storage = ParquetStorage(data_dir)
    assert len(storage.read_parquets("market", DAY, DAY)) == 0
    assert len(storage.read_parquets("orderbook")) == 0  # other tables are untouched


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_compaction_keeps_a_part_it_cannot_read_and_merges_the_rest(data_dir: Path, how: str, caplog) -> None:
    write_days(data_dir)
    bad, good = parts(data_dir, NEXT)
    DAMAGE[how](bad)
    spec = TABLES["market_snapshots"]
    with caplog.at_level(logging.ERROR):
        assert compact_day(LocalFS(), data_dir, spec, NEXT) is not None
    assert bad.exists() and not good.exists(), "the unreadable part is kept, the merged one deleted"
    assert any(str(bad) in r.getMessage() and "kept in place" in r.getMessage() for r in caplog.records)
    assert len(ParquetStorage(data_dir).read_parquets("market", NEXT, NEXT)) == 10
    # again (the hourly compaction): nothing merged twice, the damaged part still kept
    compact_day(LocalFS(), data_dir, spec, NEXT)
    assert bad.exists()
    assert len(ParquetStorage(data_dir).read_parquets("market", NEXT, NEXT)) == 10


def test_compaction_never_rewrites_a_damaged_day_file(data_dir: Path) -> None:
    write_days(data_dir)
    day_file = data_dir / "market_snapshots" / f"{DAY}.parquet"
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("market_snapshots", [ROW_FACTORIES["market_snapshots"](us(DAY, 999.0), 999)])
        store.flush()
    garble(day_file)
    damaged = day_file.read_bytes()
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.compact(TODAY)
        assert store.stats["compaction_errors"] == 1
    assert day_file.read_bytes() == damaged and len(parts(data_dir, DAY)) == 1
