"""Real process deaths (SIGKILL) at every interesting moment; recovery must store each row once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from storage_helpers import ID_COLUMN, ROW_FACTORIES, data_files

from kalshi_collector.storage import LiveStore, ParquetStorage

WRITER = Path(__file__).with_name("storage_writer.py")


def run_writer(*args: str, check_killed: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(WRITER), *args], capture_output=True, text=True, timeout=60)
    if check_killed:
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
    return proc


def assert_exactly_once(data_dir: Path, expected: dict[str, int]) -> None:
    storage = ParquetStorage(data_dir)
    for table, count in expected.items():
        ids = storage.read_parquets(table)[ID_COLUMN[table]]
        assert not ids.duplicated().any(), f"{table}: duplicated rows"
        assert len(ids) == count, f"{table}: {len(ids)} rows, expected {count}"


def assert_clean_files(data_dir: Path) -> None:
    for path in data_files(data_dir):
        assert not path.name.startswith("."), path
        pq.read_table(path)  # every parquet file is whole


def test_kill_9_mid_run_loses_no_synced_row_and_duplicates_none(data_dir: Path) -> None:
    proc = subprocess.Popen([sys.executable, str(WRITER), "stream", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    promised = 0
    try:
        deadline = time.monotonic() + 30
        # let it run through several flushes, then kill it at an arbitrary moment
        while promised < 6000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("synced "):
                promised = int(line.split()[1])
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    for line in rest.splitlines():
        if line.startswith("synced "):
            promised = int(line.split()[1])
    assert promised >= 6000, err
    assert proc.returncode == -signal.SIGKILL

    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.recover()
    assert_clean_files(data_dir)
    storage = ParquetStorage(data_dir)
    for table in ("orderbook_deltas", "book_events"):
        ids = storage.read_parquets(table)[ID_COLUMN[table]]
        assert not ids.duplicated().any(), table
        assert set(range(promised)) <= set(ids), f"{table}: synced rows lost"
        assert set(ids) == set(range(len(ids))), f"{table}: a gap"  # anything beyond is a synced-but-unreported prefix


def test_recovering_twice_changes_nothing(data_dir: Path) -> None:
    run_writer("crash-flush", str(data_dir), "before-write", "1", check_killed=True)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        first = store.recover()
    assert first == {"market_snapshots": 1000, "orderbook_snapshots": 1000, "orderbook_deltas": 1000,
                     "trades_live": 1000, "book_events": 1001, "rejects": 1000, "raw_ws": 1000, "raw_rest": 1000}
    files = data_files(data_dir)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    assert data_files(data_dir) == files
    assert_exactly_once(data_dir, {t: 1001 if t == "book_events" else 1000 for t in ROW_FACTORIES})


# One flush of this writer writes 6 parts (book_events spans two days), then retires the journal.
FLUSH_CRASH_POINTS = [("before-write", k) for k in (1, 3, 6)] + [("after-write", k) for k in (1, 2, 5, 6)] + [
    ("retire", 1)
]


@pytest.mark.parametrize(("point", "k"), FLUSH_CRASH_POINTS)
def test_kill_during_flush_then_recover_stores_every_row_once(data_dir: Path, point: str, k: int) -> None:
    run_writer("crash-flush", str(data_dir), point, str(k), check_killed=True)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        recovered = store.recover()
        assert store.stats["write_errors"] == 0
    assert_clean_files(data_dir)
    assert_exactly_once(data_dir, {t: 1001 if t == "book_events" else 1000 for t in ROW_FACTORIES})
    if point == "retire":
        assert sum(recovered.values()) == 0  # every part was in place: nothing to replay
    assert not list((data_dir / "_journal").glob("*.wal"))[1:], "old segments retired"


@pytest.mark.parametrize(("point", "k"), [("before-write", 2), ("after-write", 1), ("after-write", 3), ("retire", 1)])
def test_kill_during_recovery_then_recover_again_stores_every_row_once(data_dir: Path, point: str, k: int) -> None:
    run_writer("crash-flush", str(data_dir), "after-write", "3", check_killed=True)
    run_writer("crash-recover", str(data_dir), point, str(k), check_killed=True)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.recover()
    assert_clean_files(data_dir)
    assert_exactly_once(data_dir, {t: 1001 if t == "book_events" else 1000 for t in ROW_FACTORIES})


# With Arrow tables the flush writes 7 parts (orderbook_snapshots spans two days too).
ARROW_CRASH_POINTS = [("before-write", 1), ("before-write", 3), ("after-write", 2), ("after-write", 3),
                      ("after-write", 7), ("retire", 1)]


@pytest.mark.parametrize(("point", "k"), ARROW_CRASH_POINTS)
def test_kill_between_append_table_and_flush_recovers_the_tables_rows_once(data_dir: Path, point: str,
                                                                          k: int) -> None:
    run_writer("crash-flush-arrow", str(data_dir), point, str(k), check_killed=True)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        recovered = store.recover()
        assert store.stats["write_errors"] == 0
    assert_clean_files(data_dir)
    assert_exactly_once(data_dir, {t: 1001 if t == "book_events" else 1000 for t in ROW_FACTORIES})
    if point == "before-write" and k == 1:
        assert recovered["orderbook_snapshots"] == 1000
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0, "recovering again changes nothing"
    assert_exactly_once(data_dir, {t: 1001 if t == "book_events" else 1000 for t in ROW_FACTORIES})


def test_flush_without_recover_recovers_first(data_dir: Path) -> None:
    """A part cut now claims every older segment: so inherited ones must be taken in before."""
    run_writer("crash-flush", str(data_dir), "before-write", "1", check_killed=True)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.append("book_events", ROW_FACTORIES["book_events"](1_770_834_581_512_000, 9999))
        store.flush()
    assert_exactly_once(data_dir, {"market_snapshots": 1000, "book_events": 1002})


def test_real_efbig_keeps_rows_buffered_and_journaled_then_retry_writes_all_once(data_dir: Path) -> None:
    proc = run_writer("efbig", str(data_dir))
    report = json.loads(proc.stdout.splitlines()[-1])
    failed, retried = report["failed"], report["retried"]
    assert failed["write_errors"] >= 1
    assert failed["buffered_rows"] > 0
    assert "storage write failed" in proc.stderr and "File too large" in proc.stderr
    assert retried["buffered_rows"] == 0
    assert sum(retried["rows_written"].values()) == len(ROW_FACTORIES) * 5000
    assert_clean_files(data_dir)
    assert_exactly_once(data_dir, dict.fromkeys(ROW_FACTORIES, 5000))


def test_real_efbig_then_death_loses_nothing(data_dir: Path) -> None:
    proc = run_writer("efbig-die", str(data_dir))
    assert json.loads(proc.stdout.splitlines()[-1])["failed"]["write_errors"] >= 1
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.recover()
    assert_clean_files(data_dir)
    assert_exactly_once(data_dir, dict.fromkeys(ROW_FACTORIES, 5000))


def test_a_row_journaled_before_a_column_was_added_is_stored_with_a_null(data_dir: Path) -> None:
    """An upgrade over a journal of the older version: trades_live rows without ``conn``."""
    from kalshi_collector.storage.journal import JournalWriter, encode_frame

    old = ROW_FACTORIES["trades_live"](1_770_800_000_000_000, 7)[:-1]  # the 12 columns before `conn`
    journal = JournalWriter(data_dir / "_journal", "c0")
    journal.append(encode_frame([("trades_live", [old])]))
    journal.close()
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["trades_live"] == 1
    back = ParquetStorage(data_dir).read_parquets("trades_live")
    assert back["trade_id"].tolist() == ["trade-7"] and back["conn"].isna().all()
    assert not (data_dir / "_rejected").exists()
