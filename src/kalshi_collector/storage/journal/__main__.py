"""Inspect journal segments: ``python -m kalshi_collector.storage.journal FILE... [--rows]``.

Prints, per file, the format, the intact frames and rows per table, and every skipped byte range
(offset, length, kind). ``--rows`` also prints each recovered row as one JSON line
(``{"table": ..., "row": [...]}``), e.g. to salvage a ``*.wal.damaged`` file by hand. Read-only.
Whole Arrow tables (batches named ``TABLE@arrow``, ``storage/arrowtables.py``) count and print
as their rows, under their table's name (times as epoch microseconds, like the row batches).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from kalshi_collector.storage.journal.scan import SegmentScan, read_segment


def _batches(scan: SegmentScan) -> Iterator[tuple[str, list]]:
    """The scan's batches, Arrow tables turned into row lists (the inspect tool is no hot path)."""
    from kalshi_collector.storage.arrowtables import base_name, from_ipc

    for table, rows in scan.batches():
        name = base_name(table)
        if name is None:
            yield table, rows
            continue
        for blob in rows:
            data = from_ipc(blob)
            columns = [data.column(0).cast("int64").to_pylist()] + [c.to_pylist() for c in data.columns[1:]]
            yield name, [list(row) for row in zip(*columns, strict=True)]


def _summary(path: Path, scan: SegmentScan) -> str:
    tables = Counter()
    for table, rows in _batches(scan):
        tables[table] += len(rows)
    version = f"format {scan.version}" if scan.version else "format unknown"
    lines = [f"{path}: {version}, {len(scan.frames)} intact frames, {sum(tables.values())} rows, data ends at {scan.data_end:,}"]
    lines += [f"  {table}: {count} rows" for table, count in sorted(tables.items())]
    lines += [f"  skipped {s.length:,} bytes at offset {s.offset:,}: {s.kind.value}" for s in scan.skipped]
    if not scan.skipped:
        lines.append("  nothing skipped")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kalshi_collector.storage.journal", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="journal segment files (*.wal, *.wal.damaged)")
    parser.add_argument("--rows", action="store_true", help="print every recovered row as a JSON line")
    args = parser.parse_intermixed_args(argv)
    status = 0
    for path in args.files:
        try:
            scan = read_segment(path)
        except OSError as exc:
            print(f"{path}: cannot read: {exc}", file=sys.stderr)
            status = 1
            continue
        print(_summary(path, scan), file=sys.stderr if args.rows else sys.stdout)
        if args.rows:
            for table, rows in _batches(scan):
                for row in rows:
                    print(json.dumps({"table": table, "row": row}, default=repr))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
