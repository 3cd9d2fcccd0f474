"""Which station settles which Kalshi temperature series, and the climate day of each station.

Kalshi's daily high/low markets settle on the NWS Daily Climate Report (CLI) of one station.
The CLI day is the *climate day*: midnight to midnight local **standard** time all year
(01:00 to 01:00 clock time during daylight saving). This module is the one place that cuts
days: every other module asks :func:`climate_day_window` or :func:`climate_date_of` and never
touches a DST-aware zone for that purpose. The IANA zone is kept only for showing local times.

The table is ``../shared/reference/weather/STATIONS.md`` (verified against Kalshi's own
``rules_primary``/``rules_secondary`` text where marked). Stations and ids that STATIONS.md
marks as inferred keep ``verified=False`` so callers can tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "Station",
    "Series",
    "STATIONS",
    "SERIES",
    "UnknownStation",
    "get_station",
    "resolve_station",
    "series_for_ticker",
    "stations_for_tickers",
    "climate_day_window",
    "climate_date_of",
    "current_climate_date",
    "last_finished_climate_date",
    "event_climate_date",
]

Kind = Literal["high", "low"]


class UnknownStation(LookupError):
    """A station or series that is not in the registry (message lists what is known)."""


@dataclass(frozen=True, slots=True)
class Station:
    """One settlement station and every id the weather sources know it by."""

    icao: str  # KMDW: AWC METAR id and our station key in every table
    name: str  # the location as Kalshi words it
    iem_1min: str  # MDW: IEM asos1min.py / asos.py id (3 letters for K-prefixed airports)
    iem_cli: str  # KMDW: IEM /json/cli.py and /geojson/cli.py id
    cli_pil: str  # CLIMDW: AFOS id of the CLI text product
    wfo: str  # LOT: issuing forecast office
    tz: str  # America/Chicago: for showing local clock times only, never for cutting days
    std_offset_hours: int  # -6: local standard time = UTC + this, all year
    verified: bool = True  # False where STATIONS.md marks the ids as inferred
    cli_section: str | None = None  # name in the headline, for CLI products that carry several stations

    @property
    def lst(self) -> timezone:
        """Local standard time as a fixed offset (``Etc/GMT+6`` for Central), DST never applies."""
        return timezone(timedelta(hours=self.std_offset_hours), f"LST{self.std_offset_hours:+d}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


@dataclass(frozen=True, slots=True)
class Series:
    """A Kalshi temperature series and what settles it."""

    ticker: str
    station: str  # ICAO
    kind: Kind  # "high" settles on the CLI MAXIMUM, "low" on the MINIMUM
    legacy: bool = False  # dormant, or the original collector's name; kept so old events still resolve


def _s(icao: str, name: str, wfo: str, tz: str, offset: int, *, verified: bool = True, section: str | None = None) -> Station:
    ident = icao[1:]
    return Station(
        icao=icao,
        name=name,
        iem_1min=ident,
        iem_cli=icao,
        cli_pil=f"CLI{ident}",
        wfo=wfo,
        tz=tz,
        std_offset_hours=offset,
        verified=verified,
        cli_section=section,
    )


_EAST, _CENTRAL, _MOUNTAIN, _PACIFIC = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

STATIONS: dict[str, Station] = {
    s.icao: s
    for s in (
        _s("KNYC", "Central Park, New York", "OKX", _EAST, -5),
        _s("KMDW", "Chicago Midway, IL", "LOT", _CENTRAL, -6),
        _s("KMIA", "Miami International Airport", "MFL", _EAST, -5),
        _s("KAUS", "Austin Bergstrom", "EWX", _CENTRAL, -6),
        _s("KDEN", "Denver, CO", "BOU", _MOUNTAIN, -7),
        _s("KLAX", "Los Angeles Airport, CA", "LOX", _PACIFIC, -8),
        _s("KPHL", "Philadelphia International Airport", "PHI", _EAST, -5),
        _s("KATL", "Atlanta, GA", "FFC", _EAST, -5),
        _s("KBOS", "Boston (Logan Airport), MA", "BOX", _EAST, -5),
        _s("KDFW", "Dallas/Fort Worth, TX", "FWD", _CENTRAL, -6),
        _s("KDCA", "Washington-National", "LWX", _EAST, -5),
        # CLIHOU carries Intercontinental and Hobby; Kalshi settles on the Hobby section.
        _s("KHOU", "Houston-Hobby, TX", "HGX", _CENTRAL, -6, verified=False, section="HOBBY"),
        _s("KLAS", "Las Vegas", "VEF", _PACIFIC, -8, verified=False),
        _s("KMSP", "Minneapolis/St Paul, MN", "MPX", _CENTRAL, -6),
        _s("KMSY", "New Orleans, LA", "LIX", _CENTRAL, -6),
        _s("KOKC", "Oklahoma City Will Rogers Airport", "OUN", _CENTRAL, -6),
        _s("KPHX", "Phoenix, AZ", "PSR", "America/Phoenix", -7),
        _s("KSAT", "San Antonio", "EWX", _CENTRAL, -6),
        _s("KSEA", "Seattle-Tacoma, WA", "SEW", _PACIFIC, -8),
        _s("KSFO", "San Francisco Airport", "MTR", _PACIFIC, -8),
    )
}

# (high series, low series, station). NYC's high series is KXHIGHNY, its low series KXLOWTNYC.
_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("KXHIGHNY", "KXLOWTNYC", "KNYC"),
    ("KXHIGHCHI", "KXLOWTCHI", "KMDW"),
    ("KXHIGHMIA", "KXLOWTMIA", "KMIA"),
    ("KXHIGHAUS", "KXLOWTAUS", "KAUS"),
    ("KXHIGHDEN", "KXLOWTDEN", "KDEN"),
    ("KXHIGHLAX", "KXLOWTLAX", "KLAX"),
    ("KXHIGHPHIL", "KXLOWTPHIL", "KPHL"),
    ("KXHIGHTATL", "KXLOWTATL", "KATL"),
    ("KXHIGHTBOS", "KXLOWTBOS", "KBOS"),
    ("KXHIGHTDAL", "KXLOWTDAL", "KDFW"),
    ("KXHIGHTDC", "KXLOWTDC", "KDCA"),
    ("KXHIGHTHOU", "KXLOWTHOU", "KHOU"),
    ("KXHIGHTLV", "KXLOWTLV", "KLAS"),
    ("KXHIGHTMIN", "KXLOWTMIN", "KMSP"),
    ("KXHIGHTNOLA", "KXLOWTNOLA", "KMSY"),
    ("KXHIGHTOKC", "KXLOWTOKC", "KOKC"),
    ("KXHIGHTPHX", "KXLOWTPHX", "KPHX"),
    ("KXHIGHTSATX", "KXLOWTSATX", "KSAT"),
    ("KXHIGHTSEA", "KXLOWTSEA", "KSEA"),
    ("KXHIGHTSFO", "KXLOWTSFO", "KSFO"),
)

# Dormant legacy low series (STATIONS.md, April 2026) whose city is unambiguous.
_LEGACY_LOWS: tuple[tuple[str, str], ...] = (
    ("KXLOWNY", "KNYC"),
    ("KXLOWNYC", "KNYC"),
    ("KXLOWCHI", "KMDW"),
    ("KXLOWLAX", "KLAX"),
    ("KXLOWMIA", "KMIA"),
    ("KXLOWPHIL", "KPHL"),
    ("KXLOWDEN", "KDEN"),
    ("KXLOWAUS", "KAUS"),
)

# Series names of the original collector (pred_market_src/collector/weather/stations.py) that are not
# Kalshi's current spelling, so that its config.yaml and notebooks resolve. Philadelphia has one CLI
# station; Houston's is Hobby (KHOU, STATIONS.md: "Houston = Hobby, not Intercontinental"), which is
# also what the original mapped it to. KXHIGHNYD and KXHIGHTEMPDEN, dormant names STATIONS.md lists
# without any captured rules text, are deliberately not guessed (docs/weather.md).
_LEGACY_HIGHS: tuple[tuple[str, str], ...] = (
    ("KXHIGHPHL", "KPHL"),  # Kalshi: KXHIGHPHIL
    ("KXHIGHHOU", "KHOU"),  # Kalshi: KXHIGHTHOU
)

SERIES: dict[str, Series] = {}
for _high, _low, _icao in _PAIRS:
    SERIES[_high] = Series(_high, _icao, "high")
    SERIES[_low] = Series(_low, _icao, "low")
for _ticker, _icao in _LEGACY_LOWS:
    SERIES[_ticker] = Series(_ticker, _icao, "low", legacy=True)
for _ticker, _icao in _LEGACY_HIGHS:
    SERIES[_ticker] = Series(_ticker, _icao, "high", legacy=True)


def get_station(icao: str) -> Station:
    """The station for an ICAO id (``KMDW``); :class:`UnknownStation` names the known ones."""
    station = STATIONS.get(icao.strip().upper())
    if station is None:
        raise UnknownStation(
            f"unknown weather station {icao!r}: not a Kalshi settlement station "
            f"(known: {', '.join(sorted(STATIONS))})"
        )
    return station


def resolve_station(name: str) -> Station:
    """Accept what a person would type: ``KMDW``, ``MDW`` (IEM id) or a series (``KXHIGHCHI``)."""
    key = name.strip().upper()
    if key in STATIONS:
        return STATIONS[key]
    for station in STATIONS.values():
        if key == station.iem_1min:
            return station
    series = series_for_ticker(key)
    if series is not None:
        return STATIONS[series.station]
    return get_station(key)  # raises with the list of known stations


def series_for_ticker(ticker: str) -> Series | None:
    """The temperature series of a series/event/market ticker, or None when it is not one."""
    return SERIES.get(ticker.strip().upper().split("-", 1)[0])


def stations_for_tickers(tickers: list[str]) -> list[Station]:
    """Stations settling the given series or event tickers, in first-seen order, without repeats."""
    out: dict[str, Station] = {}
    for t in tickers:
        s = series_for_ticker(t)
        if s is not None:
            out.setdefault(s.station, STATIONS[s.station])
    return list(out.values())


def climate_day_window(station: Station | str, climate_date: date) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of ``climate_date`` at ``station``: local-standard midnight to midnight.

    Chicago, 2026-07-15 -> 2026-07-15T06:00Z .. 2026-07-16T06:00Z (01:00 CDT to 01:00 CDT).
    """
    st = get_station(station) if isinstance(station, str) else station
    start = datetime.combine(climate_date, time(0), st.lst).astimezone(UTC)
    return start, start + timedelta(days=1)


def climate_date_of(station: Station | str, instant: datetime) -> date:
    """The climate date an instant belongs to (a 00:30 CDT reading on Jul 16 belongs to Jul 15)."""
    if instant.tzinfo is None:
        raise ValueError("climate_date_of needs a timezone-aware instant")
    st = get_station(station) if isinstance(station, str) else station
    return instant.astimezone(st.lst).date()


def current_climate_date(station: Station, now: datetime) -> date:
    """The climate day in progress at ``now``."""
    return climate_date_of(station, now)


def last_finished_climate_date(station: Station, now: datetime) -> date:
    """"Yesterday" for a station: the latest climate day that has fully ended at ``now``."""
    return current_climate_date(station, now) - timedelta(days=1)


_EVENT_DATE = re.compile(r"^(\d{2})([A-Z]{3})(\d{2})$")
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}


def event_climate_date(event_ticker: str) -> date:
    """``KXHIGHCHI-26FEB11`` -> 2026-02-11 (daily events are ``SERIES-<YY><MMM><DD>``, API.md section 4)."""
    parts = event_ticker.strip().upper().split("-")
    m = _EVENT_DATE.match(parts[1]) if len(parts) >= 2 else None
    if not m or m.group(2) not in _MONTHS:
        raise ValueError(f"{event_ticker!r} is not a daily event ticker such as 'KXHIGHCHI-26FEB11'")
    return date(2000 + int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3)))
