"""A day too big to merge in memory, merged a batch at a time (the day file written as a stream).

At 20,000 markets a day of one table is tens of gigabytes uncompressed (the raw tape above all):
concatenating it in memory needs that much RAM, and Arrow's 32-bit offsets refuse a binary column
over 2 GB anyway. The day file's order is its ``sort_keys``, and every live table's first sort key
is a number that grows through the day (a time, or the raw tape's ``n``). So the inputs (each
fresh part, and each row group of an earlier day file) are placed by the range of that first key
their footers give, overlapping ones are joined into groups, and groups are merged in order, a
batch of about ``batch_bytes`` at a time: sorted within a batch, batches follow each other, which
is the whole day's order. Only tables without a de-duplication key stream (a key such as a trade
id can repeat across batches); theirs are small.

Pure planning (:func:`plan_batches`) apart from the reads of :class:`Piece`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.storage.damage import DAMAGE_ERRORS, is_damage
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.schemas import conform

__all__ = ["DamagedInput", "Piece", "pieces_of", "plan_batches", "stream_batches"]


@dataclass(frozen=True)
class Piece:
    """One input of a streamed merge: a whole part (``row_group`` None) or one day-file row group,
    with the range of the first sort key its footer gives and its uncompressed size."""

    path: PurePath
    row_group: int | None
    low: Any
    high: Any
    nbytes: int
    rows: int


class DamagedInput(Exception):
    """A part could not be read halfway through a streamed merge: merge again without it."""

    def __init__(self, path: PurePath, cause: BaseException) -> None:
        super().__init__(f"{path}: {cause}")
        self.path, self.cause = path, cause


def _ranges(meta: pq.FileMetaData, column: str) -> list[tuple[Any, Any, int, int]] | None:
    """(low, high, bytes, rows) of each row group, or None when a footer lacks the statistics."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if column not in names:
        return None
    index = names.index(column)
    out = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(index).statistics
        if group.num_rows == 0:
            continue
        if stats is None or not stats.has_min_max or stats.null_count:
            return None
        out.append((stats.min, stats.max, group.total_byte_size, group.num_rows))
    return out


def pieces_of(fs: StorageFS, day_file: PurePath | None, parts: Sequence[PurePath], column: str) -> list[Piece] | None:
    """The inputs of a merge as pieces, or None when one of them cannot be placed (merge in memory)."""
    pieces: list[Piece] = []
    if day_file is not None:
        ranges = _ranges(fs.parquet_metadata(day_file), column)
        if ranges is None:
            return None
        pieces += [Piece(day_file, i, lo, hi, size, rows) for i, (lo, hi, size, rows) in enumerate(ranges)]
    for path in parts:
        ranges = _ranges(fs.parquet_metadata(path), column)
        if ranges is None:
            return None
        if ranges:
            pieces.append(Piece(path, None, min(r[0] for r in ranges), max(r[1] for r in ranges),
                                sum(r[2] for r in ranges), sum(r[3] for r in ranges)))
    return pieces


def plan_batches(pieces: Sequence[Piece], batch_bytes: int) -> list[list[Piece]]:
    """Pieces in batches: overlapping ranges always share a batch, batches follow in key order,
    and a batch grows past ``batch_bytes`` only by a group that is bigger on its own."""
    groups: list[list[Piece]] = []
    high = None
    for piece in sorted(pieces, key=lambda p: (p.low, p.high)):
        if groups and piece.low <= high:
            groups[-1].append(piece)
            high = max(high, piece.high)
        else:
            groups.append([piece])
            high = piece.high
    batches: list[list[Piece]] = []
    size = 0
    for group in groups:
        group_bytes = sum(p.nbytes for p in group)
        if batches and size + group_bytes <= batch_bytes:
            batches[-1].extend(group)
            size += group_bytes
        else:
            batches.append(list(group))
            size = group_bytes
    return batches


def _read(fs: StorageFS, piece: Piece) -> pa.Table:
    if piece.row_group is not None:
        return fs.read_row_group(piece.path, piece.row_group)
    try:
        return fs.read_table(piece.path, page_checksum_verification=True)
    except DAMAGE_ERRORS as exc:
        if not is_damage(exc):
            raise
        raise DamagedInput(piece.path, exc) from exc


def stream_batches(fs: StorageFS, batches: Sequence[Sequence[Piece]], schema: pa.Schema,
                   sort_keys: Sequence[str]) -> Iterator[pa.Table]:
    """Each batch read, conformed to ``schema`` and sorted (one batch in memory at a time)."""
    order = [(key, "ascending") for key in sort_keys]
    for batch in batches:
        tables = [conform(_read(fs, piece), schema) for piece in batch]
        yield pa.concat_tables(tables).sort_by(order)
