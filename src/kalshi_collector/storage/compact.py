"""Compaction: merge a finished day's part files into one sorted day file, then delete the parts.

Safe to stop at any instruction (see crash points C1-C3 in ``journal.py``): the day file is written
beside the old one, read back and checked *before* it replaces it, and its footer lists every part
name merged into it. Whoever finds a part whose name is in that list (a reader, the next compaction,
recovery) knows its rows are already in the day file; so a crash between "day file in place" and
"parts deleted" can neither lose nor double a row.

A part that cannot be read (:mod:`~kalshi_collector.storage.damage`) is left out of the merge and
never deleted: it stays in its folder, logged at ERROR with what to do, until an operator moves it
aside (``kalshi-collector quarantine --apply``). A day file that cannot be read stops its day's
compaction (the error propagates; parts and day file are kept), since rewriting it would drop its
rows.

Each collector compacts only its own parts into its own day file (``daycompactor.py``), so
collectors sharing a folder never compact the same file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path, PurePath

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.storage.atomic import PARQUET_OPTIONS, TableStream
from kalshi_collector.storage.catalog import TableSpec
from kalshi_collector.storage.compactstream import (
    DamagedInput,
    Piece,
    pieces_of,
    plan_batches,
    stream_batches,
)
from kalshi_collector.storage.damage import DAMAGE_ERRORS, describe_damage, is_damage
from kalshi_collector.storage.dedupe import first_per_key
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.layout import (
    DEFAULT_COLLECTOR,
    MERGED_PARTS_KEY,
    PARTS,
    merged_part_names,
    parse_part_name,
)
from kalshi_collector.storage.schemas import conform

__all__ = ["COMPACT_BATCH_BYTES", "COMPACT_OPTIONS", "CompactionError", "compact_day", "merged_part_names"]

log = logging.getLogger(__name__)

COMPACT_OPTIONS: dict = {
    **PARQUET_OPTIONS,
    # A day is written once and read many times: spend the CPU (bench/bench_storage.py measures it).
    "compression_level": 9,
    "row_group_size": 1 << 20,
    "write_page_checksum": True,
}


class CompactionError(RuntimeError):
    """The day file did not read back as written; the parts were kept."""


COMPACT_BATCH_BYTES = 256 << 20
"""A day whose inputs hold more than this (uncompressed) is merged a batch of about this much at a
time (``compactstream.py``); a smaller one in one go."""


def compact_day(fs: StorageFS, root: PurePath, spec: TableSpec, day: dt.date,
                collector_id: str = DEFAULT_COLLECTOR, *, batch_bytes: int = COMPACT_BATCH_BYTES) -> PurePath | None:
    """Merge ``collector_id``'s parts of ``day`` into its own day file; return it if rewritten.

    Only that collector's files are read for rows, written or deleted: collectors sharing a folder
    (shards) never touch each other's files. Idempotent: parts already listed in any day file of the
    day are only deleted, never merged twice. Parts
    in the legacy ``_parts/`` folder are merged like the others (that is how an old data folder
    migrates), and no column of a file is dropped (:meth:`~kalshi_collector.storage.catalog.Dataset.schema_for`).
    """
    layout = spec.layout
    for folder in layout.part_folders(root, day):
        fs.remove_stale_temp_files(folder)
    fs.remove_stale_temp_files(layout.path(root))
    parts = [path for path in layout.parts(fs, root, day)
             if (part := parse_part_name(path.name)) and part.collector_id == collector_id]
    target = layout.day_file(root, day, collector_id)
    already = layout.merged_parts(fs, root, day)  # an earlier version merged shards into c0's file
    fresh = [path for path in parts if path.name not in already]
    written: PurePath | None = None
    unreadable: set[PurePath] = set()
    if fresh:
        day_file = target if fs.isfile(target) else None
        plan = _streamed_plan(fs, spec, day_file, fresh, batch_bytes)
        if plan is not None:
            written = _merge_streamed(fs, spec, target, day_file, fresh, unreadable, batch_bytes)
        else:
            written = _merge_in_memory(fs, spec, target, day_file, fresh, unreadable)
    # Every part listed here is now in the day file (merged just now or by an interrupted run).
    fs.remove([path for path in parts if path not in unreadable])
    for folder in layout.part_folders(root, day):
        fs.rmdir_if_empty(folder)
    fs.rmdir_if_empty(layout.path(root) / PARTS)
    return written


def _merge_in_memory(fs: StorageFS, spec: TableSpec, target: PurePath, day_file: PurePath | None,
                     fresh: list[PurePath], unreadable: set[PurePath]) -> PurePath | None:
    """The whole day in one table: read, sorted, de-duplicated by ``spec.key``, written."""
    tables = [fs.read_table(day_file, page_checksum_verification=True)] if day_file is not None else []
    fresh, damaged = _read_parts(fs, fresh, tables)
    unreadable |= damaged
    if not fresh:
        return None
    schema = spec.schema_for(t.schema for t in tables)
    merged = pa.concat_tables([conform(t, schema) for t in tables])
    merged = first_per_key(merged.sort_by([(key, "ascending") for key in spec.sort_keys]), spec.key)
    stamp = _stamp(fs, target, fresh)
    _write_day(fs, spec, target, merged.replace_schema_metadata({MERGED_PARTS_KEY: stamp}), merged.num_rows, stamp)
    log.info("compacted %s %s: %d parts -> %d rows", spec.name, target.name, len(fresh), merged.num_rows)
    return target


def _streamed_plan(fs: StorageFS, spec: TableSpec, day_file: PurePath | None, fresh: list[PurePath],
                   batch_bytes: int) -> list[list[Piece]] | None:
    """The batches of a streamed merge, or None: the day fits in memory, has a de-duplication key,
    or an input's footer cannot place it (each of these merges in memory)."""
    if spec.key:
        return None
    try:
        pieces = pieces_of(fs, day_file, fresh, spec.sort_keys[0])
    except DAMAGE_ERRORS as exc:
        if not is_damage(exc):
            raise
        return None  # the in-memory merge names and keeps the damaged part
    if pieces is None or sum(p.nbytes for p in pieces) <= batch_bytes:
        return None
    return plan_batches(pieces, batch_bytes)


def _merge_streamed(fs: StorageFS, spec: TableSpec, target: PurePath, day_file: PurePath | None,
                    fresh: list[PurePath], unreadable: set[PurePath], batch_bytes: int) -> PurePath | None:
    """The day written a batch at a time; a part found damaged on the way is left out (and kept)
    and the merge starts over without it."""
    while fresh:
        plan = _streamed_plan(fs, spec, day_file, fresh, batch_bytes)
        if plan is None:
            return _merge_in_memory(fs, spec, target, day_file, fresh, unreadable)
        pieces = [piece for batch in plan for piece in batch]
        schema = spec.schema_for(fs.parquet_metadata(path).schema.to_arrow_schema()
                                 for path in {piece.path for piece in pieces})
        stamp = _stamp(fs, target, fresh)
        rows = sum(piece.rows for piece in pieces)
        stream = TableStream(schema.with_metadata({MERGED_PARTS_KEY: stamp}),
                             stream_batches(fs, plan, schema, spec.sort_keys))
        try:
            _write_day(fs, spec, target, stream, rows, stamp)
        except DamagedInput as exc:
            unreadable.add(exc.path)
            fresh = [path for path in fresh if path != exc.path]
            _log_damaged(exc.path, exc.cause)
            continue
        log.info("compacted %s %s: %d parts -> %d rows in %d batches", spec.name, target.name, len(fresh), rows,
                 len(plan))
        return target
    return None


def _stamp(fs: StorageFS, target: PurePath, fresh: list[PurePath]) -> bytes:
    """The footer's list of every part the day file holds (the earlier ones and ``fresh``)."""
    return json.dumps(sorted(merged_part_names(fs, target) | {path.name for path in fresh})).encode()


def _write_day(fs: StorageFS, spec: TableSpec, target: PurePath, rows: pa.Table | TableStream,
               expected_rows: int, stamp: bytes) -> None:
    """Write the day file beside the old one; it replaces it only once it reads back whole."""

    def verify(tmp: Path) -> None:
        back = pq.ParquetFile(tmp, page_checksum_verification=True)
        if back.metadata.num_rows != expected_rows:
            raise CompactionError(f"{target}: wrote {expected_rows} rows, read back {back.metadata.num_rows}")
        if (back.schema_arrow.metadata or {}).get(MERGED_PARTS_KEY) != stamp:
            raise CompactionError(f"{target}: list of merged parts did not read back")
        read = sum(batch.num_rows for batch in back.iter_batches(batch_size=1 << 16))  # every page's checksum
        if read != expected_rows:
            raise CompactionError(f"{target}: wrote {expected_rows} rows, read back {read}")

    schema = rows.schema
    fs.write_parquet(
        target,
        rows,
        verify=verify,
        sorting_columns=pq.SortingColumn.from_ordering(schema, [(key, "ascending") for key in spec.sort_keys]),
        **{**COMPACT_OPTIONS, **spec.write_options},
    )


def _log_damaged(path: PurePath, exc: BaseException) -> None:
    log.error("compaction: part %s cannot be read (%s): left out of the day file and kept in place; "
              "`kalshi-collector quarantine --apply` moves it aside", path, describe_damage(exc))


def _read_parts(fs: StorageFS, paths: list[PurePath], tables: list[pa.Table]) -> tuple[list[PurePath], set[PurePath]]:
    """Read ``paths`` onto ``tables``; return the parts read and the damaged ones (kept, logged)."""
    read: list[PurePath] = []
    unreadable: set[PurePath] = set()
    for path in paths:
        try:
            tables.append(fs.read_table(path, page_checksum_verification=True))
        except DAMAGE_ERRORS as exc:
            if not is_damage(exc):
                raise
            unreadable.add(path)
            _log_damaged(path, exc)
            continue
        read.append(path)
    return read, unreadable
