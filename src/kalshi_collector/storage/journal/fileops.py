"""The low-level file calls of the journal writer, behind a small protocol so tests can fail them.

The writer never calls ``os`` for anything that changes a file: it goes through a :class:`FileOps`,
which is :data:`OS_FILE_OPS` (plain ``os``) unless the caller hands it another one. A test hands it
a subclass that raises ``ENOSPC``/``EIO``/``EROFS`` at a chosen call, which is how a full or failing
disk is reproduced on any machine (a real small ``tmpfs`` mount is tested too, where allowed).
Reading stays on plain ``os``/``pathlib``: recovery reads what is on disk, whatever wrote it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Protocol

__all__ = ["FileOps", "NO_ROOM_ERRNOS", "OsFileOps", "OS_FILE_OPS", "UNSUPPORTED_ERRNOS", "fsync_dir", "write_all"]

NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"""A full disk or an exhausted quota."""

UNSUPPORTED_ERRNOS = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL})
"""What ``fallocate`` raises on a filesystem that cannot preallocate (then segments simply grow)."""


class FileOps(Protocol):
    """The file calls the journal writer makes; every one may raise :class:`OSError`."""

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int: ...

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> int: ...

    def fdatasync(self, fd: int) -> None: ...

    def fsync(self, fd: int) -> None: ...

    def fallocate(self, fd: int, offset: int, length: int) -> None: ...

    def ftruncate(self, fd: int, length: int) -> None: ...

    def rename(self, src: Path, dst: Path) -> None: ...

    def unlink(self, path: Path) -> None: ...

    def close(self, fd: int) -> None: ...


class OsFileOps:
    """:class:`FileOps` on plain ``os`` (``fdatasync`` falls back to ``fsync`` where it is missing)."""

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        return os.open(path, flags, mode)

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def fdatasync(self, fd: int) -> None:
        sync = getattr(os, "fdatasync", os.fsync)
        sync(fd)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fallocate(self, fd: int, offset: int, length: int) -> None:
        allocate = getattr(os, "posix_fallocate", None)
        if allocate is None:
            raise OSError(errno.EOPNOTSUPP, "posix_fallocate is not available on this platform")
        allocate(fd, offset, length)

    def ftruncate(self, fd: int, length: int) -> None:
        os.ftruncate(fd, length)

    def rename(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        os.unlink(path)

    def close(self, fd: int) -> None:
        os.close(fd)


OS_FILE_OPS: FileOps = OsFileOps()


def write_all(ops: FileOps, fd: int, data: bytes | memoryview, offset: int) -> None:
    """``pwrite`` until every byte is written (a short write is continued, an error raised)."""
    view = memoryview(data)
    while view:
        written = ops.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def fsync_dir(ops: FileOps, directory: Path) -> None:
    """Make a creation, rename or deletion in ``directory`` durable."""
    fd = ops.open(directory, os.O_RDONLY)
    try:
        ops.fsync(fd)
    finally:
        ops.close(fd)
