"""Reading segments back: every intact frame is recovered, and every skipped byte is accounted for."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from journal_helpers import (
    Frame,
    as_tuples,
    encode_frame_v1,
    frames_of,
    preallocated,
    rows,
    segment_v1,
    write_journal,
)

from kalshi_collector.storage.journal import MAGIC, MAGIC_V1, SkipKind, Skipped, encode_frame
from kalshi_collector.storage.journal.frames import FRAME_MARKER
from kalshi_collector.storage.journal.scan import scan_bytes


def segment(frames: list[Frame]) -> tuple[bytes, list[int]]:
    """A version-2 segment's bytes and the offset where each frame starts."""
    data, starts = bytearray(MAGIC), []
    for frame in frames:
        starts.append(len(data))
        data += encode_frame(frame)
    return bytes(data), starts


def test_frames_written_by_the_writer_read_back_as_written(tmp_path: Path) -> None:
    frames = [[("book_events", rows("book_events", 0, 3)), ("trades_live", rows("trades_live", 0, 2))],
              [("book_events", rows("book_events", 3, 1))]]
    path = write_journal(tmp_path, frames)
    scan = scan_bytes(path.read_bytes())
    assert scan.version == 2 and scan.skipped == [] and not scan.damaged
    assert as_tuples(scan.frames) == frames
    assert scan.rows == 6 and scan.data_end == path.stat().st_size


def test_the_preallocated_zero_tail_is_the_end_of_the_data_not_damage() -> None:
    frames = frames_of(3)
    data, _ = segment(frames)
    scan = scan_bytes(preallocated(data, 1 << 20))
    assert scan.skipped == [] and as_tuples(scan.frames) == frames and scan.data_end == len(data)
    empty = scan_bytes(preallocated(MAGIC, 1 << 20))
    assert empty.frames == [] and empty.skipped == []


def test_a_frame_whose_last_values_encode_as_zero_bytes_is_not_mistaken_for_free_space() -> None:
    frames = [[("orderbook_snapshots", [("KX", "yes", 1.0, 0.0)])]]  # msgpack floats end in zeros
    data, _ = segment(frames)
    assert as_tuples(scan_bytes(preallocated(data)).frames) == frames


@pytest.mark.parametrize("zero_tail", [False, True], ids=["file-ends", "preallocated"])
def test_a_write_cut_short_at_any_byte_is_a_torn_tail_never_damage(zero_tail: bool) -> None:
    frames = frames_of(3)
    data, starts = segment(frames)
    for cut in range(starts[-1] + 1, len(data)):
        kept = data[:cut]
        scan = scan_bytes(preallocated(kept) if zero_tail else kept)
        assert as_tuples(scan.frames) == frames[:2], cut
        torn = len(kept.rstrip(b"\0")) - starts[-1]  # zeros at the end are free space, either way
        assert scan.skipped == [Skipped(starts[-1], torn, SkipKind.TORN_TAIL)], cut
        assert not scan.damaged and scan.torn_bytes == torn


def test_a_damaged_header_hides_no_frame() -> None:
    frames = frames_of(30)
    data, _ = segment(frames)
    for garbage in (b"\x00" * 8, b"XXXXXXXX", b"KCJRNL9\n"):
        scan = scan_bytes(garbage + data[8:])
        assert as_tuples(scan.frames) == frames
        assert scan.skipped == [Skipped(0, 8, SkipKind.HEADER)] and scan.damaged and scan.version == 2


def test_damage_in_the_middle_costs_only_the_frames_it_hit() -> None:
    frames = frames_of(10)
    data, starts = segment(frames)
    damaged = bytearray(data)
    damaged[starts[3] + 20 : starts[3] + 30] = b"\xff" * 10  # inside frame 3's payload
    scan = scan_bytes(bytes(damaged))
    assert as_tuples(scan.frames) == frames[:3] + frames[4:]
    assert scan.skipped == [Skipped(starts[3], starts[4] - starts[3], SkipKind.MIDDLE)]
    assert scan.damaged_bytes == starts[4] - starts[3] and scan.torn_bytes == 0


def test_a_zeroed_sector_between_frames_is_damage_not_the_end() -> None:
    frames = frames_of(6, per_frame=40)
    data, starts = segment(frames)
    damaged = bytearray(preallocated(data))
    damaged[starts[1] : starts[3]] = bytes(starts[3] - starts[1])
    scan = scan_bytes(bytes(damaged))
    assert as_tuples(scan.frames) == [frames[0], *frames[3:]]
    assert scan.skipped == [Skipped(starts[1], starts[3] - starts[1], SkipKind.MIDDLE)]


def test_several_damages_in_one_segment_are_each_reported_and_every_intact_frame_kept() -> None:
    frames = frames_of(12)
    data, starts = segment(frames)
    damaged = bytearray(data)
    damaged[0:8] = b"garbage!"
    damaged[starts[2] + 5] ^= 0x40  # frame 2
    damaged[starts[6] : starts[6] + 2] = b"\x00\x00"  # frame 6's marker
    damaged[starts[7] + 15] ^= 0x01  # frame 7 too: one range with 6
    damaged[-2] ^= 0x10  # the last frame: complete, checksum fails
    scan = scan_bytes(bytes(damaged))
    assert as_tuples(scan.frames) == [frames[i] for i in (0, 1, 3, 4, 5, 8, 9, 10)]
    assert scan.skipped == [
        Skipped(0, 8, SkipKind.HEADER),
        Skipped(starts[2], starts[3] - starts[2], SkipKind.MIDDLE),
        Skipped(starts[6], starts[8] - starts[6], SkipKind.MIDDLE),
        Skipped(starts[11], len(data) - starts[11], SkipKind.DAMAGED_TAIL),
    ]
    assert "damaged header: 8 bytes at offset 0" in scan.describe()


def test_a_whole_last_frame_with_a_bad_checksum_is_damage_not_a_torn_tail() -> None:
    frames = frames_of(2)
    data, starts = segment(frames)
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    scan = scan_bytes(bytes(flipped))
    assert as_tuples(scan.frames) == frames[:1]
    assert scan.skipped == [Skipped(starts[1], len(data) - starts[1], SkipKind.DAMAGED_TAIL)]


def test_garbage_after_the_last_frame_is_damage() -> None:
    data, _ = segment(frames_of(2))
    scan = scan_bytes(data + b"\xff\xff\xff\x7f" + b"x" * 100)
    assert len(scan.frames) == 2 and scan.skipped == [Skipped(len(data), 104, SkipKind.DAMAGED_TAIL)]


def test_the_marker_inside_a_payload_does_not_fool_resynchronisation() -> None:
    decoy = FRAME_MARKER + b"\x00\x00\x00\x00\x05\x00\x00\x00"
    frames = [[("book_events", [(1, decoy.decode("latin-1"))])], *frames_of(3)]
    data, starts = segment(frames)
    damaged = bytearray(data)
    damaged[starts[0] + 4] ^= 0xFF  # frame 0's checksum: the reader must find frame 1, not the decoy
    scan = scan_bytes(bytes(damaged))
    assert as_tuples(scan.frames) == frames[1:]
    assert scan.skipped == [Skipped(starts[0], starts[1] - starts[0], SkipKind.MIDDLE)]


def test_random_damage_loses_exactly_the_frames_it_touches() -> None:
    rng = random.Random(10)
    frames = [[("book_events", rows("book_events", i * 7, rng.randint(1, 9)))] for i in range(40)]
    data, starts = segment(frames)
    bounds = list(zip(starts, [*starts[1:], len(data)], strict=True))
    for _ in range(300):
        damaged = bytearray(data)
        hit: set[int] = set()
        for _ in range(rng.randint(1, 4)):
            at, length = rng.randrange(8, len(data)), rng.randint(1, 40)
            damaged[at : at + length] = bytes(rng.getrandbits(8) for _ in range(len(damaged[at : at + length])))
            hit |= {i for i, (lo, hi) in enumerate(bounds) if lo < at + length and at < hi}
        scan = scan_bytes(bytes(damaged))
        changed = {i for i, (lo, hi) in enumerate(bounds) if damaged[lo:hi] != data[lo:hi]}
        assert as_tuples(scan.frames) == [f for i, f in enumerate(frames) if i not in changed]
        lost = sum(hi - lo for i, (lo, hi) in enumerate(bounds) if i in changed)
        assert scan.damaged_bytes + scan.torn_bytes + (len(damaged) - scan.data_end) == lost
        assert changed <= hit


def test_a_segment_torn_while_its_header_was_written_is_empty() -> None:
    for content in (b"", MAGIC[:3], MAGIC_V1[:5]):
        scan = scan_bytes(content)
        assert scan.frames == [] and scan.skipped == [], content


def test_a_foreign_file_is_all_damage() -> None:
    scan = scan_bytes(b"PK\x03\x04 definitely not a journal")
    assert scan.version is None and scan.frames == []
    assert [s.kind for s in scan.skipped] == [SkipKind.HEADER, SkipKind.DAMAGED_TAIL]
    assert scan.damaged_bytes == len(b"PK\x03\x04 definitely not a journal")


# -- version 1 (segments left by earlier releases) -------------------------------------------------

def test_an_old_format_segment_is_read() -> None:
    frames = frames_of(5)
    scan = scan_bytes(segment_v1(frames))
    assert scan.version == 1 and scan.skipped == [] and as_tuples(scan.frames) == frames


def test_an_old_format_segment_gives_up_the_frames_after_damage_and_behind_its_header() -> None:
    frames = frames_of(8)
    data = bytearray(segment_v1(frames))
    starts = [8]
    for frame in frames[:-1]:
        starts.append(starts[-1] + len(encode_frame_v1(frame)))
    data[0:8] = b"\x00" * 8
    data[starts[4] + 12] ^= 0x55
    scan = scan_bytes(bytes(data))
    assert scan.version == 1
    assert as_tuples(scan.frames) == frames[:4] + frames[5:]
    assert scan.skipped == [Skipped(0, 8, SkipKind.HEADER), Skipped(starts[4], starts[5] - starts[4], SkipKind.MIDDLE)]


def test_an_old_format_torn_tail_is_a_torn_tail() -> None:
    frames = frames_of(3)
    data = segment_v1(frames)
    last = len(encode_frame_v1(frames[-1]))
    for cut in range(len(data) - last + 1, len(data)):
        scan = scan_bytes(data[:cut])
        assert len(scan.frames) == 2 and scan.skipped == [
            Skipped(len(data) - last, cut - len(data) + last, SkipKind.TORN_TAIL)], cut
