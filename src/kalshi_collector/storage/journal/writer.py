"""The appending side of the journal: one writer per process and collector id (enforced by a lock).

Not thread-safe on its own: the store calls every method under its journal lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from kalshi_collector.config import ConfigError
from kalshi_collector.repeats import ErrorKind, RepeatedLog
from kalshi_collector.storage.journal.fileops import NO_ROOM_ERRNOS, OS_FILE_OPS, FileOps, fsync_dir
from kalshi_collector.storage.journal.pieces import Buffer, pieces_length
from kalshi_collector.storage.journal.reserve import OpenSegment, Preallocation, SpareSegment
from kalshi_collector.storage.journal.segments import (
    damaged_path,
    list_segments,
    lock_path,
    segment_path,
    spare_path,
)

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "JournalFullError",
    "JournalLockedError",
    "JournalOptions",
    "JournalReserve",
    "JournalWriter",
]

log = logging.getLogger(__name__)

DEFAULT_SEGMENT_BYTES = 64 << 20
_MIN_SEGMENT_BYTES = 4096


@dataclass(frozen=True)
class JournalOptions:
    """How the journal uses the disk: segment size (= the space reserved ahead) and the file layer."""

    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ops: FileOps = field(default=OS_FILE_OPS, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.segment_bytes < _MIN_SEGMENT_BYTES:
            raise ValueError(f"journal segment_bytes {self.segment_bytes}: expected at least {_MIN_SEGMENT_BYTES}")


class JournalLockedError(ConfigError):
    """Another live store with the same collector id already owns this journal."""


class JournalFullError(OSError):
    """The journal has no room for a frame: its reserve is used up and the disk has no free space.

    The caller keeps the rows (in memory) and retries; ``errno`` is ENOSPC or EDQUOT.
    """


class JournalReserve(NamedTuple):
    """Space the journal can still write without asking the filesystem for more."""

    segment_room: int  # bytes the current segment can still take before it rotates
    spare_bytes: int  # bytes allocated for the spare segment (0: there is none right now)
    preallocated: bool  # False: the filesystem cannot preallocate, nothing is reserved

    @property
    def total(self) -> int:
        return self.segment_room + self.spare_bytes if self.preallocated else 0


class JournalWriter:
    """Appends frames to numbered segments, rotates, and retires segments once their rows are stored.

    ``inherited``: segments an earlier process left, to be recovered (oldest first) by the caller,
    which takes them over with :meth:`adopt_inherited`. Segments this process created or adopted are
    :attr:`owned`; :meth:`delete_upto` retires them (deletes, or keeps a :meth:`quarantine`-d one).
    """

    def __init__(
        self,
        directory: Path,
        collector_id: str,
        *,
        options: JournalOptions | None = None,
        clock_us: Callable[[], int] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.collector_id = collector_id
        self.options = options or JournalOptions()
        self._ops = self.options.ops
        self._clock_us = clock_us or (lambda: time.time_ns() // 1000)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._take_lock()
        existing = list_segments(self.directory, collector_id)
        self.inherited: list[tuple[int, Path]] = existing
        """Segments left by an earlier process, to be recovered (oldest first)."""
        self._owned: list[int] = []  # segments this process created or adopted, current last
        self._keep: set[int] = set()  # owned segments to keep (renamed) rather than delete
        self._last_number = existing[-1][0] if existing else 0
        self._prealloc = Preallocation(self._ops, self.options.segment_bytes)
        self._spare = SpareSegment(self._ops, spare_path(self.directory, collector_id), self._prealloc)
        self._broken = False  # the current segment ends in a frame that could not be undone
        self._undo_errors = RepeatedLog(log)  # a failing disk fails every undo: once a minute
        try:
            self._spare.adopt_leftover()
            self._segment: OpenSegment = self._install_next(unreserved_ok=True)
        except BaseException:
            self._spare.discard()
            os.close(self._lock_fd)
            raise
        self._spare.refill()

    # -- lifetime -------------------------------------------------------------------------------

    def _take_lock(self) -> int:
        path = lock_path(self.directory, self.collector_id)
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
        """Trim the current segment to its data, delete the spare, release the lock.

        The (possibly empty) current segment stays: it is the newest number on disk, which keeps
        segment numbers growing across restarts. A clean stop gives the reserve back; the next
        start allocates it again.
        """
        if self.closed:
            return
        self._segment.close()
        self._spare.discard()
        os.close(self._lock_fd)
        self._lock_fd = -1

    # -- segments -------------------------------------------------------------------------------

    @property
    def current(self) -> int:
        """Number of the segment frames are appended to."""
        return self._segment.number

    @property
    def owned(self) -> list[int]:
        return list(self._owned)

    @property
    def reserve(self) -> JournalReserve:
        return JournalReserve(self._segment.room, self._spare.allocated, self._prealloc.supported)

    def _install_next(self, *, unreserved_ok: bool) -> OpenSegment:
        number = max(self._last_number + 1, self._clock_us())
        self._last_number = number  # never reused, even if installing fails
        path = segment_path(self.directory, self.collector_id, number)
        self._owned.append(number)
        try:
            return self._spare.install(path, number, self.options.segment_bytes, unreserved_ok=unreserved_ok)
        except BaseException:
            if not path.exists():
                self._owned.remove(number)
            raise

    def _switch(self, *, unreserved_ok: bool) -> None:
        """Make the next segment current; on OSError the current one stays in use, untouched.

        ``unreserved_ok``: if neither the spare nor a preallocated segment can be had, take one that
        grows; only when that gives up no reserved space (the current one is full or has none).
        """
        new = self._install_next(unreserved_ok=unreserved_ok)
        old, self._segment, self._broken = self._segment, new, False
        old.close()
        self._spare.refill()

    def rotate(self) -> int:
        """Start a new segment; return the number of the one just closed.

        The new segment is the spare, renamed (no fresh space needed); a new spare is then made if
        the disk allows. If no segment can be had, OSError propagates and the current one stays;
        a segment with reserved space is never left for one without (the rows are safer where they are).
        """
        closed = self.current
        self._switch(unreserved_ok=not self._segment.reserved)
        return closed

    def adopt_inherited(self) -> list[tuple[int, Path]]:
        """Hand the inherited segments over to the caller, which now owns their rows."""
        inherited, self.inherited = self.inherited, []
        self._owned = sorted(set(self._owned) | {n for n, _ in inherited})
        return inherited

    def delete_upto(self, number: int) -> int:
        """Retire the owned segments numbered ``<= number`` (never the current one): delete them,
        or rename a :meth:`quarantine`-d one to ``*.wal.damaged``. Returns how many were retired."""
        doomed = [n for n in self._owned if n <= number and n != self.current]
        try:
            for n in doomed:
                self._retire(n)
                self._owned.remove(n)
        finally:
            if doomed:
                fsync_dir(self._ops, self.directory)
        self._spare.refill()  # retiring freed space
        return len(doomed)

    def _retire(self, number: int) -> None:
        path = segment_path(self.directory, self.collector_id, number)
        try:
            if number in self._keep:
                self._ops.rename(path, damaged_path(path))
                log.info("damaged journal segment %s: its intact rows are stored; kept as %s",
                            path.name, damaged_path(path).name)
            else:
                self._ops.unlink(path)
        except FileNotFoundError:
            pass
        self._keep.discard(number)

    def disown(self, number: int) -> None:
        """Never touch this segment again (it could not be read: leave it for a human)."""
        self._owned = [n for n in self._owned if n != number]
        self._keep.discard(number)

    def quarantine(self, number: int) -> None:
        """When this segment is retired, keep it as ``*.wal.damaged`` instead of deleting it."""
        if number in self._owned:
            self._keep.add(number)

    # -- appending ------------------------------------------------------------------------------

    def append(self, frame: bytes | Sequence[Buffer]) -> None:
        """Append one encoded frame (bytes, or the pieces of :func:`~.pieces.frame_pieces`, written
        one after the other) and ``fdatasync``; rotate first if the segment is full.

        On OSError nothing of the frame is left behind (the bytes are zeroed again), so the caller
        retries the same rows; :class:`JournalFullError` when there is no room at all.
        """
        pieces = (frame,) if isinstance(frame, (bytes, bytearray, memoryview)) else frame
        length = pieces_length(pieces)
        if self._broken or (length > self._segment.room and not self._segment.empty):
            try:
                self._switch(unreserved_ok=True)  # the current one is full or broken: nothing to keep
            except OSError as exc:
                raise self._no_room(exc, length) from exc
        segment = self._segment
        try:
            segment.write(pieces)
        except OSError as exc:
            self._undo(segment, length)
            raise self._no_room(exc, length) from exc

    def _undo(self, segment: OpenSegment, length: int) -> None:
        try:
            segment.erase(length)
        except OSError as exc:
            self._undo_errors.error(ErrorKind.of(exc), "journal segment %d: a failed write cannot be undone (%s): "
                                    "continuing in a new segment", segment.number, exc)
            self._broken = True

    def _no_room(self, exc: OSError, length: int) -> OSError:
        if exc.errno not in NO_ROOM_ERRNOS:
            return exc
        reserve = self.reserve
        return JournalFullError(
            exc.errno,
            f"no room for {length:,} more journal bytes in {self.directory} ({exc.strerror}; "
            f"{reserve.segment_room:,} bytes left in the current segment, "
            f"{'a spare' if reserve.spare_bytes else 'no spare'}): the rows stay in memory and are retried "
            "at the next sync; free disk space",
        )
