"""``kalshi-collector rebuild --data DIR --out OUT [--date D | --start D --end D]``.

Regenerates ``orderbook_deltas``, ``trades_live``, ``book_events``, ``market_snapshots`` and
``orderbook_snapshots`` of the range from the raw tape (``raw_ws``) into ``OUT``, in the data
folder's layout: after a decoder fix, to repair what the old decoder lost (``live.rebuild_io``).
"""

from __future__ import annotations

import argparse
import datetime as dt

from kalshi_collector.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DIR", help="the data folder holding raw_ws")
    parser.add_argument("--out", required=True, metavar="OUT", help="an empty folder for the rebuilt tables")
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="one UTC day")
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first UTC day of a range")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last UTC day of a range (default: --start)")


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected a date such as 2026-02-11") from None


def days(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    if args.date and (args.start or args.end):
        raise UsageError("give either --date or --start/--end, not both")
    if args.date:
        day = _day(args.date, "--date")
        return day, day
    if not args.start:
        raise UsageError("give --date D or --start D [--end D]")
    start = _day(args.start, "--start")
    return start, _day(args.end, "--end") if args.end else start


def run(args: argparse.Namespace) -> int:
    from kalshi_collector.live.rebuild_io import rebuild

    start, end = days(args)
    report = rebuild(args.data, args.out, start, end)
    rows = ", ".join(f"{name} {count}" for name, count in report.rows.items())
    print(f"rebuilt {start}..{end} from {report.records} raw records ({report.runs} collector runs): {rows}")
    if report.malformed_frames:
        print(f"  {report.malformed_frames} frames the decoder could not read (kept in raw_ws)")
    if report.rejected_rows:
        print(f"  {report.rejected_rows} rows could not be stored")
    return 0 if report.records else 1
