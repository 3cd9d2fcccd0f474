"""Stopping on a full disk: the store waits a bounded time for space, then leaves every row journaled,
says where in one line, and the next start's recovery stores them (row counts read back)."""

from __future__ import annotations

import threading
from pathlib import Path

from journal_faults import FullDisk
from storage_helpers import T0, delta_row

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.journal import JournalOptions

SEGMENT = 256 * 1024


def store_on(disk: FullDisk, data_dir: Path) -> LiveStore:
    return LiveStore(data_dir, journal_sync_interval=None, fs=disk.parts(),
                     journal_options=JournalOptions(segment_bytes=SEGMENT, ops=disk))


def append(store: LiveStore, start: int, count: int) -> None:
    store.extend("orderbook_deltas", [delta_row(T0 + i * 1000, i) for i in range(start, start + count)])


def stored_seqs(data_dir: Path) -> list[int]:
    return sorted(ParquetStorage(data_dir).read_parquets("orderbook_deltas")["seq"])


def test_stop_on_a_full_disk_journals_every_row_and_the_restart_stores_them(data_dir: Path, caplog) -> None:
    disk = FullDisk()
    store = store_on(disk, data_dir)
    append(store, 0, 300)
    assert store.flush() == {"orderbook_deltas": 300}
    disk.full = True
    append(store, 300, 2000)  # never synced before the stop: the stop journals them
    report = store.close(wait_for_space_seconds=0.3)
    assert (report.rows_left, report.rows_unjournaled) == (2000, 0)
    assert report.waited_seconds >= 0.3
    line = report.message()
    assert "\n" not in line and str(data_dir / "_journal") in line and "free disk space" in line
    assert "start the collector again" in line and "No space left" in line
    assert [r.message for r in caplog.records if r.levelname == "ERROR" and "closing" in r.message] == [
        f"closing: {line}"]
    assert stored_seqs(data_dir) == list(range(300))

    disk.full = False  # the operator frees space and starts again
    with LiveStore(data_dir, journal_sync_interval=None) as again:
        assert again.recover() == {**dict.fromkeys(again.stats["rows_written"], 0), "orderbook_deltas": 2000}
    assert stored_seqs(data_dir) == list(range(2300))


def test_space_freed_while_stopping_stores_everything_before_exit(data_dir: Path) -> None:
    disk = FullDisk()
    store = store_on(disk, data_dir)
    disk.full = True
    append(store, 0, 500)
    threading.Timer(0.4, setattr, (disk, "full", False)).start()
    report = store.close(wait_for_space_seconds=10)
    assert report.clean and report.message() == ""
    assert 0.4 <= report.waited_seconds < 5
    assert stored_seqs(data_dir) == list(range(500))


def test_no_wait_after_a_clean_flush(data_dir: Path) -> None:
    store = LiveStore(data_dir, journal_sync_interval=None)
    append(store, 0, 10)
    report = store.close(wait_for_space_seconds=30)
    assert report.clean and report.waited_seconds == 0.0
    assert stored_seqs(data_dir) == list(range(10))
