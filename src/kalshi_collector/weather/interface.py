"""``WeatherObservations``: the original collector's Python interface for weather, over ours.

The original's notebooks did::

    obs = WeatherObservations.from_config("config.yaml")
    results = obs.collect_all(date(2026, 2, 18))   # {"asos_1min": df, "metar": df, "daily_climate": df}
    obs.fetch_metar("KNYC", date(2026, 2, 18))
    obs.metar.read_all(start_date, end_date)

and still can, with the same calls (docs/weather.md lists them). Everything here is a thin layer:
fetching and saving is the orchestrator (:func:`~kalshi_collector.weather.observations.collect_weather`,
with its cache of finished days, politeness and dedupe), fetching without saving is the source's
own fetcher (:data:`~kalshi_collector.weather.sources.SOURCES`), reading is
:class:`~kalshi_collector.storage.ParquetStorage`. Two things differ from the original, on
purpose: a date is a station's **climate date** (local standard time), not a UTC date; and rows
are our tables' columns (docs/weather.md maps the original's).

The calls are synchronous, as the original's were; inside a running event loop (a Jupyter
notebook) the work runs on a thread of its own. ``acollect_all``/``afetch`` are the coroutines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from kalshi_collector.config import AWC_URL, IEM_URL, Config, load_config
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.weather.command import configured_stations
from kalshi_collector.weather.common import WeatherUrls, utc_now
from kalshi_collector.weather.http import FetchError, HttpOptions, WeatherHttp
from kalshi_collector.weather.observations import Failure, WeatherRun, collect_weather
from kalshi_collector.weather.sources import SOURCES
from kalshi_collector.weather.stations import STATIONS, Station, last_finished_climate_date, resolve_station

__all__ = ["WeatherObservations", "SourceView", "WeatherFetchFailed"]

log = logging.getLogger(__name__)

T = TypeVar("T")
StationLike = Station | str
Job = tuple[Station, dt.date]


class WeatherFetchFailed(FetchError):
    """A station's source could not be fetched (the message says why, one line per failure)."""


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code, also where an event loop is already
    running in this thread (a notebook): there, on a thread with a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="weather") as pool:
        return pool.submit(asyncio.run, coro).result()


class SourceView:
    """One source as the original's per-source fetchers offered it (``obs.asos``, ``obs.metar``,
    ``obs.climate``): fetch a station's day, read back what is stored."""

    def __init__(self, owner: WeatherObservations, source: str) -> None:
        self._owner = owner
        self.source = source

    def fetch(self, station: StationLike, target_date: dt.date | None = None, save: bool = True) -> pd.DataFrame:
        return self._owner.fetch(self.source, station, target_date, save=save)

    def read_all(self, start_date: dt.date | str | None = None, end_date: dt.date | str | None = None) -> pd.DataFrame:
        return self._owner.read_all(self.source, start_date, end_date)

    def read_parquet(self, station_icao: str, target_date: dt.date) -> pd.DataFrame:
        """One station's stored rows of one climate date."""
        return self._owner.read_all(self.source, target_date, target_date, stations=[station_icao])


class WeatherObservations:
    """Fetch and read the weather of some stations into a data folder (see the module docstring)."""

    def __init__(
        self,
        stations: Iterable[StationLike] | None = None,
        data_dir: str | os.PathLike[str] = "data",
        *,
        iem_url: str = IEM_URL,
        awc_url: str = AWC_URL,
        options: HttpOptions | None = None,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        """``stations``: ICAO ids, IEM ids, series tickers or :class:`Station` records (default:
        every station in the registry, as the original did with none configured)."""
        self.stations: list[Station] = self._resolve(stations) if stations is not None else list(STATIONS.values())
        self.data_dir = data_dir
        self._urls = WeatherUrls(iem=iem_url, awc=awc_url)
        self._options = options
        self._now = now
        self.last_run: WeatherRun | None = None
        """The orchestrator's account of the latest saving call: rows added, days cached, failures."""
        self.asos = SourceView(self, "asos_1min")
        self.metar = SourceView(self, "metar")
        self.climate = SourceView(self, "daily_climate")

    @classmethod
    def from_config(cls, config: Config | str | os.PathLike[str], **kwargs: Any) -> WeatherObservations:
        """From a config (or its path): ``weather.stations``, else the stations of
        ``event_series``/``events``, else every station; ``storage.data_dir``; the service URLs."""
        cfg = config if isinstance(config, Config) else load_config(config)
        stations, problems = configured_stations(cfg, None)
        for problem in problems:
            log.warning("weather: %s", problem)
        if not stations:
            log.info("weather: no stations configured; using all %d in the registry", len(STATIONS))
        return cls(stations or None, cfg.storage.data_dir, iem_url=cfg.weather.iem_url, awc_url=cfg.weather.awc_url,
                   **kwargs)

    # ------------------------------------------------------------------ one source, one station

    def fetch_asos_1min(self, station: StationLike, target_date: dt.date | None = None, save: bool = True) -> pd.DataFrame:
        """IEM's 1-minute observations of one station's climate date (default: its last finished one)."""
        return self.fetch("asos_1min", station, target_date, save=save)

    def fetch_metar(self, station: StationLike, target_date: dt.date | None = None, save: bool = True) -> pd.DataFrame:
        """The METAR/SPECI reports of one station's climate date."""
        return self.fetch("metar", station, target_date, save=save)

    def fetch_daily_climate(self, station: StationLike, target_date: dt.date | None = None,
                            save: bool = True) -> pd.DataFrame:
        """Every version of one station's Daily Climate Report for a climate date."""
        return self.fetch("daily_climate", station, target_date, save=save)

    def fetch(self, source: str, station: StationLike, target_date: dt.date | None = None, *,
              save: bool = True) -> pd.DataFrame:
        """One source for one station and climate date. ``save``: merge into the data folder and
        return the station's rows of that day as stored; otherwise fetch and return without
        writing. Raises :class:`WeatherFetchFailed` when the station could not be fetched."""
        return _run_sync(self.afetch(source, station, target_date, save=save))

    async def afetch(self, source: str, station: StationLike, target_date: dt.date | None = None, *,
                     save: bool = True) -> pd.DataFrame:
        [resolved] = self._resolve([station])
        jobs = self._jobs([resolved], target_date)
        if save:
            frames = await self._collect(jobs, self._sources([source]))
            failures = self.last_run.failures if self.last_run else []
        else:
            frames, failures = await self._fetch_only(jobs, self._sources([source]))
        # A request for every station at once (IEM's CLI listing, a cross-check) failing is logged;
        # the station's own requests failing is the caller's error.
        mine = [str(f) for f in failures if f.station == resolved.icao]
        if mine:
            raise WeatherFetchFailed("; ".join(mine))
        return frames[source]

    # ------------------------------------------------------------------ many

    def collect_all(self, target_date: dt.date | None = None, stations: Iterable[StationLike] | None = None,
                    save: bool = True, sources: Sequence[str] | None = None, *, date: dt.date | None = None,
                    refetch: bool = False) -> dict[str, pd.DataFrame]:
        """Every source (or ``sources``) for every station (or ``stations``) and one climate date
        (``target_date`` or ``date=``; default: each station's last finished one). Returns one
        frame per source. A station that fails is logged and left out; :attr:`last_run` lists it."""
        return _run_sync(self.acollect_all(target_date or date, stations, save, sources, refetch=refetch))

    def collect_date_range(self, start_date: dt.date, end_date: dt.date, stations: Iterable[StationLike] | None = None,
                           save: bool = True, sources: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
        """As :meth:`collect_all` for every climate date from ``start_date`` to ``end_date`` (both included)."""
        if start_date > end_date:
            raise ValueError(f"start_date {start_date} is after end_date {end_date}")
        days = [start_date + dt.timedelta(days=i) for i in range((end_date - start_date).days + 1)]
        chosen = self._resolve(stations) if stations is not None else self.stations
        return _run_sync(self._run([(s, d) for d in days for s in chosen], self._sources(sources), save))

    async def acollect_all(self, target_date: dt.date | None = None, stations: Iterable[StationLike] | None = None,
                           save: bool = True, sources: Sequence[str] | None = None, *,
                           refetch: bool = False) -> dict[str, pd.DataFrame]:
        chosen = self._resolve(stations) if stations is not None else self.stations
        return await self._run(self._jobs(chosen, target_date), self._sources(sources), save, refetch=refetch)

    # ------------------------------------------------------------------ reading back

    def read_all(self, source: str | None = None, start_date: dt.date | str | None = None,
                 end_date: dt.date | str | None = None,
                 stations: Iterable[StationLike] | None = None) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """What the data folder holds: one source's rows of the climate dates in
        ``[start_date, end_date]`` (all when not given), or, without ``source``, a frame per source."""
        if source is None:
            return {name: self.read_all(name, start_date, end_date, stations) for name in SOURCES}
        frame = ParquetStorage(self.data_dir).read_parquets(source, start_date, end_date)
        if stations is not None:
            frame = frame[frame["station"].isin([s.icao for s in self._resolve(stations)])].reset_index(drop=True)
        return frame

    # ------------------------------------------------------------------ the work

    @staticmethod
    def _resolve(stations: Iterable[StationLike]) -> list[Station]:
        out: list[Station] = []
        for s in [stations] if isinstance(stations, str | Station) else stations:
            station = s if isinstance(s, Station) else resolve_station(s)
            if station not in out:
                out.append(station)
        return out

    @staticmethod
    def _sources(sources: Sequence[str] | None) -> list[str]:
        names = list(sources or SOURCES)
        unknown = [s for s in names if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown weather source(s) {unknown}; expected some of {list(SOURCES)}")
        return names

    def _jobs(self, stations: list[Station], target_date: dt.date | None) -> list[Job]:
        now = self._now()
        return [(s, target_date or last_finished_climate_date(s, now)) for s in stations]

    async def _run(self, jobs: list[Job], sources: list[str], save: bool, *,
                   refetch: bool = False) -> dict[str, pd.DataFrame]:
        """Many stations: a station that fails is logged (by the orchestrator when saving) and left out."""
        if not jobs:
            return {source: SOURCES[source].schema.empty_table().to_pandas() for source in sources}
        if save:
            return await self._collect(jobs, sources, refetch=refetch)
        frames, failures = await self._fetch_only(jobs, sources)
        for failure in failures:
            log.error("weather: %s", failure)
        return frames

    async def _collect(self, jobs: list[Job], sources: list[str], *, refetch: bool = False) -> dict[str, pd.DataFrame]:
        """Through the orchestrator (cache, dedupe, day files); then the jobs' rows as stored."""
        self.last_run = await collect_weather(jobs, sources, data_dir=self.data_dir, iem_url=self._urls.iem,
                                              awc_url=self._urls.awc, options=self._options, now=self._now,
                                              refetch=refetch)
        return {source: self._stored(source, jobs) for source in sources}

    def _stored(self, source: str, jobs: list[Job]) -> pd.DataFrame:
        wanted = {(s.icao, d) for s, d in jobs}
        days = [d for _, d in jobs]
        frame = ParquetStorage(self.data_dir).read_parquets(source, min(days), max(days))
        keep = [(s, d) in wanted for s, d in zip(frame["station"], frame["climate_date"], strict=True)]
        return frame[pd.Series(keep, index=frame.index, dtype=bool)].reset_index(drop=True)

    async def _fetch_only(self, jobs: list[Job], sources: list[str]) -> tuple[dict[str, pd.DataFrame], list[Failure]]:
        """Each source's fetcher directly, nothing written: the rows, and what failed."""
        by_date: dict[dt.date, list[Station]] = {}
        for station, day in jobs:
            by_date.setdefault(day, []).append(station)
        now = self._now()
        out: dict[str, pd.DataFrame] = {}
        errors: list[Failure] = []
        async with WeatherHttp(self._options) as http:
            for source in sources:
                spec = SOURCES[source]
                tables = []
                for day, stations in sorted(by_date.items()):
                    result = await spec.fetch_day(http, self._urls, stations, day, now=now)
                    tables.append(result.table)
                    errors += [Failure(source, station, day, msg) for station, msg in result.errors.items()]
                out[source] = pa.concat_tables(tables).to_pandas() if tables else spec.schema.empty_table().to_pandas()
        return out, errors
