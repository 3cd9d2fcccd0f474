"""Atomic file replacement: write a temporary file, fsync it, rename it over the target, fsync the folder.

A reader (or a crash) sees either the old file or the new one, never half of one. Used by every
writer in the project; nothing writes a parquet file in place.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["atomic_write_parquet", "atomic_write_bytes", "fsync_dir", "PARQUET_OPTIONS", "TableStream",
           "write_parquet_to"]

# zstd everywhere; dictionary-encode strings (tickers, sides repeat endlessly). Page checksums
# (CRC-32, cheap) let readers tell a garbled file from a good one instead of returning garbage.
PARQUET_OPTIONS: dict = {"compression": "zstd", "compression_level": 3, "use_dictionary": True,
                         "write_page_checksum": True}


@dataclass(frozen=True)
class TableStream:
    """A file's rows as tables made one after another (a day too big to hold at once: compaction)."""

    schema: pa.Schema
    tables: Iterable[pa.Table]


def write_parquet_to(where: Any, table: pa.Table | TableStream, **options: Any) -> None:
    """``pq.write_table`` for a table; a ``ParquetWriter`` fed one table at a time for a stream
    (each written as it comes, so only one is in memory)."""
    options = {**PARQUET_OPTIONS, **options}
    if isinstance(table, pa.Table):
        pq.write_table(table, where, **options)
        return
    row_group_size = options.pop("row_group_size", None)
    with pq.ParquetWriter(where, table.schema, **options) as writer:
        for piece in table.tables:
            writer.write_table(piece, row_group_size=row_group_size)


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
    table: pa.Table | TableStream,
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
            write_parquet_to(fh, table, **options)
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
