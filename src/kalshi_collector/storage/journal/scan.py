"""Reading a segment back: every intact frame, wherever it is, and an exact account of the rest.

A frame is taken wherever its marker, length bound, end byte and checksum all check out, so damage
costs only the bytes it hit: frames before it, after it, and behind a damaged segment header are
all recovered. What could not be read is reported as :class:`Skipped` ranges of one of these kinds:

- ``HEADER``: the 8-byte magic is not one we know. The frames behind it are still looked for (as
  version 2, then as version 1 if none is found).
- ``MIDDLE``: bytes between two intact frames. The writer never leaves a gap, so this is damage
  (a bad disk sector, a stray write): the rows it held are lost unless repaired by hand.
- ``TORN_TAIL``: after the last intact frame, the beginning of one more frame and nothing after
  it: a write that never completed (the process or the machine stopped during it). Its ``sync``
  had not returned, so those rows were never acknowledged: the one kind that is "never synced".
- ``DAMAGED_TAIL``: after the last intact frame, bytes that are not the beginning of a frame, or a
  whole-length frame whose checksum fails: damage, like ``MIDDLE``.

In a version-2 segment the zeros after the last non-zero byte are preallocated free space, the end
of the data, not damage (a whole frame always ends in a non-zero byte). So damage that zeroes the
very end of the last frame looks exactly like a write cut short and is reported as ``TORN_TAIL``:
from the bytes alone the two cannot be told apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from kalshi_collector.storage.journal.frames import FORMATS, HEADER_SIZE, FrameFormat, Probe, ProbeStatus

__all__ = ["SegmentScan", "SkipKind", "Skipped", "read_segment", "scan_bytes"]


class SkipKind(Enum):
    HEADER = "damaged header"
    MIDDLE = "damaged bytes between intact frames"
    TORN_TAIL = "incomplete last frame (its write never completed: never synced)"
    DAMAGED_TAIL = "damaged bytes after the last intact frame"


@dataclass(frozen=True)
class Skipped:
    offset: int
    length: int
    kind: SkipKind


@dataclass
class SegmentScan:
    """What one segment holds: its intact frames, and every byte range that could not be read."""

    version: int | None = None  # format of the frames found; None: no format recognised
    frames: list[list[list[Any]]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    data_end: int = 0  # offset just past the last data byte (before a preallocated zero tail)

    def batches(self) -> Iterator[tuple[str, list]]:
        for frame in self.frames:
            yield from frame

    @property
    def rows(self) -> int:
        return sum(len(rows) for _, rows in self.batches())

    @property
    def torn_bytes(self) -> int:
        """Bytes of an incomplete last frame: never acknowledged, nothing lost."""
        return sum(s.length for s in self.skipped if s.kind is SkipKind.TORN_TAIL)

    @property
    def damaged_bytes(self) -> int:
        """Bytes that may have held acknowledged rows and cannot be read."""
        return sum(s.length for s in self.skipped if s.kind is not SkipKind.TORN_TAIL)

    @property
    def damaged(self) -> bool:
        return any(s.kind is not SkipKind.TORN_TAIL for s in self.skipped)

    def describe(self) -> str:
        """The skipped ranges in one line, e.g. ``damaged header: 8 bytes at offset 0``."""
        return "; ".join(f"{s.kind.value}: {s.length:,} bytes at offset {s.offset:,}" for s in self.skipped)


def read_segment(path: Path) -> SegmentScan:
    """Read every intact frame of one segment file (see the module docstring)."""
    return scan_bytes(Path(path).read_bytes())


def scan_bytes(data: bytes) -> SegmentScan:
    fmt = FORMATS.get(data[:HEADER_SIZE])
    if fmt is not None:
        return _scan(data, fmt)
    if len(data) < HEADER_SIZE and any(magic.startswith(data) for magic in FORMATS):
        return SegmentScan(data_end=len(data))  # a crash while the header was written: empty
    header = Skipped(0, min(len(data), HEADER_SIZE), SkipKind.HEADER)
    scans = [_scan(data, fmt) for fmt in FORMATS.values()]
    best = next((scan for scan in scans if scan.frames), scans[0])
    if not best.frames:
        best.version = None
    best.skipped.insert(0, header)
    return best


def _scan(data: bytes, fmt: FrameFormat) -> SegmentScan:
    end = len(data.rstrip(b"\0")) if fmt.zero_tail_is_end else len(data)
    scan = SegmentScan(version=fmt.version, data_end=max(end, min(len(data), HEADER_SIZE)))
    pos = HEADER_SIZE
    while pos < end:
        probe = fmt.probe(data, pos, end)
        if probe.status is not ProbeStatus.WHOLE:
            found = _next_whole(data, pos + 1, end, fmt)
            if found is None:
                kind = SkipKind.TORN_TAIL if probe.status is ProbeStatus.CUT_SHORT else SkipKind.DAMAGED_TAIL
                scan.skipped.append(Skipped(pos, end - pos, kind))
                break
            start, probe = found
            scan.skipped.append(Skipped(pos, start - pos, SkipKind.MIDDLE))
        assert probe.frame is not None
        scan.frames.append(probe.frame)
        pos = probe.end
    return scan


def _next_whole(data: bytes, pos: int, end: int, fmt: FrameFormat) -> tuple[int, Probe] | None:
    """The first whole frame at or after ``pos``, if any: where reading resumes after damage."""
    for start in fmt.candidates(data, pos, end):
        probe = fmt.probe(data, start, end)
        if probe.status is ProbeStatus.WHOLE:
            return start, probe
    return None
