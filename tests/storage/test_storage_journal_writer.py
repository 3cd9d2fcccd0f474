"""The journal writer: preallocated segments, the spare, rotation, and failed writes undone."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest
from journal_faults import FaultyOps, FullDisk
from journal_helpers import as_tuples, frames_of, rows

from kalshi_collector.storage.journal import (
    MAGIC,
    JournalFullError,
    JournalOptions,
    JournalWriter,
    SkipKind,
    damaged_path,
    encode_frame,
    list_segments,
    read_segment,
    segment_path,
    spare_path,
)

SEGMENT = 16_384


def writer(path: Path, ops: FaultyOps | None = None, segment_bytes: int = SEGMENT, **kw) -> JournalWriter:
    options = JournalOptions(segment_bytes=segment_bytes, **({"ops": ops} if ops else {}))
    return JournalWriter(path, "c0", options=options, **kw)


def journaled(path: Path) -> list:
    """Every frame of every segment, oldest first, checking nothing was skipped."""
    found = []
    for _, seg in list_segments(path, "c0"):
        scan = read_segment(seg)
        assert scan.skipped == [], (seg, scan.describe())
        found += as_tuples(scan.frames)
    return found


def test_segments_and_the_spare_are_preallocated_and_a_close_gives_the_space_back(tmp_path: Path) -> None:
    w = writer(tmp_path, segment_bytes=1 << 20)
    current = segment_path(tmp_path, "c0", w.current)
    for path in (current, spare_path(tmp_path, "c0")):
        st = path.stat()
        assert st.st_size == 1 << 20 and st.st_blocks * 512 >= 1 << 20, path
    frame = encode_frame(frames_of(1)[0])
    w.append(frame)
    assert w.reserve.segment_room == (1 << 20) - len(MAGIC) - len(frame)
    assert w.reserve.total == w.reserve.segment_room + (1 << 20)
    assert as_tuples(read_segment(current).frames) == frames_of(1)  # read while preallocated: zeros = end
    w.close()
    assert current.stat().st_size == len(MAGIC) + len(frame) and not spare_path(tmp_path, "c0").exists()


def test_a_full_segment_rotates_into_the_spare_and_a_new_spare_is_made(tmp_path: Path) -> None:
    w = writer(tmp_path)
    frames = frames_of(40, per_frame=40)
    first = w.current
    spare_inode = spare_path(tmp_path, "c0").stat().st_ino
    for frame in frames:
        w.append(encode_frame(frame))
    numbers = [n for n, _ in list_segments(tmp_path, "c0")]
    assert len(numbers) > 2 and numbers[0] == first and w.current == numbers[-1]
    assert segment_path(tmp_path, "c0", numbers[1]).stat().st_ino == spare_inode  # renamed, not made anew
    assert spare_path(tmp_path, "c0").exists()
    for n in numbers[:-1]:
        assert segment_path(tmp_path, "c0", n).stat().st_size <= SEGMENT  # closed ones trimmed to data
    assert journaled(tmp_path) == frames
    w.close()


def test_a_frame_bigger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    w = writer(tmp_path)
    small, big = frames_of(1)[0], [("book_events", rows("book_events", 0, 2000))]
    w.append(encode_frame(small))
    w.append(encode_frame(big))
    w.append(encode_frame(small))
    assert len(list_segments(tmp_path, "c0")) == 3
    assert journaled(tmp_path) == [small, big, small]
    w.close()


def test_a_rotation_needs_no_fresh_space_while_the_spare_is_there(tmp_path: Path, caplog) -> None:
    disk = FullDisk()
    w = writer(tmp_path, disk)
    disk.full = True  # from now on nothing new can be allocated
    frames = frames_of(40, per_frame=40)
    with caplog.at_level(logging.WARNING):
        taken = 0
        for frame in frames:
            try:
                w.append(encode_frame(frame))
            except JournalFullError as exc:
                assert exc.errno == errno.ENOSPC and "rows stay in memory" in str(exc)
                break
            taken += 1
    assert caplog.text.count("no spare journal segment can be allocated") == 1
    assert len(list_segments(tmp_path, "c0")) == 2  # the first segment, then the spare: all the reserve
    assert journaled(tmp_path) == frames[:taken] and taken > 20
    disk.full = False  # space is freed: the same frame goes in, and the next ones
    for frame in frames[taken:]:
        w.append(encode_frame(frame))
    assert journaled(tmp_path) == frames
    w.close()


def test_a_flush_rotation_never_gives_up_reserved_space_for_a_segment_without(tmp_path: Path) -> None:
    disk = FullDisk()
    w = writer(tmp_path, disk)
    disk.full = True
    assert w.rotate()  # into the spare
    with pytest.raises(OSError) as refused:
        w.rotate()  # no spare and no room: staying in the reserved segment is better
    assert refused.value.errno == errno.ENOSPC and w.reserve.segment_room > 0
    w.close()


def test_a_disk_too_full_for_a_reserve_still_lets_the_journal_start(tmp_path: Path, caplog) -> None:
    ops = FaultyOps()
    ops.arm("fallocate", errno.ENOSPC, times=1000)  # room for files, not for a whole segment
    with caplog.at_level(logging.WARNING):
        w = writer(tmp_path, ops)
    assert "without reserved space" in caplog.text
    assert w.reserve.segment_room > 0 and w.reserve.spare_bytes == 0
    w.append(encode_frame(frames_of(1)[0]))
    ops.faults.clear()
    w.rotate()  # an unreserved segment may rotate into whatever can be had, now a reserved one
    assert w.reserve.spare_bytes == SEGMENT
    assert journaled(tmp_path) == frames_of(1)
    w.close()


@pytest.mark.parametrize("op, code", [("pwrite", errno.ENOSPC), ("pwrite", errno.EIO),
                                      ("fdatasync", errno.EIO), ("pwrite", errno.EROFS)])
def test_a_failed_append_leaves_nothing_behind_and_the_retry_goes_in_once(tmp_path: Path, op: str, code: int) -> None:
    ops = FaultyOps()
    w = writer(tmp_path, ops, segment_bytes=1 << 20)
    frames = frames_of(3)
    w.append(encode_frame(frames[0]))
    ops.arm(op, code, partial=True)
    with pytest.raises(OSError) as failed:
        w.append(encode_frame(frames[1]))
    assert failed.value.errno == code
    assert isinstance(failed.value, JournalFullError) == (code == errno.ENOSPC)
    assert journaled(tmp_path) == frames[:1]  # the half-written frame was zeroed again
    w.append(encode_frame(frames[1]))
    w.append(encode_frame(frames[2]))
    assert journaled(tmp_path) == frames
    assert len(list_segments(tmp_path, "c0")) == 1
    w.close()


@pytest.mark.parametrize("trim_fails", [False, True])
def test_a_write_that_cannot_be_undone_abandons_the_segment(tmp_path: Path, caplog, trim_fails: bool) -> None:
    ops = FaultyOps()
    w = writer(tmp_path, ops, segment_bytes=1 << 20)
    frames = frames_of(3)
    w.append(encode_frame(frames[0]))
    ops.arm("pwrite", errno.EIO, partial=True)  # half the frame is written
    ops.arm("pwrite", errno.EIO)  # and the zeros that would undo it are not
    if trim_fails:
        ops.arm("ftruncate", errno.EIO)  # and the trim when the segment is given up
    with caplog.at_level(logging.ERROR), pytest.raises(OSError):
        w.append(encode_frame(frames[1]))
    assert "cannot be undone" in caplog.text
    first = w.current
    w.append(encode_frame(frames[1]))
    w.append(encode_frame(frames[2]))
    assert w.current != first
    (_, old), (_, new) = list_segments(tmp_path, "c0")
    old_scan = read_segment(old)
    assert as_tuples(old_scan.frames) == frames[:1]
    # trimmed to its last whole frame when given up; else the half frame is read as never synced
    assert [s.kind for s in old_scan.skipped] == ([SkipKind.TORN_TAIL] if trim_fails else [])
    assert as_tuples(read_segment(new).frames) == frames[1:]
    w.close()


def test_a_failed_rotation_keeps_the_current_segment(tmp_path: Path) -> None:
    ops = FaultyOps()
    w = writer(tmp_path, ops, segment_bytes=1 << 20)
    before = w.current
    ops.arm("rename", errno.EROFS)
    with pytest.raises(OSError) as failed:
        w.rotate()
    assert failed.value.errno == errno.EROFS and w.current == before
    w.append(encode_frame(frames_of(1)[0]))
    assert w.rotate() == before and w.current > before
    assert journaled(tmp_path) == frames_of(1)
    w.close()


def test_without_preallocation_segments_grow_and_one_warning_says_so(tmp_path: Path, caplog) -> None:
    ops = FaultyOps()
    ops.arm("fallocate", errno.EOPNOTSUPP, times=1000)
    with caplog.at_level(logging.WARNING):
        w = writer(tmp_path, ops)
        frames = frames_of(40, per_frame=40)
        for frame in frames:
            w.append(encode_frame(frame))
    assert caplog.text.count("cannot preallocate") == 1 and ops.calls["fallocate"] == 1
    assert not w.reserve.preallocated and w.reserve.total == 0
    assert len(list_segments(tmp_path, "c0")) > 2 and journaled(tmp_path) == frames
    w.close()


def test_a_leftover_spare_is_reused_and_a_non_empty_one_is_kept(tmp_path: Path, caplog) -> None:
    first = writer(tmp_path)
    spare = spare_path(tmp_path, "c0")
    inode = spare.stat().st_ino
    os.close(first._lock_fd)  # noqa: SLF001 - the process dies: its spare is left behind
    second = writer(tmp_path)
    assert segment_path(tmp_path, "c0", second.current).stat().st_ino == inode
    second.close()
    for interrupted in (b"", MAGIC[:5], bytes(SEGMENT)):  # a creation cut short: silently made anew
        spare.write_bytes(interrupted)
        with caplog.at_level(logging.ERROR):
            writer(tmp_path).close()
        assert not caplog.records and not damaged_path(spare).exists()
    spare.write_bytes(MAGIC + b"not empty")
    with caplog.at_level(logging.ERROR):
        writer(tmp_path).close()
    assert "not an empty spare" in caplog.text
    assert damaged_path(spare).read_bytes() == MAGIC + b"not empty"


def test_retiring_deletes_segments_but_keeps_a_quarantined_one(tmp_path: Path) -> None:
    w = writer(tmp_path)
    old = [w.rotate(), w.rotate()]
    w.quarantine(old[0])
    assert w.delete_upto(w.current) == 2
    assert [n for n, _ in list_segments(tmp_path, "c0")] == [w.current]
    assert damaged_path(segment_path(tmp_path, "c0", old[0])).exists()
    assert w.owned == [w.current]
    w.close()


def test_segment_numbers_grow_across_restarts_even_if_the_clock_goes_back(tmp_path: Path) -> None:
    first = writer(tmp_path, clock_us=lambda: 1_000_000)
    n1 = first.current
    n2 = first.rotate()
    assert n2 == n1 and first.current > n1
    first.close()
    second = writer(tmp_path, clock_us=lambda: 5)
    assert second.current > first.current
    assert [n for n, _ in second.inherited] == [n1, first.current]
    second.close()


def test_segments_of_other_collectors_are_not_ours(tmp_path: Path) -> None:
    a = JournalWriter(tmp_path, "a", options=JournalOptions(segment_bytes=SEGMENT))
    b = JournalWriter(tmp_path, "b", options=JournalOptions(segment_bytes=SEGMENT))
    assert [n for n, _ in list_segments(tmp_path, "a")] == [a.current]
    assert [n for n, _ in list_segments(tmp_path, "b")] == [b.current]
    a.close()
    b.close()


def test_a_segment_size_below_one_page_is_refused() -> None:
    with pytest.raises(ValueError, match="segment_bytes 100"):
        JournalOptions(segment_bytes=100)
