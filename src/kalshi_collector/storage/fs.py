"""The one seam between the store and a filesystem.

Everything the parquet side of the store does to files goes through a *storage filesystem*: list a
folder, write a file atomically, read a table or its footer, delete durably. Two implementations:

* :class:`LocalFS` — a local disk: temp file, fsync, rename, fsync the folder.
* :class:`ObjectStoreFS` — any fsspec object store (``s3://``, ``gs://``, ``memory://`` ...). An
  object PUT is atomic (a reader sees the old object or the new one, never part of one; a multipart
  upload appears only when completed), so a file is written to a local temp file first (verified
  there when the caller asks), then uploaded as one object. There are no folders to fsync or remove
  and no temp objects to clean up.

:func:`open_data_dir` picks one from ``storage.data_dir``: a path or ``file://`` URL is local, any
other URL is an object store. Nothing else in ``storage/`` touches ``os`` for data files. The
write-ahead journal is the exception on purpose: it needs ``fsync`` on an append-only local file
and therefore always lives on local disk (:func:`default_journal_dir` for object-store data).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.storage.atomic import (
    TableStream,
    atomic_write_bytes,
    atomic_write_parquet,
    fsync_dir,
    write_parquet_to,
)

__all__ = [
    "LocalFS",
    "ObjectStoreFS",
    "StorageFS",
    "data_root",
    "default_journal_dir",
    "default_state_dir",
    "is_object_store_url",
    "is_temp_name",
    "open_data_dir",
]


def is_temp_name(name: str) -> bool:
    """Temporary files of :mod:`atomic` (``.NAME.xxxxxxxx.tmp``) and any other dot-file: never data."""
    return name.startswith(".")


def is_object_store_url(data_dir: str | os.PathLike[str]) -> bool:
    """``s3://bucket/prefix`` and the like; a plain path or a ``file://`` URL is local disk."""
    text = os.fspath(data_dir)
    return "://" in text and not text.startswith("file://")


class StorageFS(Protocol):
    """What the store asks of a filesystem (see :class:`LocalFS` for the meaning of each call)."""

    def listdir(self, path: PurePath) -> list[str]: ...
    def isdir(self, path: PurePath) -> bool: ...
    def isfile(self, path: PurePath) -> bool: ...
    def write_parquet(self, path: PurePath, table: pa.Table | TableStream, **options: Any) -> PurePath: ...
    def write_bytes(self, path: PurePath, data: bytes) -> PurePath: ...
    def read_bytes(self, path: PurePath) -> bytes: ...
    def read_table(self, path: PurePath, **kwargs: Any) -> pa.Table: ...
    def iter_batches(self, path: PurePath, batch_size: int) -> Iterator[pa.RecordBatch]: ...
    def read_row_group(self, path: PurePath, index: int) -> pa.Table: ...
    def read_metadata(self, path: PurePath) -> dict[bytes, bytes]: ...
    def parquet_metadata(self, path: PurePath) -> pq.FileMetaData: ...
    def num_rows(self, path: PurePath) -> int: ...
    def modified(self, path: PurePath) -> float: ...
    def remove(self, paths: Iterable[PurePath]) -> None: ...
    def move(self, src: PurePath, dst: PurePath) -> None: ...
    def rmdir_if_empty(self, path: PurePath) -> None: ...
    def remove_stale_temp_files(self, folder: PurePath, older_than_seconds: float = 3600.0) -> int: ...
    def url(self, path: PurePath) -> str: ...


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

    def write_parquet(self, path: Path, table: pa.Table | TableStream, **options) -> Path:
        """Write atomically (temp file, fsync, rename, fsync folder): readers see all or nothing."""
        return atomic_write_parquet(path, table, **options)

    def write_bytes(self, path: Path, data: bytes) -> Path:
        return atomic_write_bytes(path, data)

    def read_bytes(self, path: Path) -> bytes:
        """The whole file (``FileNotFoundError`` if there is none)."""
        return Path(path).read_bytes()

    def read_table(self, path: Path, **kwargs) -> pa.Table:
        return pq.read_table(path, **kwargs)

    def iter_batches(self, path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The file's rows in order, a batch at a time (a whole day file need not fit in memory)."""
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size)

    def read_row_group(self, path: Path, index: int) -> pa.Table:
        """One row group, its page checksums checked (a streamed compaction reads a day file so)."""
        return pq.ParquetFile(path, page_checksum_verification=True).read_row_group(index)

    def read_metadata(self, path: Path) -> dict[bytes, bytes]:
        """The key/value metadata of a parquet file's footer (reads the footer only)."""
        return pq.read_schema(path).metadata or {}

    def parquet_metadata(self, path: Path) -> pq.FileMetaData:
        """The whole footer: row count, row groups and their column statistics (no data read)."""
        return pq.read_metadata(path)

    def num_rows(self, path: Path) -> int:
        return pq.read_metadata(path).num_rows

    def modified(self, path: Path) -> float:
        """Last modification time (Unix seconds)."""
        return os.stat(path).st_mtime

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

    def move(self, src: Path, dst: Path) -> None:
        """Rename ``src`` to ``dst`` (folders made as needed), durably."""
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        fsync_dir(Path(dst).parent)
        fsync_dir(Path(src).parent)

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

    def url(self, path: Path) -> str:
        """What DuckDB, polars or pyarrow are given to open the file."""
        return str(path)


class ObjectStoreFS:
    """An fsspec object store (S3 and S3-compatible stores, GCS, Azure, ``memory://``).

    Paths are ``PurePosixPath("bucket/prefix/...")`` (fsspec's form, without the protocol);
    :meth:`url` puts the protocol back for other readers.
    """

    def __init__(self, fs: Any, protocol: str) -> None:
        self.fs = fs
        self.protocol = protocol

    def _key(self, path: PurePath) -> str:
        return PurePosixPath(path).as_posix()

    def listdir(self, path: PurePath) -> list[str]:
        """Names directly under ``path`` (sorted); ``[]`` when there is nothing there.

        Always asks the store (``refresh``): other collectors and processes write to it too, and a
        cached listing would hide their parts from compaction and readers.
        """
        key = self._key(path)
        try:
            entries = [str(entry).rstrip("/") for entry in self.fs.ls(key, detail=False, refresh=True)]
        except (FileNotFoundError, NotADirectoryError):
            return []
        if entries == [key]:  # ``ls`` of an object lists the object itself: not a folder
            return []
        return sorted({PurePosixPath(entry).name for entry in entries if entry != key})

    def isdir(self, path: PurePath) -> bool:
        return bool(self.fs.isdir(self._key(path)))

    def isfile(self, path: PurePath) -> bool:
        try:
            return bool(self.fs.isfile(self._key(path)))
        except FileNotFoundError:
            return False

    def write_parquet(
        self,
        path: PurePath,
        table: pa.Table | TableStream,
        *,
        verify: Callable[[Path], None] | None = None,
        **options: Any,
    ) -> PurePath:
        """Write to a local temp file, let ``verify`` read it back, then upload it as one object.

        The upload is the commit: a failed or interrupted one leaves the previous object (or none).
        """
        with tempfile.TemporaryDirectory(prefix="kc-upload-") as tmp_dir:
            tmp = Path(tmp_dir) / PurePosixPath(path).name
            write_parquet_to(tmp, table, **options)
            if verify is not None:
                verify(tmp)
            self.fs.put_file(str(tmp), self._key(path))
        return path

    def write_bytes(self, path: PurePath, data: bytes) -> PurePath:
        self.fs.pipe_file(self._key(path), data)
        return path

    def read_bytes(self, path: PurePath) -> bytes:
        """The whole object (``FileNotFoundError`` if there is none)."""
        return bytes(self.fs.cat_file(self._key(path)))

    def read_table(self, path: PurePath, **kwargs: Any) -> pa.Table:
        with self.fs.open(self._key(path), "rb") as fh:
            return pq.read_table(fh, **kwargs)

    def iter_batches(self, path: PurePath, batch_size: int) -> Iterator[pa.RecordBatch]:
        with self.fs.open(self._key(path), "rb") as fh:
            yield from pq.ParquetFile(fh).iter_batches(batch_size=batch_size)

    def read_row_group(self, path: PurePath, index: int) -> pa.Table:
        with self.fs.open(self._key(path), "rb") as fh:
            return pq.ParquetFile(fh, page_checksum_verification=True).read_row_group(index)

    def read_metadata(self, path: PurePath) -> dict[bytes, bytes]:
        return self.parquet_metadata(path).metadata or {}

    def parquet_metadata(self, path: PurePath) -> pq.FileMetaData:
        with self.fs.open(self._key(path), "rb") as fh:
            return pq.read_metadata(fh)

    def num_rows(self, path: PurePath) -> int:
        return self.parquet_metadata(path).num_rows

    def modified(self, path: PurePath) -> float:
        return self.fs.modified(self._key(path)).timestamp()

    def remove(self, paths: Iterable[PurePath]) -> None:
        """Delete objects (missing ones are fine). A completed DELETE is durable: nothing to sync."""
        keys = [self._key(p) for p in paths]
        for key in keys:
            try:
                self.fs.rm_file(key)
            except FileNotFoundError:
                continue

    def move(self, src: PurePath, dst: PurePath) -> None:
        """Copy to ``dst``, then delete ``src`` (an object store has no rename)."""
        self.fs.mv(self._key(src), self._key(dst))

    def rmdir_if_empty(self, path: PurePath) -> None:
        """Nothing to do: an object store has no folders, a prefix vanishes with its last object."""

    def remove_stale_temp_files(self, folder: PurePath, older_than_seconds: float = 3600.0) -> int:
        """Nothing to do: uploads never leave temporary objects (the temp file is local)."""
        return 0

    def url(self, path: PurePath) -> str:
        return f"{self.protocol}://{self._key(path)}"


def open_data_dir(data_dir: str | os.PathLike[str], **storage_options: Any) -> tuple[StorageFS, PurePath]:
    """The filesystem and root path for ``storage.data_dir``.

    ``s3://bucket/prefix`` -> (:class:`ObjectStoreFS`, ``PurePosixPath("bucket/prefix")``); credentials
    and endpoint come from ``storage_options`` or the store's usual environment (for S3:
    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` for S3-compatible stores,
    ``~/.aws/config``). Anything else -> (:class:`LocalFS`, ``Path``).
    """
    text = os.fspath(data_dir)
    if not is_object_store_url(text):
        return LocalFS(), Path(text.removeprefix("file://"))
    try:
        import fsspec
    except ImportError:  # pragma: no cover - the [s3] extra is part of dev installs
        from kalshi_collector.config import ConfigError

        raise ConfigError(
            f"storage.data_dir = {text!r} is an object-store URL; that needs the optional extra: "
            "pip install 'kalshi-collector[s3]'"
        ) from None
    protocol = text.split("://", 1)[0]
    try:
        fs, root = fsspec.core.url_to_fs(text, **storage_options)
    except ImportError as exc:
        from kalshi_collector.config import ConfigError

        raise ConfigError(f"storage.data_dir = {text!r}: no driver for {protocol}:// ({exc})") from None
    return ObjectStoreFS(fs, protocol), PurePosixPath(root.rstrip("/"))


def data_root(fs: StorageFS, data_dir: str | os.PathLike[str]) -> PurePath:
    """The root path ``fs`` expects for ``data_dir`` (the URL without its protocol for object stores)."""
    text = os.fspath(data_dir)
    if is_object_store_url(text):
        return PurePosixPath(text.split("://", 1)[1].rstrip("/"))
    return Path(text.removeprefix("file://"))


def default_journal_dir(data_dir: str | os.PathLike[str]) -> Path:
    """Where the journal of an object-store data folder lives: on local disk, since it needs fsync.

    ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``), else ``$XDG_STATE_HOME`` or
    ``~/.local/state``, under ``kalshi-collector/journal/<the URL as a folder name>``. The folder
    must survive reboots: rows synced but not yet uploaded are recovered from it at the next start.
    """
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        base = Path(state)
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "kalshi-collector"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", os.fspath(data_dir)).strip("_")
    return base / "journal" / slug


def default_state_dir(data_dir: str | os.PathLike[str], purpose: str) -> Path:
    """A local folder for working state of ``purpose`` (``"backfill"``...) that belongs to ``data_dir``.

    For an object-store data folder, whatever needs a lock, ``fsync`` or ``rename`` (the backfill's
    checkpoints, staged parts and folder lock) cannot live in the bucket. It goes where
    :func:`default_journal_dir` puts the journal, beside it: ``$STATE_DIRECTORY``, else
    ``$XDG_STATE_HOME`` or ``~/.local/state`` under ``kalshi-collector``, then
    ``<purpose>/<the URL as a folder name>``. So ``default_state_dir(url, "journal")`` is
    ``default_journal_dir(url)``.
    """
    journal = default_journal_dir(data_dir)  # <base>/journal/<slug>
    return journal.parent.parent / purpose / journal.name
