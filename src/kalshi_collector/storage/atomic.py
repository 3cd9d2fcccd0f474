"""Atomic file replacement: write a temporary file, fsync it, rename it over the target, fsync the folder.

A reader (or a crash) sees either the old file or the new one, never half of one. Used by every
writer in the project; nothing writes a parquet file in place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["atomic_write_parquet", "atomic_write_bytes", "fsync_dir", "PARQUET_OPTIONS"]

# zstd everywhere; dictionary-encode strings (tickers, sides repeat endlessly). Page checksums
# (CRC-32, cheap) let readers tell a garbled file from a good one instead of returning garbage.
PARQUET_OPTIONS: dict = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
                         "write_page_checksum": True}


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write_parquet(
    path: str | os.PathLike[str],
    table: pa.Table,
    *,
    verify: Callable[[Path], None] | None = None,
    **options,
) -> Path:
    """Write ``table`` to ``path`` atomically (zstd, dictionary strings unless overridden).

    ``verify``, if given, is called with the finished temporary file before it replaces the
    target; if it raises, the target is left as it was. Compaction uses it to read a day file back
    before that file replaces the previous one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(target)
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, **{**PARQUET_OPTIONS, **options})
            fh.flush()
            os.fsync(fh.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(target)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target
