"""Write-ahead journal: what the collector received survives a ``kill -9`` between two flushes.

Format
------
A journal is a folder of *segments* ``CID-NNNNNNNNNNNNNNNNNNNN.wal`` (``CID`` = collector id, ``N``
= segment number, zero-padded). A segment starts with the 8-byte magic :data:`MAGIC`, then frames::

    <u32 little-endian payload length> <u32 CRC-32 of payload> <payload>

The payload is msgpack (msgspec) of ``[[table, [row, row, ...]], ...]``: one frame per
:meth:`JournalWriter.append` call, i.e. per ``sync``, covering every table at once, so a torn write
tears at most one frame and never leaves half a sync looking complete. A reader stops at the first
frame whose length runs past the end of the file or whose CRC does not match: that is the tail a
crash tore, it was never acknowledged, and it is ignored (counted, never fatal). Each segment is
read on its own, so a torn frame in an older segment does not hide newer segments.

Segment numbers only grow, across restarts too: a new segment gets
``max(newest number on disk + 1, now in microseconds)``, and the store never deletes the newest
segment before a newer one exists. Part files carry the number of the segment they were cut at
(``part-CID-FIRST-LAST-N.parquet``), and everything below depends on "a bigger N is later".

Invariant the store keeps (``live.py``)
---------------------------------------
*Coverage*: if a part of table T for UTC day D named with N exists (or is listed as merged in the
footer of T's day file for D), then every T-row of day D journaled in a segment ``<= N`` is in a
part or in the day file. A flush rotates at N (closes segment N, opens N+1), takes *every*
journaled row into its snapshot and writes one part per (table, day); a (table, day) whose write
fails gets all of its rows put back and no part, so a part never covers only some of its rows.
Recovery relies on this: a journaled row of (T, D) in segment s is replayed only if no part of
(T, D) with ``N >= s`` exists. Rows of this process land in segments > N of every old part, so a
fresh row is never mistaken for a stored one.

Crash points (kill -9 at any instruction) and what happens
-----------------------------------------------------------
Sync (append + fsync):
  S1. During the frame write: the frame is torn; the reader drops it. ``sync`` had not returned,
      so those rows were never promised; they exist nowhere else, so nothing is duplicated.
  S2. After the write, before ``fsync`` returned: the frame is either whole (CRC matches, replayed)
      or torn (dropped). Not yet promised either way; never duplicated.
  S3. The write fails (disk full, EFBIG, EIO) without a crash: the segment is truncated back to its
      last whole frame and the rows go back to the front of the pending buffer for the next sync.
      If even the truncation fails, the segment is abandoned (nothing is ever appended after a torn
      frame) and the next sync opens a new one. Residual risk, stated honestly: if ``fsync`` fails
      after a write the kernel did keep and the truncation fails too, that frame may survive and
      its rows be journaled twice; recovery would then store them twice.
Rotation (start of a flush):
  R1. While creating segment N+1: a file with a missing or partial magic, read as empty and deleted
      later; segment N is intact and still holds its rows.
Flush (parts, then retire segments <= N):
  F1. Before any part is renamed into place: no part with this N exists; recovery replays every
      row of segments <= N.
  F2. After some (table, day) parts were renamed, before others: the written ones cover their rows
      (coverage invariant), recovery skips those and replays the rest: exactly once.
  F3. In the middle of writing a part: only a dot-named temp file exists; readers never look at
      dot-files and stale ones are deleted by compaction.
  F4. After every part, before or while deleting segments <= N: every (table, day) is covered;
      recovery replays nothing from them and deletes them.
Recovery (adopt old segments into the buffer, then an ordinary flush with a new N): a crash during
it is one of F1-F4 again, with a larger N; running it twice, or crashing in it any number of times,
gives the same stored rows.
Compaction (in ``compact.py``):
  C1. While writing the day file: only a temp file; the parts are untouched.
  C2. After the day file is renamed into place, before the parts are deleted: the day file's footer
      lists the part names it merged; readers skip those parts, the next compaction only deletes
      them, recovery counts them as covering.
  C3. Half-way through deleting the parts: same as C2.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from kalshi_collector.config import ConfigError
from kalshi_collector.storage.atomic import fsync_dir

__all__ = [
    "MAGIC",
    "JournalLockedError",
    "JournalWriter",
    "SegmentScan",
    "encode_frame",
    "encode_rejects",
    "list_segments",
    "read_segment",
    "segment_path",
]

log = logging.getLogger(__name__)

MAGIC = b"KCJRNL1\n"
_HEADER = struct.Struct("<II")
_MAX_PAYLOAD = 1 << 31  # a length beyond this is a torn or foreign header, not a frame


def _enc_hook(obj: Any) -> Any:
    """Make anything encodable, so one odd value cannot block the journal.

    numpy scalars become their Python value; anything else its ``repr``, which the flush then
    rejects as a bad row (quarantined, never silently dropped).
    """
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:  # noqa: BLE001 - fall back to repr below
            pass
    return repr(obj)


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_decoder = msgspec.msgpack.Decoder()


def encode_frame(batches: list[tuple[str, list]]) -> bytes:
    """One frame (header + payload) holding ``[(table, rows), ...]``."""
    buf = bytearray(_HEADER.size)
    try:
        _encoder.encode_into(batches, buf, _HEADER.size)
    except (TypeError, ValueError, OverflowError):
        # A value msgpack cannot hold at all (e.g. an int beyond 64 bits): keep the good rows, and
        # turn each bad one into a one-element row that the flush will quarantine with its repr.
        safe = [(table, [_encodable(row) for row in rows]) for table, rows in batches]
        buf = bytearray(_HEADER.size)
        _encoder.encode_into(safe, buf, _HEADER.size)
    payload = memoryview(buf)[_HEADER.size :]
    _HEADER.pack_into(buf, 0, len(payload), zlib.crc32(payload))
    return bytes(buf)


def encode_rejects(rejected: list[tuple[Any, str]]) -> bytes:
    """Quarantine file content: msgpack list of ``{"row": ..., "reason": ...}``; never fails."""
    return _encoder.encode([{"row": _encodable(row), "reason": reason} for row, reason in rejected])


def _encodable(row: Any) -> Any:
    try:
        _encoder.encode(row)
        return row
    except (TypeError, ValueError, OverflowError):
        return [f"unencodable row: {row!r}"]


_SEGMENT_RE = re.compile(r"^([A-Za-z0-9_]+)-(\d{20})\.wal$")


def segment_path(directory: Path, collector_id: str, number: int) -> Path:
    return directory / f"{collector_id}-{number:020d}.wal"


def list_segments(directory: Path, collector_id: str) -> list[tuple[int, Path]]:
    """This collector's segments, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        m = _SEGMENT_RE.match(name)
        if m and m[1] == collector_id:
            found.append((int(m[2]), directory / name))
    return sorted(found)


@dataclass
class SegmentScan:
    """What a segment holds: the whole frames, and how many bytes at the end were torn."""

    frames: list[list[list[Any]]] = field(default_factory=list)
    torn_bytes: int = 0
    bad_magic: bool = False

    def batches(self) -> Iterator[tuple[str, list]]:
        for frame in self.frames:
            yield from frame


def read_segment(path: Path) -> SegmentScan:
    """Read every whole frame of one segment; stop quietly at a torn or corrupt one."""
    scan = SegmentScan()
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        # A crash while creating the segment leaves a prefix of the magic (or nothing): empty.
        scan.bad_magic = not MAGIC.startswith(data)
        scan.torn_bytes = len(data)
        return scan
    pos = len(MAGIC)
    end = len(data)
    view = memoryview(data)
    while pos < end:
        if end - pos < _HEADER.size:
            break
        length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        if length > _MAX_PAYLOAD or start + length > end:
            break
        payload = view[start : start + length]
        if zlib.crc32(payload) != crc:
            break
        try:
            frame = _decoder.decode(payload)
        except msgspec.DecodeError:
            break
        if not _is_frame(frame):
            break
        scan.frames.append(frame)
        pos = start + length
    scan.torn_bytes = end - pos
    return scan


def _is_frame(obj: Any) -> bool:
    return isinstance(obj, list) and all(
        isinstance(b, list) and len(b) == 2 and isinstance(b[0], str) and isinstance(b[1], list) for b in obj
    )


class JournalLockedError(ConfigError):
    """Another live store with the same collector id already owns this journal."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class JournalWriter:
    """The appending side of the journal; one per process and collector id (enforced by a lock).

    Not thread-safe on its own: the store calls it under its journal lock.
    """

    def __init__(self, directory: Path, collector_id: str, *, clock_us=None) -> None:
        self.directory = Path(directory)
        self.collector_id = collector_id
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._take_lock()
        existing = list_segments(self.directory, collector_id)
        self.inherited: list[tuple[int, Path]] = existing
        """Segments left by an earlier process, to be recovered (oldest first)."""
        self._owned: list[int] = []  # segments this process created or adopted, current last
        self._last_number = existing[-1][0] if existing else 0
        self._fd = -1
        self._size = 0
        self._broken = False
        self.current = self._open_segment()

    # -- lifetime -------------------------------------------------------------------------------

    def _take_lock(self) -> int:
        path = self.directory / f"{self.collector_id}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLockedError(
                f"another collector with collector_id {self.collector_id!r} is already writing to "
                f"{self.directory.parent} (lock {path} is held): give each collector its own "
                "`storage.collector_id`, or stop the other one"
            ) from None
        return fd

    @property
    def closed(self) -> bool:
        return self._lock_fd < 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- segments -------------------------------------------------------------------------------

    def _open_segment(self) -> int:
        number = max(self._last_number + 1, self._clock_us())
        path = segment_path(self.directory, self.collector_id, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            _write_all(fd, MAGIC)
            os.fsync(fd)
            fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        old_fd = self._fd
        self._fd, self._size, self._broken = fd, len(MAGIC), False
        self._last_number = number
        self._owned.append(number)
        if old_fd >= 0:
            os.close(old_fd)
        return number

    def rotate(self) -> int:
        """Start a new segment; return the number of the one just closed.

        The new segment exists (fsynced) before the old one is closed: if creating it fails,
        OSError propagates and the current segment stays in use, untouched.
        """
        closed = self.current
        self.current = self._open_segment()
        return closed

    def adopt_inherited(self) -> list[tuple[int, Path]]:
        """Hand the inherited segments over to the caller, which now owns their rows."""
        inherited, self.inherited = self.inherited, []
        self._owned = sorted(set(self._owned) | {n for n, _ in inherited})
        return inherited

    def delete_upto(self, number: int) -> int:
        """Delete the owned segments numbered ``<= number`` (never the current one)."""
        doomed = [n for n in self._owned if n <= number and n != self.current]
        for n in doomed:
            try:
                os.unlink(segment_path(self.directory, self.collector_id, n))
            except FileNotFoundError:
                pass
        self._owned = [n for n in self._owned if n not in doomed]
        if doomed:
            fsync_dir(self.directory)
        return len(doomed)

    def disown(self, number: int) -> None:
        """Never delete this segment (it could not be read: leave it for a human)."""
        self._owned = [n for n in self._owned if n != number]

    @property
    def owned(self) -> list[int]:
        return list(self._owned)

    # -- appending ------------------------------------------------------------------------------

    def append(self, frame: bytes) -> None:
        """Append one encoded frame and fsync. On OSError the segment is left as it was."""
        if self._broken:
            self.current = self._open_segment()
        good = self._size
        try:
            _write_all(self._fd, frame)
            os.fsync(self._fd)
        except OSError:
            self._truncate_to(good)
            raise
        self._size = good + len(frame)

    def _truncate_to(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        except OSError as exc:
            log.error("journal segment %s cannot be truncated after a failed write (%s): starting a new one",
                      self.current, exc)
            self._broken = True
