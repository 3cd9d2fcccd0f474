"""Segment files on disk: the one being appended to, and the spare made ready ahead of it.

Space is reserved up front: a segment is created with ``fallocate`` to its full size, so appending
a frame writes into blocks the filesystem already gave us and does not need free space at the
moment the disk fills up. :class:`SpareSegment` keeps the *next* segment created, allocated and
fsynced under a name recovery ignores, so switching to it is one ``rename``: a rotation never needs
fresh space either. Where ``fallocate`` is not supported the segments simply grow (one warning).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from kalshi_collector.storage.journal.fileops import (
    NO_ROOM_ERRNOS,
    UNSUPPORTED_ERRNOS,
    FileOps,
    fsync_dir,
    write_all,
)
from kalshi_collector.storage.journal.frames import HEADER_SIZE, MAGIC
from kalshi_collector.storage.journal.segments import damaged_path

__all__ = ["OpenSegment", "Preallocation", "SpareSegment"]

log = logging.getLogger(__name__)

_SPARE_PROBE = 4096  # bytes after the header checked to be zero before a leftover spare is reused


class Preallocation:
    """Whether this filesystem preallocates; learnt from the first ``fallocate`` (warned once)."""

    def __init__(self, ops: FileOps, size: int) -> None:
        self.ops, self.size, self.supported = ops, size, True

    def allocate(self, fd: int, path: Path, *, unreserved_ok: bool = False) -> int:
        """Reserve ``size`` bytes for ``fd``; return the bytes now allocated. Raises ENOSPC etc.,
        unless ``unreserved_ok``: then a disk too full for it gives a segment that grows (warned)."""
        if not self.supported:
            return HEADER_SIZE
        try:
            self.ops.fallocate(fd, 0, self.size)
        except OSError as exc:
            if unreserved_ok and exc.errno in NO_ROOM_ERRNOS:
                log.warning("no room to reserve %d bytes for a journal segment in %s (%s): using one without "
                            "reserved space until the disk has room again", self.size, path.parent, exc)
                return HEADER_SIZE
            if exc.errno not in UNSUPPORTED_ERRNOS:
                raise
            self.supported = False
            log.warning("the filesystem of %s cannot preallocate journal segments (%s): segments grow as "
                        "they are written, so a full disk can stop the journal too", path.parent, exc)
            return HEADER_SIZE
        return self.size


class OpenSegment:
    """A journal segment open for appending at :attr:`pos`; frames go in whole or not at all."""

    def __init__(self, ops: FileOps, fd: int, number: int, allocated: int, capacity: int) -> None:
        self.ops, self.fd, self.number = ops, fd, number
        self.allocated = allocated  # bytes reserved on disk (reads as zeros beyond pos)
        self.capacity = capacity  # rotate before a frame would pass this (a lone big frame may)
        self.pos = HEADER_SIZE

    @property
    def empty(self) -> bool:
        return self.pos == HEADER_SIZE

    @property
    def reserved(self) -> bool:
        """Whether this segment has preallocated space (else it grows as it is written)."""
        return self.allocated > HEADER_SIZE

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.pos)

    def write(self, pieces: Sequence[bytes | bytearray | memoryview]) -> None:
        """Write a frame's ``pieces`` at the end, one after the other, and ``fdatasync`` (the
        blocks are allocated: no metadata)."""
        pos = self.pos
        for piece in pieces:
            view = memoryview(piece).cast("B")
            write_all(self.ops, self.fd, view, pos)
            pos += view.nbytes
        self.ops.fdatasync(self.fd)
        self.pos = pos

    def erase(self, length: int) -> None:
        """Undo a failed write of ``length`` bytes at :attr:`pos`: zeros inside the allocation (so
        the reserve is kept), truncation beyond it. Raises OSError if even that fails."""
        end = self.pos + length
        if end > self.allocated:
            self.ops.ftruncate(self.fd, max(self.pos, self.allocated))
            end = self.allocated
        if end > self.pos:
            write_all(self.ops, self.fd, bytes(end - self.pos), self.pos)
        self.ops.fdatasync(self.fd)

    def close(self) -> None:
        """Give the unused preallocated tail back to the filesystem, then close (never raises)."""
        try:
            if self.allocated > self.pos:
                self.ops.ftruncate(self.fd, self.pos)
        except OSError as exc:
            log.debug("cannot trim journal segment %d: %s", self.number, exc)
        try:
            self.ops.close(self.fd)
        except OSError as exc:
            log.debug("cannot close journal segment %d: %s", self.number, exc)


class SpareSegment:
    """The next segment, ready ahead of time at ``path``: header written, space allocated, synced."""

    def __init__(self, ops: FileOps, path: Path, prealloc: Preallocation) -> None:
        self.ops, self.path, self.prealloc = ops, path, prealloc
        self._fd = -1
        self._allocated = 0
        self._missing_logged = False

    @property
    def ready(self) -> bool:
        return self._fd >= 0

    @property
    def allocated(self) -> int:
        return self._allocated if self.ready else 0

    def adopt_leftover(self) -> None:
        """Reuse the spare an earlier process left (it holds nothing); replace it if it is not one."""
        try:
            fd = self.ops.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return
        head = os.pread(fd, HEADER_SIZE + _SPARE_PROBE, 0)
        if head[:HEADER_SIZE] != MAGIC and MAGIC.startswith(head.rstrip(b"\0")):
            self._drop(fd)  # its creation was interrupted: nothing in it, make a new one
            return
        if head[:HEADER_SIZE] != MAGIC or head[HEADER_SIZE:].strip(b"\0"):
            self.ops.close(fd)
            kept = damaged_path(self.path)
            log.error("%s is not an empty spare journal segment; kept as %s for inspection", self.path, kept)
            self.ops.rename(self.path, kept)
            return
        allocated = os.fstat(fd).st_size
        if allocated < self.prealloc.size:
            try:
                allocated = max(allocated, self.prealloc.allocate(fd, self.path))
            except OSError as exc:
                log.debug("cannot grow the leftover spare journal segment %s: %s", self.path, exc)
        self._fd, self._allocated = fd, allocated

    def refill(self) -> bool:
        """Make a spare if there is none; on failure log once (until it works again) and say so."""
        if self.ready:
            return True
        try:
            self._create()
        except OSError as exc:
            if not self._missing_logged:
                self._missing_logged = True
                log.warning("no spare journal segment can be allocated in %s (%s): the next rotation "
                            "needs free disk space; retried at every rotation", self.path.parent, exc)
            return False
        if self._missing_logged:
            self._missing_logged = False
            log.info("spare journal segment allocated again in %s", self.path.parent)
        return True

    def _create(self, *, unreserved_ok: bool = False) -> None:
        fd = self.ops.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(self.ops, fd, MAGIC, 0)
            allocated = self.prealloc.allocate(fd, self.path, unreserved_ok=unreserved_ok)
            self.ops.fdatasync(fd)
        except BaseException:
            self._drop(fd)
            raise
        self._fd, self._allocated = fd, allocated

    def install(self, target: Path, number: int, capacity: int, *, unreserved_ok: bool = False) -> OpenSegment:
        """Rename the spare to ``target`` (made durable) and return it open; makes one first if
        needed (without reserved space if the disk is too full and ``unreserved_ok``). Raises
        OSError (the spare, if any, stays the spare unless the rename happened)."""
        if not self.ready:
            self._create(unreserved_ok=unreserved_ok)
        self.ops.rename(self.path, target)
        fd, allocated = self._fd, self._allocated
        self._fd = -1
        try:
            fsync_dir(self.ops, target.parent)
        except BaseException:
            self.ops.close(fd)
            raise
        return OpenSegment(self.ops, fd, number, allocated, capacity)

    def discard(self) -> None:
        """Delete the spare, giving its space back (never raises)."""
        if self.ready:
            fd, self._fd = self._fd, -1
            self._drop(fd)

    def _drop(self, fd: int) -> None:
        for undo in (lambda: self.ops.close(fd), lambda: self.ops.unlink(self.path)):
            try:
                undo()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    log.debug("cleaning up spare journal segment %s: %s", self.path, exc)
