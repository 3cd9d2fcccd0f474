"""``kalshi-collector weather``: fetch ASOS 1-minute, METAR and daily climate reports to parquet.

Default: yesterday's climate day (the last one that has ended, per station, in local standard
time) for every configured station, i.e. what the seed's ``run_weather.py`` did from cron.
Stations come from ``--stations``, else ``weather.stations``, else the temperature series in
``event_series``/``events`` (through the registry in :mod:`kalshi_collector.weather.stations`).

Exit code 0 when everything asked for was fetched (or was already complete), 1 when anything
failed: the failures are logged one per line, and everything else is still saved.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from kalshi_collector.config import Config, load_config
from kalshi_collector.errors import UsageError
from kalshi_collector.weather.common import utc_now
from kalshi_collector.weather.http import HttpOptions
from kalshi_collector.weather.observations import WeatherRun, collect_weather
from kalshi_collector.weather.sources import SOURCES
from kalshi_collector.weather.stations import (
    Station,
    UnknownStation,
    current_climate_date,
    last_finished_climate_date,
    resolve_station,
    stations_for_tickers,
)

__all__ = ["add_arguments", "run", "execute", "configured_stations", "plan_jobs"]

log = logging.getLogger("kalshi_collector.weather")

MAX_DAYS = 366


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="one climate date (default: yesterday's)")
    parser.add_argument("--start", type=_date, metavar="YYYY-MM-DD", help="first climate date of a range")
    parser.add_argument("--end", type=_date, metavar="YYYY-MM-DD", help="last climate date of a range (inclusive)")
    parser.add_argument(
        "--stations",
        nargs="+",
        metavar="STATION",
        help="ICAO ids (KMDW), IEM ids (MDW) or series tickers (KXHIGHCHI); "
        "default: weather.stations, else the stations of event_series/events",
    )
    parser.add_argument(
        "--sources",
        nargs="+",
        choices=list(SOURCES),
        default=list(SOURCES),
        metavar="SOURCE",
        help=f"any of {', '.join(SOURCES)} (default: all)",
    )
    parser.add_argument("--refetch", action="store_true", help="fetch again days already recorded as finished")


def configured_stations(config: Config, requested: list[str] | None) -> tuple[list[Station], list[str]]:
    """(stations, problems): explicit names first, else config; unknown names become problems."""
    names = requested or config.weather.stations
    problems: list[str] = []
    if names:
        stations: list[Station] = []
        for name in names:
            try:
                station = resolve_station(name)
            except UnknownStation as exc:
                problems.append(str(exc))
                continue
            if station not in stations:
                stations.append(station)
        return stations, problems
    return stations_for_tickers([*config.event_series, *config.events]), problems


def _dates(args: argparse.Namespace) -> list[date] | None:
    if args.date and (args.start or args.end):
        raise UsageError("give either --date or --start/--end, not both")
    if bool(args.start) != bool(args.end):
        raise UsageError("--start and --end go together (both inclusive climate dates)")
    if args.date:
        return [args.date]
    if args.start:
        if args.start > args.end:
            raise UsageError(f"--start {args.start} is after --end {args.end}")
        days = (args.end - args.start).days + 1
        if days > MAX_DAYS:
            raise UsageError(f"{days} days asked for; fetch at most {MAX_DAYS} at a time")
        return [args.start + timedelta(days=i) for i in range(days)]
    return None


def plan_jobs(stations: list[Station], dates: list[date] | None, now: datetime) -> list[tuple[Station, date]]:
    """(station, climate date) pairs; default per station its last finished climate day.

    Days that have not begun at a station yet are left out.
    """
    jobs = []
    for station in stations:
        if dates is None:
            jobs.append((station, last_finished_climate_date(station, now)))
            continue
        today = current_climate_date(station, now)
        jobs.extend((station, d) for d in dates if d <= today)
    return jobs


def execute(
    args: argparse.Namespace,
    *,
    options: HttpOptions | None = None,
    now: Callable[[], datetime] = utc_now,
) -> int:
    """The command with its clock and HTTP limits injectable (tests use short timeouts)."""
    config = load_config(args.config)
    dates = _dates(args)
    stations, problems = configured_stations(config, args.stations)
    for problem in problems:
        log.error("weather: %s", problem)
    if not stations:
        if problems:
            return 1
        raise UsageError(
            "no weather stations: pass --stations KMDW ..., set weather.stations, "
            "or follow a temperature series (event_series: [KXHIGHCHI])"
        )
    jobs = plan_jobs(stations, dates, now())
    if not jobs:
        raise UsageError(f"climate day {dates[0] if dates else '?'} has not started yet at any of the stations")
    result: WeatherRun = asyncio.run(
        collect_weather(
            jobs,
            args.sources,
            data_dir=config.storage.data_dir,
            iem_url=config.weather.iem_url,
            awc_url=config.weather.awc_url,
            options=options or HttpOptions(total_seconds=config.weather.request_total_seconds),
            now=now,
            refetch=args.refetch,
        )
    )
    print(result.summary())
    for url in result.urls:
        print(f"  wrote {url}")
    for failure in result.failures:
        print(f"  FAILED {failure}")
    for problem in problems:
        print(f"  FAILED {problem}")
    return 1 if problems else result.exit_code


def run(args: argparse.Namespace) -> int:
    return execute(args)
