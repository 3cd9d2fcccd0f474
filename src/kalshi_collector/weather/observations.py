"""The weather orchestrator: stations x climate dates x sources -> one parquet file per source and date.

Layout: ``<data_dir>/weather/<source>/YYYY-MM-DD.parquet`` (each source's dataset in
:mod:`kalshi_collector.storage.catalog`), where the date is the *climate* date (local standard
time, STATIONS.md) and one file holds every station of that day. What differs between sources
(fetcher, dedupe form of a key, upgrade column, when a day is finished) is on each source's
:class:`~kalshi_collector.weather.sources.WeatherSource` record.

Re-runs are idempotent: the day file is read, the new rows are added to it, rows already held
are kept as they are (first fetch wins; the one exception is a CLI version first known only
through IEM's parse, which is upgraded when its full text arrives), and the file is rewritten
atomically. A later CLI version has a new product id, so it is added beside the older ones.

Days that are finished (the source has had time to settle and the data is there) are recorded
in ``<data_dir>/weather/_fetch_log.json`` and not fetched again: IEM's maintainer has asked
people wagering on weather to cache. ``refetch=True`` ignores that record.

One station failing (bad answer, timeout, unknown id) is logged as one line and reported in the
:class:`WeatherRun`; the other stations and sources still complete.

``data_dir`` may be an object-store URL (``s3://bucket/prefix``): the same layout, day files and
fetch log included, is written through :mod:`kalshi_collector.storage.fs`. Every file here is
rewritten whole, so each write is one atomic PUT there (temp file + fsync + rename on local disk);
no working state needs a local folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePath

import pyarrow as pa

from kalshi_collector.storage.fs import LocalFS, StorageFS, open_data_dir
from kalshi_collector.weather.common import DayResult, WeatherUrls, utc_now
from kalshi_collector.weather.dayfile import DayFileUnreadable, merge_into_day_file, merge_rows
from kalshi_collector.weather.http import HttpOptions, WeatherHttp
from kalshi_collector.weather.sources import SOURCES, WeatherSource
from kalshi_collector.weather.stations import Station, climate_day_window

__all__ = [
    "SOURCES",
    "WeatherRun",
    "Failure",
    "Fetched",
    "collect_weather",
    "merge_rows",
    "day_is_finished",
    "FetchLog",
    "FETCH_LOG",
]

log = logging.getLogger(__name__)

# Past this, an empty day stays empty (e.g. a station IEM has no 1-minute data for).
GIVE_UP_AFTER = timedelta(days=40)
FETCH_LOG = "weather/_fetch_log.json"
"""The record of finished days, relative to the data folder (state, not a dataset)."""


def day_is_finished(
    source: str, window_end: datetime, fetched_at: datetime, rows: int, has_final_cli: bool = False
) -> bool:
    """Whether a (station, day) fetched at ``fetched_at`` holds all it ever will (pure).

    ``has_final_cli``: the station's day holds a final version (asked only of sources that publish
    preliminary ones: :attr:`WeatherSource.final_stations`).
    """
    spec = SOURCES[source]
    age = fetched_at - window_end
    if age >= GIVE_UP_AFTER:
        return True
    if age < spec.settles_after:
        return False
    if spec.final_stations is not None:
        return has_final_cli
    return rows > 0


# --------------------------------------------------------------------------- fetch log (cache of finished days)


class FetchLog:
    """Which (source, station, climate date) were fetched when, and whether they are finished."""

    def __init__(self, path: PurePath, fs: StorageFS | None = None) -> None:
        self.path = path
        self.fs: StorageFS = fs or LocalFS()
        self.entries: dict[str, dict] = {}
        try:
            loaded = json.loads(self.fs.read_bytes(path).decode("utf-8"))
            self.entries = loaded if isinstance(loaded, dict) else {}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("weather: fetch log %s unreadable (%s); finished days will be fetched again", path, exc)

    @staticmethod
    def _key(source: str, station: str, climate_date: date) -> str:
        return f"{source}/{station}/{climate_date.isoformat()}"

    def is_finished(self, source: str, station: str, climate_date: date) -> bool:
        return bool(self.entries.get(self._key(source, station, climate_date), {}).get("finished"))

    def record(self, source: str, station: str, climate_date: date, *, fetched_at: datetime, rows: int,
               finished: bool) -> None:
        self.entries[self._key(source, station, climate_date)] = {
            "fetched_at": fetched_at.astimezone(UTC).isoformat(),
            "rows": rows,
            "finished": finished,
        }

    def save(self) -> None:
        self.fs.write_bytes(self.path, json.dumps(self.entries, indent=0, sort_keys=True).encode())


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class Failure:
    source: str
    station: str | None  # None: a request that served every station of the day
    climate_date: date
    message: str

    def __str__(self) -> str:
        return f"{self.source} {self.station or 'all stations'} {self.climate_date}: {self.message}"


@dataclass(frozen=True, slots=True)
class Fetched:
    source: str
    station: str
    climate_date: date
    rows_added: int
    rows_total: int
    finished: bool


@dataclass(slots=True)
class WeatherRun:
    fetched: list[Fetched] = field(default_factory=list)
    cached: list[tuple[str, str, date]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    files: list[PurePath] = field(default_factory=list)  # a Path on local disk, the store's key otherwise
    urls: list[str] = field(default_factory=list)  # the same files as readers open them (``s3://...``)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def summary(self) -> str:
        """One line: counts are of (source, station, climate day) sets."""
        added = sum(f.rows_added for f in self.fetched)
        return (
            f"weather: fetched {len(self.fetched)} (source, station, day) with {added} new rows; "
            f"{len(self.cached)} already complete; {len(self.failures)} failed; {len(self.files)} files written"
        )


@dataclass(frozen=True, slots=True)
class _RunContext:
    """What every (source, climate date) of one run shares; ``run`` collects the outcome."""

    http: WeatherHttp
    urls: WeatherUrls
    fs: StorageFS
    root: PurePath
    fetch_log: FetchLog
    now: datetime
    refetch: bool
    run: WeatherRun

    def fail(self, failure: Failure) -> None:
        log.error("weather: %s", failure)
        self.run.failures.append(failure)


async def _run_source_day(ctx: _RunContext, source: WeatherSource, climate_date: date,
                          stations: list[Station]) -> None:
    """One source for one climate date: fetch what is not finished yet, merge it into the day
    file, record each station's day in the fetch log."""
    todo = _stations_to_fetch(ctx, source, climate_date, stations)
    if not todo:
        return
    result = await _fetch(ctx, source, climate_date, todo)
    if result is None:
        return
    for station_id, message in result.errors.items():
        ctx.fail(Failure(source.name, station_id, climate_date, message))
    stored = _store_day(ctx, source, climate_date, result.table)
    if stored is None:
        return
    merged, added = stored
    _record_stations(ctx, source, climate_date, [s for s in todo if s.icao not in result.errors], merged, added)
    ctx.fetch_log.save()


def _stations_to_fetch(ctx: _RunContext, source: WeatherSource, climate_date: date,
                       stations: list[Station]) -> list[Station]:
    """The stations whose day is not recorded as finished (all of them with ``refetch``)."""
    todo = []
    for station in stations:
        if not ctx.refetch and ctx.fetch_log.is_finished(source.name, station.icao, climate_date):
            ctx.run.cached.append((source.name, station.icao, climate_date))
        else:
            todo.append(station)
    return todo


async def _fetch(ctx: _RunContext, source: WeatherSource, climate_date: date,
                 stations: list[Station]) -> DayResult | None:
    """The source's answer; None (every station failed) when its fetcher raised."""
    try:
        return await source.fetch_day(ctx.http, ctx.urls, stations, climate_date, now=ctx.now)
    except Exception as exc:  # a bug in one source must not stop the others
        log.error("weather %s %s: unexpected error", source.name, climate_date, exc_info=exc)
        for station in stations:
            ctx.run.failures.append(Failure(source.name, station.icao, climate_date, f"internal error: {exc}"))
        return None


def _store_day(ctx: _RunContext, source: WeatherSource, climate_date: date,
               fetched: pa.Table) -> tuple[pa.Table, pa.Table] | None:
    """(day file with ``fetched`` merged in, rows added); the file is rewritten only if rows were
    added. None when the existing day file cannot be read: it is left untouched, since it may hold
    data that rewriting it would lose."""
    try:
        day = merge_into_day_file(ctx.fs, ctx.root, source, climate_date, fetched)
    except DayFileUnreadable as exc:
        ctx.fail(Failure(source.name, None, climate_date, str(exc)))
        return None
    if day.written:
        ctx.run.files.append(day.path)
        ctx.run.urls.append(ctx.fs.url(day.path))
    return day.merged, day.added


def _record_stations(ctx: _RunContext, source: WeatherSource, climate_date: date, answered: list[Station],
                     merged: pa.Table, added: pa.Table) -> None:
    """Each station that answered: its rows now held, and whether its day is finished."""
    totals = Counter(merged.column("station").to_pylist())
    added_counts = Counter(added.column("station").to_pylist())
    finals = source.final_stations(merged) if source.final_stations is not None else set()
    for station in answered:
        total = totals[station.icao]
        _, window_end = climate_day_window(station, climate_date)
        finished = day_is_finished(source.name, window_end, ctx.now, total, station.icao in finals)
        ctx.fetch_log.record(source.name, station.icao, climate_date, fetched_at=ctx.now, rows=total,
                             finished=finished)
        ctx.run.fetched.append(Fetched(source.name, station.icao, climate_date, added_counts[station.icao], total,
                                       finished))


async def collect_weather(
    jobs: Iterable[tuple[Station, date]],
    sources: Sequence[str],
    *,
    data_dir: str | Path,
    iem_url: str,
    awc_url: str,
    options: HttpOptions | None = None,
    now: Callable[[], datetime] = utc_now,
    refetch: bool = False,
) -> WeatherRun:
    """Fetch and store every (station, climate date) in ``jobs`` for every source in ``sources``.

    ``data_dir``: a local folder or an object-store URL (``s3://bucket/prefix``)."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown weather source(s) {unknown}; expected some of {list(SOURCES)}")
    by_date: dict[date, list[Station]] = defaultdict(list)
    for station, climate_date in jobs:
        if station not in by_date[climate_date]:
            by_date[climate_date].append(station)
    fs, root = open_data_dir(data_dir)
    run = WeatherRun()
    async with WeatherHttp(options) as http:
        ctx = _RunContext(http, WeatherUrls(iem=iem_url, awc=awc_url), fs, root, FetchLog(root / FETCH_LOG, fs),
                          now(), refetch, run)
        await asyncio.gather(
            *(
                _run_source_day(ctx, SOURCES[source], d, stations)
                for source in sources
                for d, stations in sorted(by_date.items())
            )
        )
    return run
