"""``kalshi-collector status``: the command line around scan -> report -> render."""

from __future__ import annotations

import argparse
import datetime as dt

from kalshi_collector.cliargs import date_range, non_negative_int, positive_float
from kalshi_collector.datafolder import add_data_dir_argument, open_data
from kalshi_collector.status.render import render_text, report_json
from kalshi_collector.status.report import build_report
from kalshi_collector.status.scan import Scan, scan
from kalshi_collector.storage import ParquetStorage

__all__ = ["add_arguments", "run"]

_SCAN_ATTEMPTS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_dir_argument(parser)
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first UTC day to look at (default: all)")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last UTC day to look at (default: all)")
    parser.add_argument("--outage-seconds", type=positive_float, metavar="S",
                        help="no snapshot for this long is a hole (default: 3 snapshot intervals, at least 120)")
    parser.add_argument("--top", type=non_negative_int, default=10, metavar="N", help="longest gaps to list (default: 10)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout, for scripts")


def _scan(storage: ParquetStorage, start: dt.date | None, end: dt.date | None) -> Scan:
    for attempt in range(_SCAN_ATTEMPTS):
        try:
            return scan(storage, start, end)
        except FileNotFoundError:
            # compaction merged and deleted parts while we listed them: list again
            if attempt == _SCAN_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    start, end = date_range(args.start, args.end)
    folder = open_data(args)
    config = folder.config
    data = _scan(folder.storage, start, end)
    col = config.collection if config else None
    report = build_report(
        data,
        now=dt.datetime.now(dt.UTC),
        interval_seconds=col.interval_seconds if col else None,
        has_overrides=bool(col and col.interval_overrides),
        flush_interval_seconds=config.storage.flush_interval_seconds if config else 300.0,
        outage_seconds=args.outage_seconds,
        series=list(config.event_series) if config else [],
        config_path=folder.config_path,
        top=args.top,
    )
    print(report_json(report) if args.json else render_text(report), end="" if not args.json else "\n")
    return 0
