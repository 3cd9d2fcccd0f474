"""Compaction: verified, idempotent, and safe to interrupt at every step."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from storage_helpers import DAY, ID_COLUMN, ROW_FACTORIES, data_files, us

from kalshi_collector.storage import TABLES, LiveStore, ParquetStorage
from kalshi_collector.storage.compact import CompactionError, compact_day, merged_part_names
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import MERGED_PARTS_KEY, LiveDaily, day_file, parts_dir

WRITER = Path(__file__).with_name("storage_writer.py")
NEXT = DAY + dt.timedelta(days=1)


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so no handler in the store swallows it."""


def fill_days(data_dir: Path, flushes: int = 3, per_flush: int = 40) -> None:
    """Several flushes of orderbook snapshots for DAY and NEXT, out of order inside each part."""
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        ident = 0
        for _ in range(flushes):
            for day in (DAY, NEXT):
                for i in reversed(range(per_flush)):
                    store.append("orderbook_snapshots", ROW_FACTORIES["orderbook_snapshots"](us(day, i * 10.0), ident))
                    ident += 1
            store.flush()


def read_ids(data_dir: Path, table: str = "orderbook_snapshots") -> list:
    return list(ParquetStorage(data_dir).read_parquets(table)[ID_COLUMN[table]])


def test_compaction_merges_sorts_verifies_and_deletes_parts(data_dir: Path) -> None:
    fill_days(data_dir)
    before = sorted(read_ids(data_dir))
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        written = store.compact(NEXT)
        assert store.stats["days_compacted"] == 1
    target = day_file(data_dir, "orderbook_snapshots", DAY)
    assert written == [str(target)]
    assert not parts_dir(data_dir, "orderbook_snapshots", DAY).exists()
    assert len(list(parts_dir(data_dir, "orderbook_snapshots", NEXT).iterdir())) == 3  # today: untouched
    table = pq.read_table(target)
    assert table.num_rows == 120
    keys = list(zip(*(table.column(k).to_pylist() for k in TABLES["orderbook_snapshots"].sort_keys), strict=True))
    assert keys == sorted(keys)
    meta = pq.ParquetFile(target).metadata
    assert len(json.loads(meta.metadata[MERGED_PARTS_KEY])) == 3
    assert meta.row_group(0).sorting_columns  # declared sorted, for readers that use it
    assert sorted(read_ids(data_dir)) == before


def test_compaction_is_idempotent_and_merges_late_parts(data_dir: Path) -> None:
    fill_days(data_dir, flushes=2)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert len(store.compact(NEXT)) == 1
        stamp = day_file(data_dir, "orderbook_snapshots", DAY).stat().st_mtime_ns
        assert store.compact(NEXT) == []
        assert day_file(data_dir, "orderbook_snapshots", DAY).stat().st_mtime_ns == stamp
        # a late row for a compacted day: a new part, merged into the existing day file next time
        store.append("orderbook_snapshots", ROW_FACTORIES["orderbook_snapshots"](us(DAY, 5.0), 10_000))
        store.flush()
        assert len(read_ids(data_dir)) == 161
        assert len(store.compact(NEXT)) == 1
    assert pq.read_metadata(day_file(data_dir, "orderbook_snapshots", DAY)).num_rows == 81
    ids = read_ids(data_dir)
    assert len(ids) == len(set(ids)) == 161


class CrashAt(LocalFS):
    """Dies at one step of compaction."""

    def __init__(self, step: str) -> None:
        self.step = step

    def write_parquet(self, path, table, **options):
        if self.step == "mid-write":
            tmp = Path(path).with_name(f".{Path(path).name}.deadbeef.tmp")
            tmp.write_bytes(b"PAR1 half a file")
            raise SimulatedCrash
        result = super().write_parquet(path, table, **options)
        if self.step == "after-write":
            raise SimulatedCrash
        return result

    def remove(self, paths):
        paths = list(paths)
        if self.step == "mid-remove":
            super().remove(paths[:1])
            raise SimulatedCrash
        super().remove(paths)


@pytest.mark.parametrize("step", ["mid-write", "after-write", "mid-remove"])
def test_compaction_interrupted_at_each_step_loses_and_doubles_nothing(data_dir: Path, step: str) -> None:
    fill_days(data_dir)
    expected = sorted(read_ids(data_dir))
    spec = TABLES["orderbook_snapshots"]
    with pytest.raises(SimulatedCrash):
        compact_day(CrashAt(step), data_dir, spec, DAY)
    # in between: readers see every row once (merged parts left behind are skipped by name)
    assert sorted(read_ids(data_dir)) == expected
    # a stale temp file is only data-looking garbage; compaction cleans it once it is old
    for tmp in data_dir.rglob(".*.tmp"):
        os.utime(tmp, (time.time() - 7200, time.time() - 7200))
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.compact(NEXT)
    assert sorted(read_ids(data_dir)) == expected
    assert not parts_dir(data_dir, "orderbook_snapshots", DAY).exists()
    assert not list(data_dir.rglob(".*.tmp"))
    assert pq.read_metadata(day_file(data_dir, "orderbook_snapshots", DAY)).num_rows == 120


class CorruptsBeforeVerify(LocalFS):
    def write_parquet(self, path, table, verify=None, **options):
        def corrupt_then_verify(tmp: Path) -> None:
            with open(tmp, "r+b") as fh:
                fh.truncate(os.path.getsize(tmp) // 2)
            verify(tmp)

        return super().write_parquet(path, table, verify=corrupt_then_verify, **options)


def test_a_day_file_that_does_not_read_back_replaces_nothing(data_dir: Path) -> None:
    fill_days(data_dir, flushes=1)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.compact(NEXT)  # a good day file
        store.append("orderbook_snapshots", ROW_FACTORIES["orderbook_snapshots"](us(DAY, 1.0), 500))
        store.flush()
    good = day_file(data_dir, "orderbook_snapshots", DAY).read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error for a truncated file
        compact_day(CorruptsBeforeVerify(), data_dir, TABLES["orderbook_snapshots"], DAY)
    assert day_file(data_dir, "orderbook_snapshots", DAY).read_bytes() == good
    assert len(list(parts_dir(data_dir, "orderbook_snapshots", DAY).iterdir())) == 1
    assert not list(data_dir.rglob(".*.tmp"))
    assert len(read_ids(data_dir)) == 81


def test_compaction_error_is_counted_and_parts_kept(data_dir: Path, caplog) -> None:
    fill_days(data_dir, flushes=1)
    with LiveStore(data_dir, journal_sync_interval=None, fs=CorruptsBeforeVerify()) as store:
        assert store.compact(NEXT) == []
        assert store.stats["compaction_errors"] == 1
    assert "compaction of orderbook_snapshots 2026-02-11 failed" in caplog.text
    assert len(read_ids(data_dir)) == 80


def test_row_count_check_refuses_a_short_day_file(data_dir: Path) -> None:
    fill_days(data_dir, flushes=1)
    with pytest.raises(CompactionError, match="wrote 40 rows, read back 39"):
        compact_day(_CountCheck(), data_dir, TABLES["orderbook_snapshots"], DAY)
    assert not day_file(data_dir, "orderbook_snapshots", DAY).exists()
    assert len(read_ids(data_dir)) == 80


class _CountCheck(LocalFS):
    """Writes one row fewer than asked while the verifier still expects them all."""

    def write_parquet(self, path, table, verify=None, **options):
        return super().write_parquet(path, table.slice(1), verify=verify, **options)


def test_parts_compacted_before_recovery_still_count_as_stored(data_dir: Path) -> None:
    """Crash after every part is in place but before the journal is retired; compaction runs before
    recovery does. The merged-parts list in the day file must stop recovery from replaying them."""
    proc = subprocess.run([sys.executable, str(WRITER), "crash-flush", str(data_dir), "retire", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    for spec in TABLES.values():
        for day in spec.layout.part_days(LocalFS(), data_dir):
            compact_day(LocalFS(), data_dir, spec, day)
    assert not any(LiveDaily.is_part(p) for p in data_files(data_dir))
    assert merged_part_names(LocalFS(), day_file(data_dir, "book_events", DAY))
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    for table in TABLES:
        ids = read_ids(data_dir, table)
        assert len(ids) == len(set(ids)) == (1001 if table == "book_events" else 1000)
