"""Rows (tuples in schema order) -> Arrow tables, without letting one bad row poison the rest.

A row that cannot be stored (wrong width, a time that is not integer microseconds, a string where a
number belongs, a null in a required column) is *rejected* with a reason: the caller quarantines
it and stores every other row. Finding the bad rows costs nothing on the happy path: a batch is
converted whole, and only a batch that fails is split in halves until the culprits are isolated.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from kalshi_collector.storage.catalog import TableSpec
from kalshi_collector.storage.layout import DAY_US, MAX_US

__all__ = ["Rejected", "split_by_day", "row_day", "rows_to_table"]

Rejected = tuple[Any, str]
"""A row that could not be stored, and why."""

_CONVERT_ERRORS = (TypeError, ValueError, OverflowError, pa.ArrowException)

# Flushes run in a worker thread beside the WebSocket read loop. Turning a list of tuples into
# Arrow arrays is one long C call that holds the GIL; done in one go for a flush of 100k+ rows it
# stalls the read loop for tens of milliseconds. Converting in chunks, yielding the GIL between
# them, bounds each stall to about a millisecond.
_CHUNK = 4096


def split_by_day(spec: TableSpec, rows: Sequence[Any]) -> tuple[dict[int, list], list[Rejected]]:
    """Group rows by the UTC day (days since epoch) of their time column (always column 0).

    This is the one definition of "the day of a row": the flush partitions with it and recovery
    decides which journaled rows a part already covers with it, so the two can never disagree.
    A flush's rows are nearly always well-formed and of one day: that case is checked by a few
    passes in C (:func:`_one_day`) and costs no Python step per row.
    """
    day = _one_day(spec.width, rows)
    if day is not None:
        return {day: rows if isinstance(rows, list) else list(rows)}, []
    return _split_each(spec, rows)


def _split_each(spec: TableSpec, rows: Sequence[Any]) -> tuple[dict[int, list], list[Rejected]]:
    """:func:`split_by_day` a row at a time: padding old short rows, rejecting what cannot be stored."""
    width = spec.width
    by_day: dict[int, list] = {}
    rejected: list[Rejected] = []
    for row in rows:
        try:
            ok = len(row) == width
        except TypeError:
            ok = False
        if not ok:
            padded = _widened(spec, row)
            if padded is None:
                rejected.append((row, f"{spec.name}: expected a row of {width} values"))
                continue
            row = padded
        ts = row[0]
        if type(ts) is not int or not 0 <= ts < MAX_US:
            rejected.append((row, f"{spec.name}.{spec.time_column}: expected epoch microseconds (int), got {ts!r}"))
            continue
        day = ts // DAY_US
        bucket = by_day.get(day)
        if bucket is None:
            by_day[day] = [row]
        else:
            bucket.append(row)
    return by_day, rejected


_FIRST = itemgetter(0)


def _one_day(width: int, rows: Sequence[Any]) -> int | None:
    """The day of every row when each has ``width`` values and a valid time of one same day; None
    otherwise (then the caller looks at each row). Checked ``_CHUNK`` rows at a time, with a GIL
    turn between chunks: a pass over 100,000 rows is one C call that would stall the read loop."""
    day = None
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        try:
            if set(map(len, chunk)) != {width}:
                return None
        except TypeError:  # a row that is no sequence
            return None
        stamps = list(map(_FIRST, chunk))
        if set(map(type, stamps)) != {int}:  # bool and float excluded, as for one row
            return None
        low, high = min(stamps), max(stamps)
        if low < 0 or high >= MAX_US or low // DAY_US != high // DAY_US or day not in (None, low // DAY_US):
            return None
        day = low // DAY_US
        time.sleep(0)
    return day


def _widened(spec: TableSpec, row: Any) -> tuple | None:
    """A row journaled by an older version, before nullable columns were added at the end of its
    table: padded with nulls (as an older file reads); anything else cannot be stored (None)."""
    try:
        have = len(row)
    except TypeError:
        return None
    if not 0 < have < spec.width or not all(f.nullable for f in list(spec.schema)[have:]):
        return None
    return (*row, *([None] * (spec.width - have)))


def row_day(row: Any) -> int | None:
    """The day :func:`split_by_day` would file this row under, or None if it would reject it."""
    try:
        ts = row[0]
    except (TypeError, IndexError, KeyError):
        return None
    if type(ts) is not int or not 0 <= ts < MAX_US:
        return None
    return ts // DAY_US


def _binary(values: Sequence[Any]) -> pa.Array | pa.ChunkedArray:
    """A binary column. The raw tape's frames are mostly ``str`` (aiohttp hands text frames over):
    read as UTF-8 text and cast, zero-copy, which is ~3x faster than converting each ``str`` to
    bytes. REST bodies are ``bytes`` of up to megabytes: wrapped where they lie
    (:func:`_bytes_column`), because pyarrow's conversion of ``bytes`` copies them one by one
    while holding the GIL (a rediscovery of the whole exchange, 17 bodies of 2 MB: 80 ms as
    binary, 400 ms read as text, the read loop held up all that time). Anything else (nulls,
    a mix, text that is not UTF-8) goes the slow, general way."""
    if values and all(type(v) is bytes for v in values):
        return _bytes_column(values)
    try:
        return pa.array(values, type=pa.string()).cast(pa.binary())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(values, type=pa.binary())


_OWN_CHUNK_BYTES = 64 * 1024  # a value this big becomes a chunk of its own: wrapped, never copied
_RUN_BYTES = 256 * 1024 * 1024  # smaller values are joined, at most this much per chunk (int32 offsets)


def _bytes_column(values: Sequence[bytes]) -> pa.ChunkedArray:
    """``bytes`` values as a binary column: each big value wraps its own buffer (no copy), runs of
    small ones are joined into one buffer each."""
    chunks: list[pa.Array] = []
    run: list[bytes] = []
    run_bytes = 0
    for value in values:
        own = len(value) >= _OWN_CHUNK_BYTES
        if run and (own or run_bytes + len(value) > _RUN_BYTES):
            chunks.append(_joined(run))
            run, run_bytes = [], 0
        if own:
            chunks.append(_joined([value]))
        else:
            run.append(value)
            run_bytes += len(value)
    if run:
        chunks.append(_joined(run))
    return pa.chunked_array(chunks, type=pa.binary())


def _joined(values: list[bytes]) -> pa.Array:
    data = values[0] if len(values) == 1 else b"".join(values)
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _convert(spec: TableSpec, rows: Sequence[Sequence[Any]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = []
    for values, fld in zip(columns, spec.schema, strict=True):
        array = _binary(values) if fld.type == pa.binary() else pa.array(values, type=fld.type)
        if not fld.nullable and array.null_count:
            raise ValueError(f"{spec.name}.{fld.name} must not be null")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=spec.schema)


def rows_to_table(spec: TableSpec, rows: Sequence[Sequence[Any]]) -> tuple[pa.Table, list[Rejected]]:
    """Convert rows of the right width; return the table of the good ones and the rejected ones."""
    if not rows:
        return spec.schema.empty_table(), []
    if len(rows) > _CHUNK:
        tables, rejected = [], []
        for start in range(0, len(rows), _CHUNK):
            table, bad = rows_to_table(spec, rows[start : start + _CHUNK])
            tables.append(table)
            rejected += bad
            time.sleep(0)  # let the event loop thread run between chunks
        return pa.concat_tables(tables), rejected
    try:
        return _convert(spec, rows), []
    except _CONVERT_ERRORS as exc:
        if len(rows) == 1:
            return spec.schema.empty_table(), [(rows[0], f"{spec.name}: {exc}")]
    mid = len(rows) // 2
    left, bad_left = rows_to_table(spec, rows[:mid])
    right, bad_right = rows_to_table(spec, rows[mid:])
    return pa.concat_tables([left, right]), bad_left + bad_right
