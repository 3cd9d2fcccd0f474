"""Compaction: merge a finished day's part files into one sorted day file, then delete the parts.

Safe to stop at any instruction (see crash points C1-C3 in ``journal.py``): the day file is written
beside the old one, read back and checked *before* it replaces it, and its footer lists every part
name merged into it. Whoever finds a part whose name is in that list (a reader, the next compaction,
recovery) knows its rows are already in the day file; so a crash between "day file in place" and
"parts deleted" can neither lose nor double a row.

Run compaction from one process per data folder (collectors sharing a bucket: pick one).
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
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.layout import MERGED_PARTS_KEY, PARTS, merged_part_names
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


def compact_day(fs: StorageFS, root: PurePath, spec: TableSpec, day: dt.date) -> PurePath | None:
    """Merge ``spec``'s parts of ``day`` into its day file; return the day file if it was rewritten.

    Idempotent: parts already listed in the day file are only deleted, never merged twice. Parts
    in the legacy ``_parts/`` folder are merged like the others (that is how an old data folder
    migrates), and no column of a file is dropped (:meth:`~kalshi_collector.storage.catalog.Dataset.schema_for`).
    """
    layout = spec.layout
    for folder in layout.part_folders(root, day):
        fs.remove_stale_temp_files(folder)
    fs.remove_stale_temp_files(layout.path(root))
    parts = layout.parts(fs, root, day)
    target = layout.day_file(root, day)
    already = merged_part_names(fs, target)
    fresh = [path for path in parts if path.name not in already]
    written: PurePath | None = None
    if fresh:
        tables = [fs.read_table(target)] if fs.isfile(target) else []
        tables += [fs.read_table(path) for path in fresh]
        schema = spec.schema_for(t.schema for t in tables)
        merged = pa.concat_tables([conform(t, schema) for t in tables])
        merged = merged.sort_by([(key, "ascending") for key in spec.sort_keys])
        merged_names = sorted(already | {path.name for path in fresh})
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
    fs.remove(parts)
    for folder in layout.part_folders(root, day):
        fs.rmdir_if_empty(folder)
    fs.rmdir_if_empty(layout.path(root) / PARTS)
    return written
