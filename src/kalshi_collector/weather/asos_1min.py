"""IEM ASOS 1-minute observations (``/cgi-bin/request/asos1min.py``, SOURCES.md section 1).

The highest-resolution public record of what the settlement thermometer read, in whole °F as
the ASOS reports them. It is an archive, not a feed: IEM loads NCEI's files 18-36 h or more
after the fact, so a same-day request legitimately returns only the header.

Wire format (code-verified): ``station,station_name,[lat,lon,]valid(<tz>),<vars in request
order>``, one row per minute, ``M`` for missing, every line ending in ``\\n``. We always ask
for ``tz=UTC`` (a DST zone repeats an hour in the autumn) and an exact climate-day window
(``sts`` inclusive, ``ets`` exclusive).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kalshi_collector.storage.catalog import ASOS_1MIN
from kalshi_collector.weather.common import (
    TRACE,
    DayResult,
    WeatherUrls,
    iso_z,
    parse_float,
    per_station,
    table_from_rows,
)
from kalshi_collector.weather.http import IEM, BadPayload, WeatherHttp, reject_html
from kalshi_collector.weather.stations import Station, climate_date_of, climate_day_window

__all__ = ["SOURCE", "SCHEMA", "KEY", "REQUEST_VARS", "parse_asos1min_csv", "minute_row", "fetch_asos_1min", "fetch_day"]

log = logging.getLogger(__name__)

SOURCE = "iem_asos1min"
PATH = "/cgi-bin/request/asos1min.py"

# IEM variable -> our column. Requested in this order; the parser maps by header name, so an
# answer with fewer columns (or in another order) still parses.
VAR_COLUMNS: dict[str, str] = {
    "tmpf": "temp_f",
    "dwpf": "dewpoint_f",
    "sknt": "wind_speed_kt",
    "drct": "wind_dir_deg",
    "gust_sknt": "gust_speed_kt",
    "gust_drct": "gust_dir_deg",
    "pres1": "pressure_inhg",
    "precip": "precip_in",
}
REQUEST_VARS = tuple(VAR_COLUMNS)

# The day files' columns and key are declared in the storage catalog (``weather/asos_1min/``).
SCHEMA = ASOS_1MIN.schema
KEY = ASOS_1MIN.key


def _parse_valid(text: str, zone: ZoneInfo | None) -> datetime:
    naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    if zone is None:
        return naive.replace(tzinfo=UTC)
    # A local wall time; in the autumn repeated hour fold=0 takes the first (daylight) reading.
    return naive.replace(tzinfo=zone).astimezone(UTC)


def parse_asos1min_csv(
    text: str, station: Station, *, fetched_at: datetime, url: str | None = None
) -> list[dict]:
    """Rows of one asos1min.py answer for ``station``.

    Raises :class:`BadPayload` for an HTML page, an empty body, a header that is not this
    service's, or a cut-off body (a short row, or a last line without its newline).
    A header-only answer is valid: no data yet.
    """
    reject_html(text, "the IEM 1-minute CSV", url)
    if not text.strip():
        raise BadPayload("empty answer from IEM asos1min.py (expected at least the CSV header)", url)
    if not text.endswith("\n"):
        raise BadPayload("IEM 1-minute CSV is cut off (last line has no newline)", url)
    lines = text.splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    valid_idx = next((i for i, h in enumerate(header) if h.startswith("valid(") and h.endswith(")")), None)
    if header[:2] != ["station", "station_name"] or valid_idx is None:
        raise BadPayload(f"unexpected IEM 1-minute CSV header {lines[0][:120]!r}", url)
    tz_name = header[valid_idx][len("valid(") : -1]
    zone: ZoneInfo | None = None
    if tz_name.upper() not in ("UTC", "ETC/UTC", ""):
        try:
            zone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadPayload(f"IEM 1-minute CSV has an unknown time zone {tz_name!r}", url) from None
    wanted = [i for i, h in enumerate(header) if h in VAR_COLUMNS]
    rows: list[dict] = []
    bad_cells = 0
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != len(header):
            raise BadPayload(
                f"IEM 1-minute CSV line {n} has {len(cells)} fields, header has {len(header)} (cut off?)", url
            )
        if cells[0].strip().upper() != station.iem_1min:
            raise BadPayload(f"IEM 1-minute CSV line {n} is for station {cells[0]!r}, asked for {station.iem_1min}", url)
        try:
            observed = _parse_valid(cells[valid_idx], zone)
        except ValueError:
            raise BadPayload(f"IEM 1-minute CSV line {n}: bad time {cells[valid_idx]!r}", url) from None
        values = {header[i]: cells[i] for i in wanted}
        row, bad = minute_row(station, observed, values, station_name=cells[1].strip() or None,
                              fetched_at=fetched_at)
        bad_cells += bad
        rows.append(row)
    if bad_cells:
        log.warning("asos_1min %s: %d unreadable cells stored as missing (%s)", station.icao, bad_cells, url)
    return rows


def minute_row(station: Station, observed: datetime, values: Mapping[str, object], *, station_name: str | None,
               fetched_at: datetime, source: str = SOURCE) -> tuple[dict, int]:
    """One minute's row from IEM's variables (``{"tmpf": "38", ...}``, renamed by
    :data:`VAR_COLUMNS`; unknown ones ignored), and how many cells were unreadable (stored as missing).

    Also the way in for minutes the original collector stored (:mod:`kalshi_collector.migrate`)."""
    row: dict = {
        "station": station.icao,
        "observed_at": observed,
        "climate_date": climate_date_of(station, observed),
        "fetched_at": fetched_at,
        "source": source,
        "station_name": station_name,
    }
    bad = 0
    for var, value in values.items():
        column = VAR_COLUMNS.get(var)
        if column is None:
            continue
        try:
            row[column] = parse_float(value, trace=TRACE if column == "precip_in" else None)
        except ValueError:
            bad += 1
            row[column] = None
    return row, bad


async def fetch_asos_1min(
    http: WeatherHttp, iem_url: str, station: Station, climate_date: date, *, fetched_at: datetime
) -> list[dict]:
    """One station, one climate day, every minute, rows inside the LST window only."""
    start, end = climate_day_window(station, climate_date)
    params = [
        ("station", station.iem_1min),
        ("vars", ",".join(REQUEST_VARS)),
        ("sts", iso_z(start)),
        ("ets", iso_z(end)),
        ("tz", "UTC"),
        ("what", "view"),
    ]
    resp = await http.get(IEM, iem_url.rstrip("/") + PATH, params)
    rows = parse_asos1min_csv(resp.text, station, fetched_at=fetched_at, url=resp.url)
    inside = [r for r in rows if start <= r["observed_at"] < end]
    if len(inside) != len(rows):
        log.debug("asos_1min %s %s: dropped %d rows outside the climate day", station.icao, climate_date,
                  len(rows) - len(inside))
    return inside


async def fetch_day(
    http: WeatherHttp, urls: WeatherUrls, stations: list[Station], climate_date: date, *, now: datetime
) -> DayResult:
    """Every station for one climate date; a station that fails is reported, the others kept."""
    rows, errors = await per_station(
        stations, lambda s: fetch_asos_1min(http, urls.iem, s, climate_date, fetched_at=now), f"asos_1min {climate_date}"
    )
    return DayResult(table_from_rows(rows, SCHEMA), errors)
