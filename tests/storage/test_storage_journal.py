"""Recovery through ``LiveStore.recover()``: every intact frame is stored, damaged segments are kept."""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from journal_faults import os_error
from journal_helpers import frames_of, preallocated, rows, segment_v1, write_journal
from storage_helpers import ID_COLUMN, ROW_FACTORIES

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.journal import damaged_path, encode_frame, list_segments, read_segment

WRITER = Path(__file__).with_name("storage_writer.py")


def stored_ids(data_dir: Path, table: str = "book_events") -> list:
    return sorted(ParquetStorage(data_dir).read_parquets(table)[ID_COLUMN[table]])


def frame_starts(path: Path) -> list[int]:
    """Offsets where each frame of a segment written by ``write_journal`` starts."""
    data, starts, pos = path.read_bytes(), [], 8
    for frame in read_segment(path).frames:
        starts.append(pos)
        pos += len(encode_frame([(t, [tuple(r) for r in b]) for t, b in frame]))
    assert pos == len(data.rstrip(b"\0"))
    return starts


def damage(path: Path, at: int, length: int) -> bytes:
    data = bytearray(path.read_bytes())
    data[at : at + length] = bytes(b ^ 0x5A for b in data[at : at + length])
    path.write_bytes(bytes(data))
    return bytes(data)


def test_recovery_takes_the_whole_frames_and_drops_the_torn_one(data_dir: Path, caplog) -> None:
    path = write_journal(data_dir / "_journal", frames_of(2))
    half = encode_frame([("book_events", rows("book_events", 20, 10))])
    path.write_bytes(preallocated(path.read_bytes() + half[: len(half) // 2], 1 << 20))  # as kill -9 leaves it
    with caplog.at_level(logging.WARNING), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 20
        assert store.stats["torn_journal_bytes"] == len(half[: len(half) // 2].rstrip(b"\0"))
        assert store.stats["damaged_journal_bytes"] == 0
    assert "incomplete last frame" in caplog.text and "never synced" in caplog.text
    assert "damaged" not in caplog.text
    assert stored_ids(data_dir) == list(range(20))
    assert not path.exists() and not damaged_path(path).exists()  # nothing unrecovered: deleted
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    assert stored_ids(data_dir) == list(range(20))


def test_damage_in_the_middle_loses_only_its_frame_and_the_segment_is_kept(data_dir: Path, caplog) -> None:
    path = write_journal(data_dir / "_journal", frames_of(120))  # 1,200 rows, ids 0..1199
    starts = frame_starts(path)
    damaged = damage(path, starts[11] + 30, 16)  # frame 11: ids 110..119
    with caplog.at_level(logging.WARNING), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 1190
        assert store.stats["damaged_journal_bytes"] == starts[12] - starts[11]
    assert stored_ids(data_dir) == [i for i in range(1200) if not 110 <= i < 120]  # the 1,080 after it too
    kept = damaged_path(path)
    assert not path.exists() and kept.read_bytes() == damaged
    [line] = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert str(path) in line and f"{starts[12] - starts[11]} bytes unreadable" in line
    assert "damaged bytes between intact frames" in line and kept.name in line and "delete it once" in line
    assert "never synced" not in caplog.text
    with LiveStore(data_dir, journal_sync_interval=None) as store:  # a kept file is never read again
        assert sum(store.recover().values()) == 0
    assert kept.exists()


def test_a_damaged_header_hides_none_of_the_frames(data_dir: Path, caplog) -> None:
    path = write_journal(data_dir / "_journal", frames_of(30))
    damage(path, 0, 8)
    with caplog.at_level(logging.ERROR), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 300
    assert stored_ids(data_dir) == list(range(300))
    assert "damaged header: 8 bytes at offset 0" in caplog.text
    assert damaged_path(path).exists() and not path.exists()


def test_a_foreign_file_in_the_journal_is_kept_not_deleted(data_dir: Path, caplog) -> None:
    journal = data_dir / "_journal"
    journal.mkdir(parents=True)
    foreign = journal / "c0-00000000000000000001.wal"
    foreign.write_bytes(b"PK\x03\x04 definitely not a journal")
    with caplog.at_level(logging.ERROR), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    assert "damaged header" in caplog.text
    assert damaged_path(foreign).read_bytes().startswith(b"PK")


def test_an_old_format_segment_is_recovered(data_dir: Path) -> None:
    journal = data_dir / "_journal"
    journal.mkdir(parents=True)
    old = journal / "c0-00000000000000000007.wal"
    old.write_bytes(segment_v1(frames_of(5) + [[("trades_live", rows("trades_live", 0, 3))]]))
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover() == {**dict.fromkeys(ROW_FACTORIES, 0), "book_events": 50, "trades_live": 3}
    assert stored_ids(data_dir) == list(range(50)) and stored_ids(data_dir, "trades_live") == ["trade-0", "trade-1", "trade-2"]
    assert not old.exists()


def test_a_segment_an_old_release_set_aside_is_recovered_under_a_newer_number(data_dir: Path) -> None:
    """The procedure docs/operations.md gives for ``*.wal.corrupt`` files."""
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("book_events", rows("book_events", 1000, 5))
        store.flush()  # parts with a number newer than the old segment
    corrupt = b"\0" * 8 + segment_v1(frames_of(3))[8:]  # set aside for its header, never recovered
    journal = data_dir / "_journal"
    (journal / "c0-00000000000000000003.wal.corrupt").write_bytes(corrupt)
    renamed = journal / f"c0-{time.time_ns() // 1000:020d}.wal"
    (journal / "c0-00000000000000000003.wal.corrupt").rename(renamed)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 30
    assert stored_ids(data_dir) == [*range(30), *range(1000, 1005)]


def test_an_unreadable_segment_is_moved_out_of_the_journal_and_the_rest_recovered(data_dir: Path, caplog) -> None:
    path = write_journal(data_dir / "_journal", frames_of(3))
    unreadable = path.with_name("c0-00000000000000000001.wal")
    unreadable.mkdir()  # read_bytes() fails with an OSError, as a bad sector would
    with caplog.at_level(logging.ERROR), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 30
    assert "cannot read journal segment" in caplog.text and "newer number" in caplog.text
    assert unreadable.with_name(unreadable.name + ".unreadable").is_dir() and not unreadable.exists()
    assert stored_ids(data_dir) == list(range(30))


class FailingParts(LocalFS):
    def write_parquet(self, path, table, **options):
        raise os_error(errno.ENOSPC)


def test_a_damaged_segment_stays_in_the_journal_until_its_rows_are_stored(data_dir: Path) -> None:
    path = write_journal(data_dir / "_journal", frames_of(10))
    damage(path, frame_starts(path)[4] + 20, 4)
    with LiveStore(data_dir, journal_sync_interval=None, fs=FailingParts()) as store:
        assert store.recover()["book_events"] == 90
        assert store.stats["write_errors"] > 0
    assert path.exists() and not damaged_path(path).exists()  # its rows are nowhere else yet
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 90
    assert stored_ids(data_dir) == [i for i in range(100) if not 40 <= i < 50]
    assert damaged_path(path).exists() and not path.exists()


def test_a_failed_journal_write_is_undone_and_retried(data_dir: Path) -> None:
    proc = subprocess.run([sys.executable, str(WRITER), "efbig-journal", str(data_dir)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["failed"]["journal_errors"] == 1 and report["failed"]["unsynced_rows"] == len(ROW_FACTORIES) * 2000
    assert report["retried"]["unsynced_rows"] == 0
    assert "journal write failed" in proc.stderr and "File too large" in proc.stderr
    for _, segment in list_segments(data_dir / "_journal", "c0"):
        assert read_segment(segment).skipped == []  # the half frame was cut off, not left in the middle
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover() == dict.fromkeys(ROW_FACTORIES, 2100)
