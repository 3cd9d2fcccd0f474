"""The original's Python interface for weather (``WeatherObservations``) over ours, against the
replay server: the same calls, synchronous (also inside a running event loop), real files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from weather_replay import FAST, FIXTURE_NOW, ReplayServer, Reply

from kalshi_collector.weather import WeatherObservations
from kalshi_collector.weather.interface import WeatherFetchFailed
from kalshi_collector.weather.stations import STATIONS

DAY = date(2026, 2, 11)
MDW = STATIONS["KMDW"]


def _obs(config_file: Path) -> WeatherObservations:
    return WeatherObservations.from_config(config_file, options=FAST, now=lambda: FIXTURE_NOW)


def test_from_config_and_collect_all_as_the_original_did(config_file: Path) -> None:
    obs = _obs(config_file)
    assert obs.stations == [MDW]  # from event_series: [KXHIGHCHI]
    assert Path(obs.data_dir) == config_file.parent / "data"
    results = obs.collect_all()  # each station's last finished climate day: the 11th at 07:30Z on the 12th
    assert obs.last_run is not None and obs.last_run.ok
    assert {k: len(v) for k, v in results.items()} == {"asos_1min": 30, "metar": 8, "daily_climate": 2}
    assert (config_file.parent / "data" / "weather" / "metar" / "2026-02-11.parquet").exists()
    assert set(results["metar"]["climate_date"]) == {DAY}

    again = obs.collect_all(DAY)  # the original's positional date; finished days come from the files
    assert obs.last_run.files == []
    for source, frame in results.items():
        pd.testing.assert_frame_equal(again[source], frame)
    assert obs.collect_all(date=DAY, sources=["metar"]).keys() == {"metar"}


def test_one_source_one_station_and_reading_back(config_file: Path, replay: ReplayServer) -> None:
    obs = _obs(config_file)
    unsaved = obs.fetch_metar("KMDW", DAY, save=False)
    assert len(unsaved) == 8 and not (config_file.parent / "data").exists()  # nothing written
    assert len(replay.hits("/api/data/metar")) == 1

    metars = obs.fetch_metar("KMDW", DAY)
    cli = obs.fetch_daily_climate("MDW", DAY)  # IEM's id works too
    one_min = obs.fetch_asos_1min(MDW, DAY)
    assert (len(metars), len(cli), len(one_min)) == (8, 2, 30)
    pd.testing.assert_frame_equal(obs.metar.read_all(), metars)
    pd.testing.assert_frame_equal(obs.climate.read_parquet("KMDW", DAY), cli)
    assert len(obs.asos.read_all(DAY, DAY)) == 30
    everything = obs.read_all()
    assert {k: len(v) for k, v in everything.items()} == {"asos_1min": 30, "metar": 8, "daily_climate": 2}
    assert obs.read_all("metar", "2026-02-12", "2026-02-13").empty
    assert obs.read_all("metar", stations=["KNYC"]).empty


def test_a_failed_station_raises_for_one_and_is_left_out_of_many(config_file: Path, replay: ReplayServer) -> None:
    replay.add("/cgi-bin/request/asos1min.py", Reply(status=500, body="boom"), station="MDW")
    obs = _obs(config_file)
    with pytest.raises(WeatherFetchFailed, match="asos_1min KMDW 2026-02-11: HTTP 500"):
        obs.fetch_asos_1min("KMDW", DAY)
    with pytest.raises(WeatherFetchFailed, match="HTTP 500"):
        obs.fetch_asos_1min("KMDW", DAY, save=False)
    results = obs.collect_all(DAY)
    assert results["asos_1min"].empty and len(results["metar"]) == 8
    assert [f.source for f in obs.last_run.failures] == ["asos_1min"]
    unsaved = obs.collect_all(DAY, save=False)
    assert unsaved["asos_1min"].empty and len(unsaved["daily_climate"]) == 2


def test_a_failed_cross_check_is_no_failure_of_the_station(config_file: Path, replay: ReplayServer) -> None:
    replay.add("/geojson/cli.py", Reply(status=404, body="not yet"), dt="2026-02-11")
    obs = _obs(config_file)
    assert len(obs.fetch_daily_climate("KMDW", DAY)) == 2  # both versions from the text archive
    assert [f.station for f in obs.last_run.failures] == [None]  # the listing, for all stations
    with pytest.raises(ValueError, match="unknown weather source"):
        obs.collect_all(DAY, sources=["metars"])
    with pytest.raises(ValueError, match="after end_date"):
        obs.collect_date_range(DAY, date(2026, 2, 1))
    assert obs.collect_all(DAY, stations=[])["metar"].empty


async def test_synchronous_calls_work_inside_a_running_loop(config_file: Path) -> None:
    """A notebook runs an event loop; the original's synchronous calls must still work there."""
    obs = _obs(config_file)
    assert len(obs.collect_all(DAY, sources=["metar"])["metar"]) == 8
    assert len((await obs.acollect_all(DAY, sources=["daily_climate"]))["daily_climate"]) == 2
    assert len(await obs.afetch("asos_1min", "KMDW", DAY)) == 30


def test_a_date_range_and_explicit_stations(tmp_path: Path, replay: ReplayServer) -> None:
    obs = WeatherObservations(["KXHIGHCHI"], tmp_path, iem_url=replay.url, awc_url=replay.url, options=FAST,
                              now=lambda: FIXTURE_NOW)
    assert obs.stations == [MDW]
    results = obs.collect_date_range(date(2026, 2, 10), DAY, sources=["daily_climate"])
    assert sorted(set(results["daily_climate"]["climate_date"])) == [DAY]  # the replay has only the 11th
    assert len(WeatherObservations(data_dir=tmp_path).stations) == len(STATIONS)  # none given: all, as the original
