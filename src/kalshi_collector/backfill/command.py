"""``kalshi-collector backfill``: argument parsing and the one-line errors a user can act on."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import re
import sys
import time
from datetime import UTC, date, datetime

from kalshi_collector.backfill.plan import PERIODS
from kalshi_collector.backfill.progress import Progress, make_progress
from kalshi_collector.backfill.runner import (
    BackfillRequest,
    BackfillSummary,
    UnknownTickers,
    backfill,
    default_concurrency,
)
from kalshi_collector.backfill.store import BackfillLocked
from kalshi_collector.config import Config, load_config
from kalshi_collector.errors import UsageError
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient
from kalshi_collector.preflight import preflight
from kalshi_collector.storage import LiveStore

__all__ = ["add_arguments", "run", "parse_request"]

log = logging.getLogger("kalshi_collector.backfill")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first UTC day to fetch")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last UTC day to fetch, inclusive (default: today)")
    parser.add_argument("--events", nargs="+", metavar="E", default=[], help="event tickers (default: the config's)")
    parser.add_argument(
        "--series", nargs="+", metavar="S", default=[],
        help="series tickers: every event of the series that traded in the date range",
    )
    parser.add_argument(
        "--period", default="60", metavar="MINUTES", help="candlestick period: 1, 60 or 1440 (default: 60)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, metavar="N",
        help="requests in flight (default: from the rate limit); the rate limit still applies",
    )


def _parse_date(flag: str, text: str) -> date:
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date; expected YYYY-MM-DD, e.g. 2026-02-11") from None


def _tickers(flag: str, values: list[str]) -> tuple[str, ...]:
    out = []
    for value in values:
        for ticker in value.split(","):
            ticker = ticker.strip()
            if not ticker:
                continue
            if not _TICKER.match(ticker):
                raise UsageError(f"{flag} {ticker!r} is not a Kalshi ticker (upper-case letters, digits, '-' and '.')")
            out.append(ticker)
    return tuple(dict.fromkeys(out))


def parse_request(args: argparse.Namespace, config: Config, *, today: date) -> BackfillRequest:
    """Validate the arguments against each other and the config; every problem is a UsageError."""
    start = _parse_date("--start", args.start)
    end = _parse_date("--end", args.end) if args.end else None
    if start > today:
        raise UsageError(f"--start {start.isoformat()} is in the future (today is {today.isoformat()} UTC)")
    end = end or today
    if end < start:
        raise UsageError(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    try:
        period = int(str(args.period))
    except ValueError:
        period = -1
    if period not in PERIODS:
        raise UsageError(
            f"--period {args.period} is not supported; Kalshi serves candlesticks of {', '.join(map(str, PERIODS))} minutes"
        )
    events = _tickers("--events", args.events)
    series = _tickers("--series", args.series)
    if not events and not series:
        events, series = tuple(config.events), tuple(config.event_series)
    if not events and not series:
        raise UsageError("nothing to backfill: pass --events or --series, or list `events` in the config")
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError(f"--concurrency {args.concurrency} must be at least 1")
    return BackfillRequest(start=start, end=end, events=events, series=series, period_minutes=period)


async def _run(config: Config, request: BackfillRequest, concurrency: int | None, progress: Progress) -> BackfillSummary:
    async with KalshiRestClient.from_config(config) as client:
        raw = _keep_raw(client, config) if config.backfill.keep_raw else None
        try:
            return await backfill(
                client,
                config.storage.data_dir,
                request,
                concurrency=concurrency or default_concurrency(client.rate),
                progress=progress,
            )
        finally:
            if raw is not None:
                await asyncio.to_thread(_close_raw, raw)


def _close_raw(store: LiveStore) -> None:
    """Flush, and compact the finished days of this store's own parts (no one else compacts a
    shard's parts: docs/operations.md)."""
    store.flush()
    store.compact(datetime.now(UTC).date())
    store.close()


def _keep_raw(client: KalshiRestClient, config: Config) -> LiveStore:
    """``backfill.keep_raw``: every body the client reads goes to ``raw_rest`` (source ``backfill``)
    through a live store of its own (collector id ``ID_backfill``: its journal and parts never
    clash with a collector's on the same folder)."""
    store = LiveStore(config.storage.data_dir, collector_id=f"{config.storage.collector_id}_backfill")
    store.recover()
    append = store.appender("raw_rest")
    numbers = itertools.count(int(time.time() * 1_000_000))

    def on_body(source: str, request: str, status: int, body: bytes) -> None:
        append((int(time.time() * 1_000_000), next(numbers), "backfill", request, status, body))

    client.on_body = on_body
    return store


def run(args: argparse.Namespace) -> int:
    try:
        return _run_command(args)
    except (UsageError, UnknownTickers, BackfillLocked) as exc:
        raise UsageError(str(exc)) from None


def _run_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    request = parse_request(args, config, today=datetime.now(UTC).date())
    asyncio.run(preflight(config))  # StartupFailed: one line, exit 1/2
    try:
        summary = asyncio.run(_run(config, request, args.concurrency, make_progress(sys.stderr)))
    except ApiError as exc:
        print(f"kalshi-collector backfill: {exc.operator_message()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kalshi-collector backfill: cannot write under {config.storage.data_dir}: {exc}", file=sys.stderr)
        return 1
    print(summary.line(), flush=True)
    for ticker in summary.markets_failed:
        log.error("incomplete: %s (see the errors above; a new run fetches only what is missing)", ticker)
    return 0 if summary.ok else 1
