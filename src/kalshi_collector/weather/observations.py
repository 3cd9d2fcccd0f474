"""The weather orchestrator: stations x climate dates x sources -> one parquet file per source and date.

Layout: ``<data_dir>/weather/<source>/YYYY-MM-DD.parquet``, where the date is the *climate*
date (local standard time, STATIONS.md) and one file holds every station of that day.

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
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePath
from typing import Protocol

import pyarrow as pa

from kalshi_collector.storage.fs import LocalFS, StorageFS, open_data_dir
from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.common import DayResult, WeatherUrls, utc_now
from kalshi_collector.weather.http import HttpOptions, WeatherHttp
from kalshi_collector.weather.stations import Station, climate_day_window

__all__ = [
    "SOURCES",
    "WeatherRun",
    "Failure",
    "Fetched",
    "collect_weather",
    "day_file",
    "day_path",
    "merge_rows",
    "day_is_finished",
    "FetchLog",
]

log = logging.getLogger(__name__)


class _DayFetcher(Protocol):
    async def __call__(
        self, http: WeatherHttp, urls: WeatherUrls, stations: list[Station], climate_date: date, *, now: datetime
    ) -> DayResult: ...


@dataclass(frozen=True, slots=True)
class _Source:
    fetch_day: _DayFetcher
    schema: pa.Schema
    key: tuple[str, ...]
    sort: tuple[str, ...]
    # After this long past the end of the climate day, what the source has is all it will have.
    settles_after: timedelta


SOURCES: dict[str, _Source] = {
    # NCEI -> IEM ingest runs 18-36 h or more behind (SOURCES.md 1.5).
    "asos_1min": _Source(asos_1min.fetch_day, asos_1min.SCHEMA, asos_1min.KEY, ("station", "observed_at"),
                         timedelta(hours=72)),
    # AWC receives reports within minutes; allow for late corrections.
    "metar": _Source(metar.fetch_day, metar.SCHEMA, metar.KEY, ("station", "observed_at", "raw_text"),
                     timedelta(hours=6)),
    # The final CLI comes ~1-2 h after the day; corrections can follow for a day or two.
    "daily_climate": _Source(daily_climate.fetch_day, daily_climate.SCHEMA, daily_climate.KEY,
                             ("station", "climate_date", "issued_at", "product_id"), timedelta(hours=72)),
}
# Past this, an empty day stays empty (e.g. a station IEM has no 1-minute data for).
GIVE_UP_AFTER = timedelta(days=40)


def day_path(data_dir: str | Path, source: str, climate_date: date) -> Path:
    """The day file in a *local* data folder (for any data folder: :func:`day_file`)."""
    return Path(data_dir) / "weather" / source / f"{climate_date.isoformat()}.parquet"


def day_file(root: PurePath, source: str, climate_date: date) -> PurePath:
    """The day file under ``root`` as returned by :func:`~kalshi_collector.storage.fs.open_data_dir`."""
    return root / "weather" / source / f"{climate_date.isoformat()}.parquet"


def day_is_finished(
    source: str, window_end: datetime, fetched_at: datetime, rows: int, has_final_cli: bool = False
) -> bool:
    """Whether a (station, day) fetched at ``fetched_at`` holds all it ever will (pure)."""
    age = fetched_at - window_end
    if age >= GIVE_UP_AFTER:
        return True
    if age < SOURCES[source].settles_after:
        return False
    if source == "daily_climate":
        return has_final_cli
    return rows > 0


# --------------------------------------------------------------------------- merging


def _normalizers(source: str) -> Mapping[str, Callable[[object], object]]:
    if source == "metar":
        return {"raw_text": lambda raw: metar.raw_key(str(raw))}
    return {}


def _keys(table: pa.Table, key: Sequence[str], normalize: Mapping[str, Callable[[object], object]]) -> list[tuple]:
    columns = []
    for name in key:
        values = table.column(name).to_pylist()
        fn = normalize.get(name)
        columns.append([fn(v) for v in values] if fn else values)
    return list(zip(*columns, strict=True)) if columns else []


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """An older day file as the current schema: columns in order, new columns null."""
    arrays = []
    for f in schema:
        if f.name in table.column_names:
            arrays.append(table.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def merge_rows(
    existing: pa.Table | None,
    new: pa.Table,
    key: Sequence[str],
    *,
    normalize: Mapping[str, Callable[[object], object]] | None = None,
    upgrade_column: str | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Existing rows, plus the new rows whose key is not held yet (pure). Returns (merged, rows added).

    ``upgrade_column``: a held row whose value there is null is replaced by a new row with the
    same key that has one (a CLI version known only from IEM's parse, then read in full).
    """
    normalize = normalize or {}
    if existing is None or existing.num_rows == 0:
        base = new.slice(0, 0)
        existing_keys: list[tuple] = []
    else:
        base = _conform(existing, new.schema)
        existing_keys = _keys(base, key, normalize)
    index = {k: i for i, k in enumerate(existing_keys)}
    keep_existing = [True] * len(existing_keys)
    take_new: list[int] = []
    seen_new: set[tuple] = set()
    upgrade_values = new.column(upgrade_column).to_pylist() if upgrade_column else None
    held_values = base.column(upgrade_column).to_pylist() if upgrade_column else None
    for i, k in enumerate(_keys(new, key, normalize)):
        if k in seen_new:
            continue
        seen_new.add(k)
        j = index.get(k)
        if j is None:
            take_new.append(i)
        elif upgrade_values is not None and held_values is not None and held_values[j] is None \
                and upgrade_values[i] is not None:
            keep_existing[j] = False
            take_new.append(i)
    kept = base.filter(pa.array(keep_existing, type=pa.bool_())) if existing_keys else base
    added = new.take(pa.array(take_new, type=pa.int64()))
    return pa.concat_tables([kept, added]), added


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


def _read_existing(fs: StorageFS, path: PurePath) -> pa.Table | None:
    if not fs.isfile(path):
        return None
    return fs.read_table(path)


async def _run_source_day(
    http: WeatherHttp,
    urls: WeatherUrls,
    source: str,
    climate_date: date,
    stations: list[Station],
    *,
    fs: StorageFS,
    root: PurePath,
    fetch_log: FetchLog,
    now: datetime,
    refetch: bool,
    run: WeatherRun,
) -> None:
    spec = SOURCES[source]
    todo = []
    for station in stations:
        if not refetch and fetch_log.is_finished(source, station.icao, climate_date):
            run.cached.append((source, station.icao, climate_date))
        else:
            todo.append(station)
    if not todo:
        return
    try:
        result = await spec.fetch_day(http, urls, todo, climate_date, now=now)
    except Exception as exc:  # a bug in one source must not stop the others
        log.error("weather %s %s: unexpected error", source, climate_date, exc_info=exc)
        for station in todo:
            run.failures.append(Failure(source, station.icao, climate_date, f"internal error: {exc}"))
        return
    for station_id, message in result.errors.items():
        failure = Failure(source, station_id, climate_date, message)
        log.error("weather: %s", failure)
        run.failures.append(failure)
    path = day_file(root, source, climate_date)
    try:
        existing = _read_existing(fs, path)
    except Exception as exc:  # never overwrite a file we could not read: it may hold data we would lose
        failure = Failure(source, None, climate_date, f"existing day file {path} unreadable, left untouched: {exc}")
        log.error("weather: %s", failure)
        run.failures.append(failure)
        return
    merged, added = merge_rows(
        existing,
        result.table,
        spec.key,
        normalize=_normalizers(source),
        upgrade_column="raw_text" if source == "daily_climate" else None,
    )
    if added.num_rows:
        merged = merged.sort_by([(c, "ascending") for c in spec.sort])
        fs.write_parquet(path, merged)
        run.files.append(path)
        run.urls.append(fs.url(path))
        log.info("weather: %s %s: +%d rows (%d in the day file) -> %s", source, climate_date, added.num_rows,
                 merged.num_rows, fs.url(path))
    station_col = merged.column("station").to_pylist()
    finals: set[str] = set()
    if source == "daily_climate":
        finals = {s for s, p in zip(station_col, merged.column("preliminary").to_pylist(), strict=True) if p is False}
    added_counts: dict[str, int] = defaultdict(int)
    for s in added.column("station").to_pylist():
        added_counts[s] += 1
    for station in todo:
        if station.icao in result.errors:
            continue
        total = station_col.count(station.icao)
        _, window_end = climate_day_window(station, climate_date)
        finished = day_is_finished(source, window_end, now, total, station.icao in finals)
        fetch_log.record(source, station.icao, climate_date, fetched_at=now, rows=total, finished=finished)
        run.fetched.append(Fetched(source, station.icao, climate_date, added_counts[station.icao], total, finished))
    fetch_log.save()


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
    fetch_log = FetchLog(root / "weather" / "_fetch_log.json", fs)
    run = WeatherRun()
    urls = WeatherUrls(iem=iem_url, awc=awc_url)
    started = now()
    async with WeatherHttp(options) as http:
        await asyncio.gather(
            *(
                _run_source_day(http, urls, source, d, stations, fs=fs, root=root, fetch_log=fetch_log, now=started,
                                refetch=refetch, run=run)
                for source in sources
                for d, stations in sorted(by_date.items())
            )
        )
    return run
