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

from kalshi_collector.storage.atomic import PARQUET_OPTIONS
from kalshi_collector.storage.catalog import TableSpec
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

__all__ = ["COMPACT_OPTIONS", "CompactionError", "compact_day", "merged_part_names"]

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


def compact_day(fs: StorageFS, root: PurePath, spec: TableSpec, day: dt.date,
                collector_id: str = DEFAULT_COLLECTOR) -> PurePath | None:
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
    tables = [fs.read_table(target, page_checksum_verification=True)] if fresh and fs.isfile(target) else []
    fresh, unreadable = _read_parts(fs, fresh, tables)
    if fresh:
        schema = spec.schema_for(t.schema for t in tables)
        merged = pa.concat_tables([conform(t, schema) for t in tables])
        merged = first_per_key(merged.sort_by([(key, "ascending") for key in spec.sort_keys]), spec.key)
        merged_names = sorted(merged_part_names(fs, target) | {path.name for path in fresh})
        stamp = json.dumps(merged_names).encode()
        merged = merged.replace_schema_metadata({MERGED_PARTS_KEY: stamp})
        expected_rows = merged.num_rows

        def verify(tmp: Path) -> None:
            back = pq.read_table(tmp, page_checksum_verification=True)
            if back.num_rows != expected_rows:
                raise CompactionError(f"{target}: wrote {expected_rows} rows, read back {back.num_rows}")
            if (back.schema.metadata or {}).get(MERGED_PARTS_KEY) != stamp:
                raise CompactionError(f"{target}: list of merged parts did not read back")

        fs.write_parquet(
            target,
            merged,
            verify=verify,
            sorting_columns=pq.SortingColumn.from_ordering(
                merged.schema, [(key, "ascending") for key in spec.sort_keys]
            ),
            **{**COMPACT_OPTIONS, **spec.write_options},
        )
        written = target
        log.info("compacted %s %s: %d parts -> %d rows", spec.name, day, len(fresh), expected_rows)
    # Every part listed here is now in the day file (merged just now or by an interrupted run).
    fs.remove([path for path in parts if path not in unreadable])
    for folder in layout.part_folders(root, day):
        fs.rmdir_if_empty(folder)
    fs.rmdir_if_empty(layout.path(root) / PARTS)
    return written


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
            log.error("compaction: part %s cannot be read (%s): left out of the day file and kept in place; "
                      "`kalshi-collector quarantine --apply` moves it aside", path, describe_damage(exc))
            continue
        read.append(path)
    return read, unreadable
