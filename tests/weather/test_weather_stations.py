"""The station registry and the climate-day window (local standard time, all year)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from kalshi_collector.weather.stations import (
    SERIES,
    STATIONS,
    UnknownStation,
    climate_date_of,
    climate_day_window,
    event_climate_date,
    get_station,
    last_finished_climate_date,
    resolve_station,
    series_for_ticker,
    stations_for_tickers,
)

# STATIONS.md tables: every series, high and low, with its station.
EXPECTED_HIGH = {
    "KXHIGHNY": "KNYC", "KXHIGHCHI": "KMDW", "KXHIGHMIA": "KMIA", "KXHIGHAUS": "KAUS", "KXHIGHDEN": "KDEN",
    "KXHIGHLAX": "KLAX", "KXHIGHPHIL": "KPHL", "KXHIGHTATL": "KATL", "KXHIGHTBOS": "KBOS", "KXHIGHTDAL": "KDFW",
    "KXHIGHTDC": "KDCA", "KXHIGHTHOU": "KHOU", "KXHIGHTLV": "KLAS", "KXHIGHTMIN": "KMSP", "KXHIGHTNOLA": "KMSY",
    "KXHIGHTOKC": "KOKC", "KXHIGHTPHX": "KPHX", "KXHIGHTSATX": "KSAT", "KXHIGHTSEA": "KSEA", "KXHIGHTSFO": "KSFO",
}
EXPECTED_LOW = {
    "KXLOWTNYC": "KNYC", "KXLOWTCHI": "KMDW", "KXLOWTMIA": "KMIA", "KXLOWTAUS": "KAUS", "KXLOWTDEN": "KDEN",
    "KXLOWTLAX": "KLAX", "KXLOWTPHIL": "KPHL", "KXLOWTATL": "KATL", "KXLOWTBOS": "KBOS", "KXLOWTDAL": "KDFW",
    "KXLOWTDC": "KDCA", "KXLOWTHOU": "KHOU", "KXLOWTLV": "KLAS", "KXLOWTMIN": "KMSP", "KXLOWTNOLA": "KMSY",
    "KXLOWTOKC": "KOKC", "KXLOWTPHX": "KPHX", "KXLOWTSATX": "KSAT", "KXLOWTSEA": "KSEA", "KXLOWTSFO": "KSFO",
}


def test_every_series_in_stations_md_maps_to_its_station_and_kind() -> None:
    for ticker, icao in EXPECTED_HIGH.items():
        assert (SERIES[ticker].station, SERIES[ticker].kind) == (icao, "high"), ticker
    for ticker, icao in EXPECTED_LOW.items():
        assert (SERIES[ticker].station, SERIES[ticker].kind) == (icao, "low"), ticker


def test_station_ids_follow_the_sources_conventions() -> None:
    mdw = STATIONS["KMDW"]
    assert (mdw.iem_1min, mdw.iem_cli, mdw.cli_pil, mdw.wfo, mdw.tz, mdw.std_offset_hours) == (
        "MDW", "KMDW", "CLIMDW", "LOT", "America/Chicago", -6)
    # The station traps STATIONS.md warns about.
    assert STATIONS["KDFW"].cli_pil == "CLIDFW" and SERIES["KXHIGHTDAL"].station == "KDFW"
    assert SERIES["KXHIGHTHOU"].station == "KHOU" and STATIONS["KHOU"].cli_section == "HOBBY"
    assert SERIES["KXHIGHNY"].station == "KNYC" and SERIES["KXHIGHTDC"].station == "KDCA"
    assert not STATIONS["KLAS"].verified and STATIONS["KMDW"].verified


def test_the_original_collectors_series_names_resolve() -> None:
    """Every series of the original's registry (pred_market_src/collector/weather/stations.py)."""
    original = {"KXHIGHCHI": "KMDW", "KXHIGHNY": "KNYC", "KXHIGHMIA": "KMIA", "KXHIGHDEN": "KDEN",
                "KXHIGHAUS": "KAUS", "KXHIGHHOU": "KHOU", "KXHIGHPHL": "KPHL"}
    for ticker, icao in original.items():
        assert (SERIES[ticker].station, SERIES[ticker].kind) == (icao, "high"), ticker
        assert resolve_station(ticker).icao == icao
    assert SERIES["KXHIGHPHL"].legacy and SERIES["KXHIGHHOU"].legacy and not SERIES["KXHIGHPHIL"].legacy
    assert series_for_ticker("KXHIGHPHL-26FEB11-B34.5") == SERIES["KXHIGHPHL"]
    assert [s.icao for s in stations_for_tickers(["KXHIGHPHL", "KXHIGHPHIL", "KXHIGHHOU-26FEB11"])] == ["KPHL", "KHOU"]
    # dormant names with no captured rules text are not guessed
    for ticker in ("KXHIGHNYD", "KXHIGHTEMPDEN"):
        assert series_for_ticker(ticker) is None
        with pytest.raises(UnknownStation):
            resolve_station(ticker)


@pytest.mark.parametrize("icao", sorted(STATIONS))
def test_standard_offset_matches_the_zone_in_january(icao: str) -> None:
    station = STATIONS[icao]
    offset = datetime(2026, 1, 15, 12, tzinfo=ZoneInfo(station.tz)).utcoffset()
    assert offset is not None and offset.total_seconds() == station.std_offset_hours * 3600


@pytest.mark.parametrize(
    ("icao", "day", "start"),
    [
        # Eastern, Central, Mountain, Pacific: winter and summer windows start at the same UTC hour.
        ("KNYC", date(2026, 1, 15), datetime(2026, 1, 15, 5, tzinfo=UTC)),
        ("KNYC", date(2026, 7, 15), datetime(2026, 7, 15, 5, tzinfo=UTC)),
        ("KMDW", date(2026, 2, 11), datetime(2026, 2, 11, 6, tzinfo=UTC)),
        ("KMDW", date(2026, 7, 15), datetime(2026, 7, 15, 6, tzinfo=UTC)),
        ("KDEN", date(2026, 12, 1), datetime(2026, 12, 1, 7, tzinfo=UTC)),
        ("KDEN", date(2026, 6, 21), datetime(2026, 6, 21, 7, tzinfo=UTC)),
        ("KLAX", date(2026, 1, 2), datetime(2026, 1, 2, 8, tzinfo=UTC)),
        ("KLAX", date(2026, 8, 11), datetime(2026, 8, 11, 8, tzinfo=UTC)),
        ("KPHX", date(2026, 1, 10), datetime(2026, 1, 10, 7, tzinfo=UTC)),
        ("KPHX", date(2026, 7, 10), datetime(2026, 7, 10, 7, tzinfo=UTC)),
        # The DST switch days themselves (US: 2026-03-08 and 2026-11-01).
        ("KMDW", date(2026, 3, 8), datetime(2026, 3, 8, 6, tzinfo=UTC)),
        ("KMDW", date(2026, 11, 1), datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ],
)
def test_climate_day_window(icao: str, day: date, start: datetime) -> None:
    window_start, window_end = climate_day_window(icao, day)
    assert window_start == start
    assert (window_end - window_start).total_seconds() == 86400  # never 23 or 25 hours


def test_summer_window_is_one_am_to_one_am_daylight_clock_time() -> None:
    start, end = climate_day_window("KMDW", date(2026, 7, 15))
    chicago = ZoneInfo("America/Chicago")
    assert start.astimezone(chicago).hour == 1 and end.astimezone(chicago).hour == 1
    phoenix_start, _ = climate_day_window("KPHX", date(2026, 7, 15))
    assert phoenix_start.astimezone(ZoneInfo("America/Phoenix")).hour == 0  # no DST in Arizona


def test_a_half_past_midnight_daylight_reading_belongs_to_the_previous_climate_day() -> None:
    # STATIONS.md: a 00:30 CDT reading on Jul 16 belongs to Jul 15.
    reading = datetime(2026, 7, 16, 0, 30, tzinfo=ZoneInfo("America/Chicago"))
    assert climate_date_of("KMDW", reading) == date(2026, 7, 15)
    assert climate_date_of("KMDW", datetime(2026, 7, 16, 6, 0, tzinfo=UTC)) == date(2026, 7, 16)
    with pytest.raises(ValueError):
        climate_date_of("KMDW", datetime(2026, 7, 16))


def test_yesterday_is_per_station() -> None:
    # 05:30Z Feb 12 is 23:30 Feb 11 in Chicago standard time and 00:30 Feb 12 in New York.
    now = datetime(2026, 2, 12, 5, 30, tzinfo=UTC)
    assert last_finished_climate_date(STATIONS["KNYC"], now) == date(2026, 2, 11)
    assert last_finished_climate_date(STATIONS["KMDW"], now) == date(2026, 2, 10)


def test_lookups() -> None:
    assert resolve_station("kmdw").icao == "KMDW"
    assert resolve_station("MDW").icao == "KMDW"
    assert resolve_station("KXLOWTCHI").icao == "KMDW"
    with pytest.raises(UnknownStation, match="KXYZ.*known: .*KMDW"):
        get_station("KXYZ")
    assert series_for_ticker("KXHIGHCHI-26FEB11-B34.5").ticker == "KXHIGHCHI"
    assert series_for_ticker("KXBTCD-25AUG0517") is None
    assert [s.icao for s in stations_for_tickers(["KXHIGHCHI", "KXLOWTCHI-26FEB11", "KXBTCD", "KXHIGHNY"])] == [
        "KMDW", "KNYC"]
    assert event_climate_date("KXHIGHCHI-26FEB11") == date(2026, 2, 11)
    with pytest.raises(ValueError):
        event_climate_date("KXHIGHCHI")
