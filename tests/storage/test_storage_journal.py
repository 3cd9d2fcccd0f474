"""The journal's frames: torn tails, corruption and odd segments are survived, never fatal."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from storage_helpers import ID_COLUMN, ROW_FACTORIES, T0

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.journal import MAGIC, JournalWriter, encode_frame, list_segments, read_segment

WRITER = Path(__file__).with_name("storage_writer.py")


def _rows(table: str, start: int, n: int) -> list[tuple]:
    return [ROW_FACTORIES[table](T0 + i, i) for i in range(start, start + n)]


def write_journal(journal_dir: Path, frames: list[list[tuple[str, list]]]) -> Path:
    """Journal ``frames`` with a real writer, then drop it like a crash would (no flush)."""
    writer = JournalWriter(journal_dir, "c0")
    for frame in frames:
        writer.append(encode_frame(frame))
    writer.close()
    [(_, path)] = list_segments(journal_dir, "c0")
    return path


def test_frames_read_back_as_written(tmp_path: Path) -> None:
    frames = [[("book_events", _rows("book_events", 0, 3)), ("trades_live", _rows("trades_live", 0, 2))],
              [("book_events", _rows("book_events", 3, 1))]]
    scan = read_segment(write_journal(tmp_path, frames))
    assert scan.torn_bytes == 0 and not scan.bad_magic
    assert [[(t, [tuple(r) for r in rows]) for t, rows in frame] for frame in scan.frames] == frames


def test_a_tail_torn_at_any_byte_is_ignored(tmp_path: Path) -> None:
    frames = [[("book_events", _rows("book_events", i * 10, 10))] for i in range(3)]
    path = write_journal(tmp_path / "j", frames)
    data = path.read_bytes()
    last = len(encode_frame(frames[-1]))
    whole = len(data) - last
    for cut in range(whole, len(data)):
        torn = tmp_path / "torn.wal"
        torn.write_bytes(data[:cut])
        scan = read_segment(torn)
        assert len(scan.frames) == 2, cut
        assert scan.torn_bytes == cut - whole


def test_corrupt_or_garbage_tail_is_ignored(tmp_path: Path) -> None:
    frames = [[("book_events", _rows("book_events", i * 10, 10))] for i in range(2)]
    path = write_journal(tmp_path / "j", frames)
    data = bytearray(path.read_bytes())
    flipped = tmp_path / "flipped.wal"
    data[-3] ^= 0xFF
    flipped.write_bytes(bytes(data))
    assert len(read_segment(flipped).frames) == 1
    garbage = tmp_path / "garbage.wal"
    garbage.write_bytes(path.read_bytes() + b"\xff\xff\xff\x7f" + b"x" * 100)
    scan = read_segment(garbage)
    assert len(scan.frames) == 2 and scan.torn_bytes == 104


def test_segment_torn_while_being_created_is_empty(tmp_path: Path) -> None:
    for content in (b"", MAGIC[:3]):
        path = tmp_path / "new.wal"
        path.write_bytes(content)
        scan = read_segment(path)
        assert scan.frames == [] and not scan.bad_magic


def test_recovery_takes_the_whole_frames_and_ignores_the_torn_one(data_dir: Path, caplog) -> None:
    frames = [[("book_events", _rows("book_events", 0, 10))], [("book_events", _rows("book_events", 10, 10))]]
    path = write_journal(data_dir / "_journal", frames)
    half = encode_frame([("book_events", _rows("book_events", 20, 10))])
    with path.open("ab") as fh:
        fh.write(half[: len(half) // 2])
    with caplog.at_level(logging.WARNING), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover()["book_events"] == 20
        assert store.stats["torn_journal_bytes"] == len(half) // 2
    assert "torn tail" in caplog.text
    ids = ParquetStorage(data_dir).read_parquets("book_events")[ID_COLUMN["book_events"]]
    assert sorted(ids) == list(range(20))
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    assert len(ParquetStorage(data_dir).read_parquets("book_events")) == 20


def test_a_foreign_file_in_the_journal_is_set_aside_not_deleted(data_dir: Path, caplog) -> None:
    journal = data_dir / "_journal"
    journal.mkdir(parents=True)
    foreign = journal / "c0-00000000000000000001.wal"
    foreign.write_bytes(b"PK\x03\x04 definitely not a journal")
    with caplog.at_level(logging.ERROR), LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    assert "bad header" in caplog.text
    assert (journal / (foreign.name + ".corrupt")).read_bytes().startswith(b"PK")


def test_segment_numbers_grow_across_restarts_even_if_the_clock_goes_back(tmp_path: Path) -> None:
    first = JournalWriter(tmp_path, "c0", clock_us=lambda: 1_000_000)
    n1 = first.current
    n2 = first.rotate()
    assert n2 == n1 and first.current > n1
    first.close()
    second = JournalWriter(tmp_path, "c0", clock_us=lambda: 5)
    assert second.current > first.current
    assert [n for n, _ in second.inherited] == [n1, first.current]
    second.close()


def test_segments_of_other_collectors_are_not_ours(tmp_path: Path) -> None:
    a = JournalWriter(tmp_path, "a")
    b = JournalWriter(tmp_path, "b")
    assert [n for n, _ in list_segments(tmp_path, "a")] == [a.current]
    assert [n for n, _ in list_segments(tmp_path, "b")] == [b.current]
    a.close()
    b.close()


def test_a_failed_journal_write_is_truncated_away_and_retried(data_dir: Path) -> None:
    proc = subprocess.run([sys.executable, str(WRITER), "efbig-journal", str(data_dir)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["failed"]["journal_errors"] == 1 and report["failed"]["unsynced_rows"] == 5 * 2000
    assert report["retried"]["unsynced_rows"] == 0
    assert "journal write failed" in proc.stderr and "File too large" in proc.stderr
    segment = shutil.copy(next((data_dir / "_journal").glob("*.wal")), data_dir / "copy.bin")
    assert read_segment(Path(segment)).torn_bytes == 0  # the half frame was cut off, not left in the middle
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.recover() == dict.fromkeys(ROW_FACTORIES, 2100)
