"""Faults for the journal tests: a file layer that fails chosen calls, and a disk that fills up.

``FaultyOps`` is the journal's own injectable file layer (``journal.fileops``) with real ``os``
underneath; an armed call raises a real ``OSError`` (optionally after writing half its bytes, as
a write cut short by a full disk does). ``FullDisk`` makes the same layer, and a ``LocalFS`` for
the part files, behave like a disk with no free blocks: nothing new can be allocated, while
blocks already allocated (the journal's reserve) can still be written.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from storage_helpers import T0, delta_row

from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.journal import OsFileOps


def os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@dataclass
class Fault:
    code: int
    skip: int = 0  # let this many matching calls through first
    times: int = 1  # then fail this many
    partial: bool = False  # pwrite: write the first half, then fail


class FaultyOps(OsFileOps):
    """Plain ``os``, except the calls armed with :meth:`arm`; :attr:`calls` counts every call."""

    def __init__(self) -> None:
        self.faults: dict[str, list[Fault]] = {}
        self.calls: Counter[str] = Counter()

    def arm(self, op: str, code: int, *, skip: int = 0, times: int = 1, partial: bool = False) -> None:
        self.faults.setdefault(op, []).append(Fault(code, skip, times, partial))

    def _due(self, op: str) -> Fault | None:
        self.calls[op] += 1
        for fault in self.faults.get(op, []):
            if fault.skip:
                fault.skip -= 1
                return None
            if fault.times:
                fault.times -= 1
                return fault
        return None

    def _fail(self, op: str) -> None:
        fault = self._due(op)
        if fault:
            raise os_error(fault.code)

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        fault = self._due("pwrite")
        if fault:
            if fault.partial and len(data) > 1:
                os.pwrite(fd, data[: len(data) // 2], offset)
            raise os_error(fault.code)
        return super().pwrite(fd, data, offset)

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        self._fail("open")
        return super().open(path, flags, mode)

    def fdatasync(self, fd: int) -> None:
        self._fail("fdatasync")
        super().fdatasync(fd)

    def fsync(self, fd: int) -> None:
        self._fail("fsync")
        super().fsync(fd)

    def fallocate(self, fd: int, offset: int, length: int) -> None:
        self._fail("fallocate")
        super().fallocate(fd, offset, length)

    def ftruncate(self, fd: int, length: int) -> None:
        self._fail("ftruncate")
        super().ftruncate(fd, length)

    def rename(self, src: Path, dst: Path) -> None:
        self._fail("rename")
        super().rename(src, dst)

    def unlink(self, path: Path) -> None:
        self._fail("unlink")
        super().unlink(path)


class FullDisk(FaultyOps):
    """While :attr:`full`: no new block (ENOSPC for ``fallocate``, for a write past a file's end,
    for a new file's first bytes); writes into blocks a file already has still work."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False

    def fallocate(self, fd: int, offset: int, length: int) -> None:
        if self.full and offset + length > os.fstat(fd).st_size:
            raise os_error(errno.ENOSPC)
        super().fallocate(fd, offset, length)

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        size = os.fstat(fd).st_size
        if self.full and offset + len(data) > size:
            fits = max(0, size - offset)
            if not fits:
                raise os_error(errno.ENOSPC)
            return super().pwrite(fd, memoryview(data)[:fits], offset)  # short write, ENOSPC next
        return super().pwrite(fd, data, offset)

    def parts(self) -> LocalFS:
        """A part-file layer on the same disk: every write fails while it is full."""
        disk = self

        class PartsOnFullDisk(LocalFS):
            def write_parquet(self, path, table, **options):
                if disk.full:
                    raise os_error(errno.ENOSPC)
                return super().write_parquet(path, table, **options)

            def write_bytes(self, path, data):
                if disk.full:
                    raise os_error(errno.ENOSPC)
                return super().write_bytes(path, data)

        return PartsOnFullDisk()


class FullRun(NamedTuple):
    promised: int  # rows with id < promised were synced (a kill -9 must not lose them)
    appended: int  # rows with id < appended were accepted
    full_errors: int  # syncs refused for want of room once the reserve was used up


def journal_until_full(store: LiveStore, fill_disk: Callable[[], None], *, batch: int = 100) -> FullRun:
    """Store 300 rows, fill the disk, then append and sync (and try to flush) until the journal's
    reserve is used up and three syncs in a row were refused."""
    def append(start: int) -> int:
        store.extend("orderbook_deltas", [delta_row(T0 + i * 1000, i) for i in range(start, start + batch)])
        return start + batch

    appended = append(append(append(0)))
    store.sync()
    assert store.flush() == {"orderbook_deltas": appended}, "the disk was full before the test filled it"
    fill_disk()
    promised, refused, syncs = appended, 0, 0
    while refused < 3:
        appended = append(appended)
        errors = store.stats["journal_errors"]
        store.sync()
        syncs += 1
        if store.stats["journal_errors"] > errors:
            refused += 1
        elif store.unsynced_rows == 0:
            promised = appended
        if syncs % 5 == 0:
            store.flush()  # fails: the part files cannot be written
        assert syncs < 10_000, "the journal never ran out of room"
    return FullRun(promised, appended, refused)


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the filesystem has no block left."""
    with open(path, "wb", buffering=0) as fh:
        chunk = bytes(4096)
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
