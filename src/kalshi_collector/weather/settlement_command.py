"""``kalshi-collector settlement EVENT_TICKER ...``: how temperature events settle, beside the weather.

For each event the markets come from Kalshi REST (``GET /events/{ticker}?with_nested_markets=true``
through :class:`~kalshi_collector.kalshi.rest.KalshiRestClient`); the weather from the day files
the ``weather`` command wrote (``--fetch-weather`` fetches those days first). Prints a table, or
one JSON object per event with ``--json``.

Exit code 1 when an event or its weather could not be fetched; a disagreement with Kalshi is a
finding, shown in the output (and in the JSON ``disagreement`` field), not a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from kalshi_collector.config import Config, load_config
from kalshi_collector.storage.catalog import WEATHER
from kalshi_collector.storage.fs import open_data_dir
from kalshi_collector.storage.schemas import conform
from kalshi_collector.weather.common import utc_now
from kalshi_collector.weather.http import HttpOptions
from kalshi_collector.weather.observations import collect_weather
from kalshi_collector.weather.settlement import EventSettlement, settle_events
from kalshi_collector.weather.stations import STATIONS, event_climate_date, series_for_ticker

__all__ = ["add_arguments", "run", "execute", "fetch_event_markets", "read_weather_days", "format_settlement"]

log = logging.getLogger("kalshi_collector.weather")

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("events", nargs="+", metavar="EVENT_TICKER", help="e.g. KXHIGHCHI-26FEB11")
    parser.add_argument("--fetch-weather", action="store_true",
                        help="fetch the weather for these events' climate days first")
    parser.add_argument("--json", action="store_true", help="one JSON object per event instead of a table")


async def fetch_event_markets(config: Config, event_tickers: list[str]) -> dict[str, list[Any] | Exception]:
    """Each event's markets (typed ``Market`` records: strikes, status, result), or why not.

    One REST client for all events, so Kalshi's rate budget is shared; one bad ticker does not
    hide the others.
    """
    from kalshi_collector.kalshi.rest import KalshiRestClient

    async with KalshiRestClient.from_config(config) as client:

        async def one(ticker: str) -> list[Any] | Exception:
            try:
                event = await client.get_event(ticker, with_nested_markets=True)
            except Exception as exc:
                return exc
            return list(event.markets)

        results = await asyncio.gather(*(one(t) for t in event_tickers))
    return dict(zip(event_tickers, results, strict=True))


def read_weather_days(data_dir: str | Path, source: str, dates: Iterable[date]) -> pd.DataFrame:
    """Rows of ``source`` for the given climate dates (missing day files are simply absent).

    ``data_dir``: a local folder or an object-store URL."""
    fs, root = open_data_dir(data_dir)
    dataset = WEATHER[source]
    tables = []
    for d in sorted(set(dates)):
        path = dataset.layout.day_file(root, d)
        if fs.isfile(path):
            tables.append(conform(fs.read_table(path), dataset.schema))
    return (pa.concat_tables(tables) if tables else dataset.schema.empty_table()).to_pandas()


def _deg(value: float | None) -> str:
    return "--" if value is None else f"{value:g}°F"


def _rule(o: Any) -> str:
    f, c = o.floor_strike, o.cap_strike
    return {
        "between": f"{f:g}..{c:g}" if f is not None and c is not None else "between ?",
        "greater": f"> {f:g}" if f is not None else "> ?",
        "greater_or_equal": f">= {f:g}" if f is not None else ">= ?",
        "less": f"< {c:g}" if c is not None else "< ?",
        "less_or_equal": f"<= {c:g}" if c is not None else "<= ?",
    }.get(o.strike_type or "", o.strike_type or "?")


def format_settlement(s: EventSettlement) -> str:
    """A few readable lines per event."""
    lines = []
    if s.station is None or s.climate_date is None or s.window_start is None or s.window_end is None:
        lines.append(f"{s.event_ticker}: {s.note}")
        return "\n".join(lines)
    kind = "high (CLI MAXIMUM)" if s.kind == "high" else "low (CLI MINIMUM)"
    lines.append(
        f"{s.event_ticker}  {s.station} {kind}, climate day {s.climate_date} "
        f"= {s.window_start:%Y-%m-%d %H:%MZ} .. {s.window_end:%Y-%m-%d %H:%MZ}"
    )
    word = "max" if s.kind == "high" else "min"
    cli = "--" if s.cli_value is None else (
        f"{s.cli_value}°F ({'PRELIMINARY' if s.cli_preliminary else 'final'} {s.cli_product_id}, "
        f"{s.cli_versions} version{'s' if s.cli_versions != 1 else ''})"
    )
    one_at = f" at {s.asos_1min_at:%H:%MZ}" if s.asos_1min_at else ""
    metar_at = f" at {s.metar_at:%H:%MZ}" if s.metar_at else ""
    lines.append(f"  CLI {cli}")
    lines.append(
        f"  ASOS 1-min {word} {_deg(s.asos_1min_value)}{one_at}   METAR {word} {_deg(s.metar_value)}{metar_at}"
        f"   METAR 6h/24h {word} group {_deg(s.metar_6h_value)}"
    )
    lines.append(f"  settles YES: {s.settles_yes or '--'}   Kalshi YES: {s.kalshi_yes or '--'}")
    lines.append(f"  {'market':<32} {'rule':<10} {'subtitle':<16} {'status':<11} {'Kalshi':<7} ours")
    for o in s.markets:
        flag = "   <-- DISAGREES" if o.disagrees else ""
        lines.append(
            f"  {o.ticker:<32} {_rule(o):<10} {(o.yes_sub_title or ''):<16} {(o.status or ''):<11} "
            f"{(o.result or '-'):<7} {o.expected or '-'}{flag}"
        )
    if s.disagreement:
        lines.append("  DISAGREEMENT: Kalshi's result differs from the CLI value stored here")
    if s.note:
        lines.append(f"  note: {s.note}")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def execute(
    args: argparse.Namespace,
    *,
    options: HttpOptions | None = None,
    now: Callable[[], datetime] = utc_now,
) -> int:
    config = load_config(args.config)
    tickers = [t.strip().upper() for t in args.events]
    failed = False
    jobs = []
    for t in tickers:
        series = series_for_ticker(t)
        try:
            day = event_climate_date(t)
        except ValueError:
            continue
        if series is not None:
            jobs.append((STATIONS[series.station], day))
    if args.fetch_weather and jobs:
        run = asyncio.run(
            collect_weather(jobs, ["asos_1min", "metar", "daily_climate"], data_dir=config.storage.data_dir,
                            iem_url=config.weather.iem_url, awc_url=config.weather.awc_url, options=options, now=now)
        )
        failed |= not run.ok
    markets_by_event = asyncio.run(fetch_event_markets(config, tickers))
    markets: list[Any] = []
    for ticker, result in markets_by_event.items():
        if isinstance(result, Exception):
            log.error("settlement %s: could not fetch the event's markets: %s", ticker, result)
            failed = True
        elif not result:
            log.error("settlement %s: the event has no markets", ticker)
            failed = True
        else:
            markets.extend(result)
    dates = [d for _, d in jobs]
    data_dir = config.storage.data_dir
    views = settle_events(
        markets,
        daily_climate=read_weather_days(data_dir, "daily_climate", dates),
        asos_1min=read_weather_days(data_dir, "asos_1min", dates),
        metar=read_weather_days(data_dir, "metar", dates),
    )
    for view in views:
        if args.json:
            print(json.dumps(_jsonable(dataclasses.asdict(view)), sort_keys=True))
        else:
            print(format_settlement(view))
            print()
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    return execute(args)
