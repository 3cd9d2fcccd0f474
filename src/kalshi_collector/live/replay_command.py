"""``kalshi-collector replay --market TICKER --at TIME``: the book at an instant, rebuilt from the tape."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from kalshi_collector.cliargs import non_negative_int
from kalshi_collector.config import load_config
from kalshi_collector.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, metavar="TICKER", help="market ticker, e.g. KXHIGHCHI-26FEB11-B34.5")
    parser.add_argument("--at", required=True, metavar="TIME", help="ISO time, e.g. 2026-02-11T18:30:00Z (naive = UTC)")
    parser.add_argument("--depth", type=non_negative_int, default=10, help="levels per side to print (0 = all)")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (default: storage.data_dir from the config)")


def parse_time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at {text!r}: expected an ISO time such as 2026-02-11T18:30:00Z") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    from kalshi_collector.live.replay import rebuild_book

    at = parse_time(args.at)
    data_dir = args.data_dir or load_config(args.config).storage.data_dir
    book = rebuild_book(data_dir, args.market, at)
    print(f"{book.market_ticker} at {book.at.isoformat()}: {'VALID' if book.valid else 'NOT VALID'} ({book.reason})")
    if book.snapshot_recv_ts is not None:
        print(f"  from the snapshot received {book.snapshot_recv_ts.isoformat()} + {book.deltas_applied} deltas")
    depth = args.depth or None
    yes, no = book.levels("yes")[:depth], book.levels("no")[:depth]
    print(f"  {'YES bid':>8} {'qty':>10}   {'NO bid':>8} {'qty':>10}   (YES ask = 100 - NO bid)")
    for i in range(max(len(yes), len(no))):
        y = f"{yes[i][0]:>8g} {yes[i][1]:>10g}" if i < len(yes) else " " * 19
        n = f"{no[i][0]:>8g} {no[i][1]:>10g}" if i < len(no) else ""
        print(f"  {y}   {n}")
    return 0 if book.snapshot_recv_ts is not None else 1
