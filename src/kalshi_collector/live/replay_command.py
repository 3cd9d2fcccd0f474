"""``kalshi-collector replay --market TICKER --at TIME``: the book at an instant, rebuilt from the tape.

The replay is the research API's (:func:`kalshi_collector.research.books.book_at`): the tape where
the market has one, else the original collector's baseline + delta ``orderbook_snapshots``.

``--at`` takes a full ISO time or a part of one, always UTC unless it carries an offset:
``2026-02-11T18:30:00Z``, ``2026-02-11 18:30``, ``2026-02-11`` (a date alone is its 00:00, as in
ISO 8601 and pandas) or ``18:30`` / ``18:30:05`` (a time alone is on the last UTC day the folder has
order-book data for: today while collecting).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time

from kalshi_collector.cliargs import non_negative_int
from kalshi_collector.config import load_config
from kalshi_collector.errors import UsageError
from kalshi_collector.research.records import BookState

_EXAMPLES = "2026-02-11T18:30:00Z, 2026-02-11 18:30, 2026-02-11 or 18:30"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, metavar="TICKER", help="market ticker, e.g. KXHIGHCHI-26FEB11-B34.5")
    parser.add_argument("--at", required=True, metavar="TIME",
                        help=f"UTC time: {_EXAMPLES} (a date alone = its 00:00; a time alone = on the last day recorded)")
    parser.add_argument("--depth", type=non_negative_int, default=10, help="levels per side to print (0 = all)")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (default: storage.data_dir from the config)")


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_time(text: str, last_day: Callable[[], date | None] | None = None) -> datetime:
    """``--at``: a full or partial time (module docstring); ``last_day`` gives the day of a time alone."""
    spelled = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return _utc(datetime.fromisoformat(spelled))
    except ValueError:
        pass
    try:
        clock = time.fromisoformat(spelled)
    except ValueError:
        raise UsageError(f"--at {text!r}: expected a UTC time such as {_EXAMPLES}") from None
    day = last_day() if last_day is not None else None
    if day is None:
        raise UsageError(f"--at {text!r} names no day and the data folder has no order-book data to take it from: "
                         f"give the date too, e.g. --at '2026-02-11 {text.strip()}'")
    return _utc(datetime.combine(day, clock))


def _partial(text: str) -> str | None:
    """What rule a partial ``--at`` was read by (``None``: it was a full time)."""
    spelled = text.strip()
    try:
        date.fromisoformat(spelled)
        return "a date alone is its 00:00 UTC"
    except ValueError:
        pass
    try:
        datetime.fromisoformat(spelled.replace("Z", "+00:00"))
        return None
    except ValueError:
        return "a time alone is on the last day the folder has order-book data for"


def _level_rows(state: BookState, depth: int | None) -> list[str]:
    yes, no = state.yes[:depth], state.no[:depth]
    lines = [f"  {'YES bid':>8} {'qty':>10}   {'NO bid':>8} {'qty':>10}   (YES ask = 100 - NO bid)"]
    for i in range(max(len(yes), len(no))):
        y = f"{yes[i].price:>8} {yes[i].size:>10}" if i < len(yes) else " " * 19
        n = f"{no[i].price:>8} {no[i].size:>10}" if i < len(no) else ""
        lines.append(f"  {y}   {n}".rstrip())
    return lines


def render(state: BookState, depth: int | None) -> str:
    """The book as ``replay`` prints it."""
    lines = [f"{state.ticker} at {state.ts.isoformat()}: {'VALID' if state.valid else 'NOT VALID'} ({state.reason})"]
    if state.snapshot_ts is not None:
        if state.source == "tape":
            lines.append(f"  from the snapshot received {state.snapshot_ts.isoformat()} + {state.deltas_applied} deltas")
        else:
            lines.append(f"  from the order-book snapshot of {state.snapshot_ts.isoformat()}")
    if state.best_bid is not None or state.best_ask is not None:
        lines.append(f"  best YES bid {state.best_bid if state.best_bid is not None else '-'}, "
                     f"best YES ask {state.best_ask if state.best_ask is not None else '-'} (cents)")
    return "\n".join(lines + _level_rows(state, depth)) + "\n"


def run(args: argparse.Namespace) -> int:
    from kalshi_collector.datafolder import open_storage
    from kalshi_collector.research.books import book_at, last_recorded_day

    storage = open_storage(args.data_dir or load_config(args.config).storage.data_dir)
    at = parse_time(args.at, lambda: last_recorded_day(storage))
    if (note := _partial(args.at)) is not None:
        print(f"--at {args.at!r} read as {at.isoformat()} ({note})", file=sys.stderr)
    state = book_at(storage, args.market, at)
    print(render(state, args.depth or None), end="")
    return 0 if state.snapshot_ts is not None else 1
