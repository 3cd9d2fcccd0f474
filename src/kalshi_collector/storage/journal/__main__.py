"""Inspect journal segments: ``python -m kalshi_collector.storage.journal FILE... [--rows]``.

Prints, per file, the format, the intact frames and rows per table, and every skipped byte range
(offset, length, kind). ``--rows`` also prints each recovered row as one JSON line
(``{"table": ..., "row": [...]}``), e.g. to salvage a ``*.wal.damaged`` file by hand. Read-only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from kalshi_collector.storage.journal.scan import SegmentScan, read_segment


def _summary(path: Path, scan: SegmentScan) -> str:
    tables = Counter()
    for table, rows in scan.batches():
        tables[table] += len(rows)
    version = f"format {scan.version}" if scan.version else "format unknown"
    lines = [f"{path}: {version}, {len(scan.frames)} intact frames, {scan.rows} rows, data ends at {scan.data_end:,}"]
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
            for table, rows in scan.batches():
                for row in rows:
                    print(json.dumps({"table": table, "row": row}, default=repr))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
