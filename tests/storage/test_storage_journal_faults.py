"""The journal under a full, failing or read-only disk, through ``LiveStore``: no synced row is lost.

The same disk-full run is done twice: through the injectable file layer (every machine), and on a
real 2 MiB tmpfs mount (skipped, with the reason, where mounting is not permitted).
"""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from journal_faults import FaultyOps, FullDisk, journal_until_full
from storage_helpers import ID_COLUMN, T0, delta_row, journal_rows

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.journal import JournalOptions

WRITER = Path(__file__).with_name("storage_writer.py")
SEGMENT = 64 * 1024


def stored_seqs(data_dir: Path) -> list[int]:
    seqs = ParquetStorage(data_dir).read_parquets("orderbook_deltas")[ID_COLUMN["orderbook_deltas"]]
    assert not seqs.duplicated().any(), "rows stored twice"
    return sorted(seqs)


def run_full_disk(data_dir: Path, kind: str) -> dict:
    proc = subprocess.run([sys.executable, str(WRITER), "full-disk", str(data_dir), kind],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads(proc.stdout.splitlines()[-1])
    assert run["write_errors"] > 0, "the part files should have failed"
    # it kept journaling well past the moment the disk filled up: the reserve is about one segment
    assert run["promised"] - 300 > 700, run
    assert "no room for" in proc.stderr and "free disk space" in proc.stderr
    return run


def recover(data_dir: Path) -> None:
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.recover()
        assert store.buffered_rows == 0 and store.stats["damaged_journal_bytes"] == 0


def test_a_full_disk_loses_no_synced_row_across_a_kill(data_dir: Path) -> None:
    run = run_full_disk(data_dir, "injected")
    recover(data_dir)
    assert stored_seqs(data_dir) == list(range(run["promised"]))


@pytest.fixture()
def small_disk(tmp_path: Path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}); "
                    "test_a_full_disk_loses_no_synced_row_across_a_kill covers the same through the file layer")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_real_full_disk_loses_no_synced_row_across_a_kill(small_disk: Path) -> None:
    run = run_full_disk(small_disk, "real")
    (small_disk / "filler").unlink()  # the operator frees space, then restarts
    recover(small_disk)
    assert stored_seqs(small_disk) == list(range(run["promised"]))


def test_when_space_is_freed_the_rows_kept_in_memory_are_journaled_and_stored(data_dir: Path) -> None:
    disk = FullDisk()
    store = LiveStore(data_dir, journal_sync_interval=None, fs=disk.parts(),
                      journal_options=JournalOptions(segment_bytes=SEGMENT, ops=disk))
    run = journal_until_full(store, lambda: setattr(disk, "full", True))
    assert store.unsynced_rows == run.appended - run.promised > 0
    assert store.stats["journal_reserve_bytes"] < 2 * SEGMENT
    disk.full = False
    store.sync()
    assert store.unsynced_rows == 0
    assert store.flush()["orderbook_deltas"] == run.appended - 300
    store.close()
    assert stored_seqs(data_dir) == list(range(run.appended))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO, errno.EROFS])
def test_a_failed_sync_keeps_its_rows_for_the_next_one_and_journals_them_once(data_dir: Path, code: int) -> None:
    ops = FaultyOps()
    store = LiveStore(data_dir, journal_sync_interval=None, journal_options=JournalOptions(ops=ops))
    store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(50)])
    store.sync()
    ops.arm("pwrite", code, partial=True)
    store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(50, 120)])
    store.sync()
    assert store.stats["journal_errors"] == 1 and store.unsynced_rows == 70
    store.sync()
    assert store.unsynced_rows == 0
    assert sorted(row[3] for row in journal_rows(data_dir / "_journal")["orderbook_deltas"]) == list(range(120))
    store.close()
    assert stored_seqs(data_dir) == list(range(120))


def test_a_journal_turned_read_only_keeps_the_rows_in_memory(data_dir: Path) -> None:
    ops = FaultyOps()
    store = LiveStore(data_dir, journal_sync_interval=None, journal_options=JournalOptions(ops=ops))
    for op in ("pwrite", "fdatasync", "ftruncate", "rename", "open", "fallocate", "unlink"):
        ops.arm(op, errno.EROFS, times=1000)
    store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(10)])
    store.sync()
    store.flush()  # parts are written (another disk, in effect), but no new segment can be made
    assert store.stats["journal_errors"] >= 1 and store.buffered_rows == 10
    ops.faults.clear()
    store.close()
    assert stored_seqs(data_dir) == list(range(10))


def test_a_journal_failing_at_every_sync_logs_once_then_once_when_it_works_again(data_dir: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    ops = FaultyOps()
    store = LiveStore(data_dir, journal_sync_interval=None, journal_options=JournalOptions(ops=ops))
    ops.arm("pwrite", errno.EIO, times=1000)
    for i in range(40):
        store.append("orderbook_deltas", delta_row(T0 + i, i))
        store.sync()
    errors = store.stats["journal_errors"]
    assert errors == 40
    ops.faults.clear()
    store.sync()
    failures = [r for r in caplog.records if "journal write failed" in r.getMessage()]
    assert len(failures) == 1
    assert len([r for r in caplog.records if "cannot be undone" in r.getMessage()]) == 1
    assert any("journal writes work again" in r.getMessage() and f"after {errors - 1} more failures" in r.getMessage()
               for r in caplog.records)
    store.close()
    assert stored_seqs(data_dir) == list(range(40))
