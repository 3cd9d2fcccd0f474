"""The weather source registry: each source's fetcher, its dataset, and how its days settle.

The orchestrator (:mod:`.observations`) knows no source by name: everything in which the sources
differ is a field of their :class:`WeatherSource`, declared once below. Where a source's rows go
(folder, columns, key, sort order) is its dataset in :mod:`kalshi_collector.storage.catalog`.
Adding a source: docs/recipes.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import pyarrow as pa

from kalshi_collector.storage.catalog import ASOS_1MIN, DAILY_CLIMATE, METAR, Dataset
from kalshi_collector.storage.layout import PerDay
from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.common import DayResult, WeatherUrls
from kalshi_collector.weather.http import WeatherHttp
from kalshi_collector.weather.stations import Station

__all__ = ["WeatherSource", "DayFetcher", "SOURCES"]


class DayFetcher(Protocol):
    """Fetch one climate date for some stations: rows of those that answered, a reason per other."""

    async def __call__(
        self, http: WeatherHttp, urls: WeatherUrls, stations: list[Station], climate_date: date, *, now: datetime
    ) -> DayResult: ...


@dataclass(frozen=True, slots=True)
class WeatherSource:
    """One source. ``settles_after``: after this long past the end of the climate day, what the
    source has is all it will have.

    ``key_forms``: per key column, the form two values are compared in when merging (the same
    METAR from AWC and from IEM differs only in its prefix and spacing).
    ``upgrade_column``: a held row whose value there is null is replaced by a new row with the same
    key that has one (a CLI version first known only through IEM's parse, then read in full).
    ``final_stations``: for a source that publishes preliminary versions, the stations whose day
    file holds a final one; only those days are finished. ``None``: a settled day with rows is.
    """

    dataset: Dataset[PerDay]
    fetch_day: DayFetcher
    settles_after: timedelta
    key_forms: Mapping[str, Callable[[object], object]] = field(default_factory=dict)
    upgrade_column: str | None = None
    final_stations: Callable[[pa.Table], set[str]] | None = None

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def schema(self) -> pa.Schema:
        return self.dataset.schema


def _metar_key(raw: object) -> object:
    return metar.raw_key(str(raw))


def _final_cli_stations(day: pa.Table) -> set[str]:
    stations = day.column("station").to_pylist()
    preliminary = day.column("preliminary").to_pylist()
    return {s for s, p in zip(stations, preliminary, strict=True) if p is False}


SOURCES: dict[str, WeatherSource] = {
    source.name: source
    for source in (
        # NCEI -> IEM ingest runs 18-36 h or more behind (SOURCES.md 1.5).
        WeatherSource(ASOS_1MIN, asos_1min.fetch_day, timedelta(hours=72)),
        # AWC receives reports within minutes; allow for late corrections.
        WeatherSource(METAR, metar.fetch_day, timedelta(hours=6), key_forms={"raw_text": _metar_key}),
        # The final CLI comes ~1-2 h after the day; corrections can follow for a day or two.
        WeatherSource(DAILY_CLIMATE, daily_climate.fetch_day, timedelta(hours=72), upgrade_column="raw_text",
                      final_stations=_final_cli_stations),
    )
}
"""Every source by name (the name of its dataset: ``weather/NAME/``), in fetch order."""
