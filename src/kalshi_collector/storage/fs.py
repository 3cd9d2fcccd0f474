"""The one seam between the store and a filesystem.

Everything the parquet side of the store does to files goes through :class:`LocalFS`: list a
folder, write a file atomically, read a table or its footer, delete durably. A later S3 backend
(fsspec) only has to provide the same few methods; nothing else in ``storage/`` touches ``os`` for
data files. The write-ahead journal is the exception on purpose: it needs ``fsync`` on an
append-only local file and therefore always lives on local disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.storage.atomic import atomic_write_bytes, atomic_write_parquet, fsync_dir

__all__ = ["LocalFS", "is_temp_name"]


def is_temp_name(name: str) -> bool:
    """Temporary files of :mod:`atomic` (``.NAME.xxxxxxxx.tmp``) and any other dot-file: never data."""
    return name.startswith(".")


class LocalFS:
    """Local-disk implementation of the storage filesystem seam."""

    def listdir(self, path: Path) -> list[str]:
        """Names in ``path`` (sorted), or ``[]`` if it does not exist or is not a folder."""
        try:
            return sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def isdir(self, path: Path) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: Path) -> bool:
        return os.path.isfile(path)

    def write_parquet(self, path: Path, table: pa.Table, **options) -> Path:
        """Write atomically (temp file, fsync, rename, fsync folder): readers see all or nothing."""
        return atomic_write_parquet(path, table, **options)

    def write_bytes(self, path: Path, data: bytes) -> Path:
        return atomic_write_bytes(path, data)

    def read_table(self, path: Path, **kwargs) -> pa.Table:
        return pq.read_table(path, **kwargs)

    def read_metadata(self, path: Path) -> dict[bytes, bytes]:
        """The key/value metadata of a parquet file's footer (reads the footer only)."""
        return pq.read_schema(path).metadata or {}

    def num_rows(self, path: Path) -> int:
        return pq.read_metadata(path).num_rows

    def remove(self, paths: Iterable[Path]) -> None:
        """Delete files (missing ones are fine) and make the deletions durable."""
        folders: set[Path] = set()
        for path in paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            folders.add(Path(path).parent)
        for folder in folders:
            fsync_dir(folder)

    def rmdir_if_empty(self, path: Path) -> None:
        try:
            os.rmdir(path)
        except OSError:
            return
        fsync_dir(Path(path).parent)

    def remove_stale_temp_files(self, folder: Path, older_than_seconds: float = 3600.0) -> int:
        """Delete temp files left in ``folder`` by a writer that crashed mid-write.

        Only old ones: a fresh temp file may belong to another process writing right now.
        """
        removed = 0
        now = time.time()
        for name in self.listdir(folder):
            if not is_temp_name(name) or not name.endswith(".tmp"):
                continue
            path = Path(folder) / name
            try:
                if now - os.stat(path).st_mtime >= older_than_seconds:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
