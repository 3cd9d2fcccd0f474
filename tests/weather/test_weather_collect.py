"""The orchestrator against the replay server: real HTTP on loopback, real parquet files read back."""

from __future__ import annotations

import dataclasses
import importlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from weather_replay import FIXTURE_NOW, ReplayServer, Reply, serve_quiet_station

from kalshi_collector.storage.catalog import WEATHER
from kalshi_collector.weather import daily_climate, metar
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.http import AWC, IEM, USER_AGENT, HostPolicy, HttpOptions
from kalshi_collector.weather.observations import (
    SOURCES,
    collect_weather,
    day_is_finished,
    merge_rows,
)
from kalshi_collector.weather.stations import STATIONS

MDW = STATIONS["KMDW"]
DAY = date(2026, 2, 11)
ALL = list(SOURCES)


def read_back(data_dir: Path, source: str, day: date = DAY) -> pd.DataFrame:
    """Through the project's reader when it is there (it owns the layout), else straight from the file."""
    storage = importlib.import_module("kalshi_collector.storage")
    reader = getattr(storage, "ParquetStorage", None)
    if reader is not None:
        return reader(data_dir).read_parquets(source, day, day)
    return pd.read_parquet(WEATHER[source].layout.day_file(data_dir, day))


async def _collect(replay: ReplayServer, data_dir: Path, fast: HttpOptions, *, now: datetime = FIXTURE_NOW,
                   jobs=((MDW, DAY),), sources=ALL, refetch: bool = False):
    return await collect_weather(list(jobs), sources, data_dir=data_dir, iem_url=replay.url, awc_url=replay.url,
                                 options=fast, now=lambda: now, refetch=refetch)


async def test_one_station_day_every_source(replay: ReplayServer, tmp_path: Path, fast: HttpOptions) -> None:
    run = await _collect(replay, tmp_path, fast)
    assert run.ok, run.failures
    assert sorted(p.relative_to(tmp_path).as_posix() for p in run.files) == [
        "weather/asos_1min/2026-02-11.parquet",
        "weather/daily_climate/2026-02-11.parquet",
        "weather/metar/2026-02-11.parquet",
    ]

    one_min = read_back(tmp_path, "asos_1min")
    assert len(one_min) == 30 and one_min["temp_f"].max() == 38.0
    assert str(one_min["observed_at"].dt.tz) == "UTC"
    assert one_min["temp_f"].isna().sum() == 1  # the all-M minute at 20:52 is kept, as missing
    assert set(one_min["source"]) == {"iem_asos1min"} and (one_min["fetched_at"] == FIXTURE_NOW).all()

    metars = read_back(tmp_path, "metar")
    assert len(metars) == 8 and metars["max_24h_f"].max() == 38.0
    assert set(metars["climate_date"]) == {DAY} and set(metars["source"]) == {"awc"}

    cli = read_back(tmp_path, "daily_climate").sort_values("issued_at")
    assert list(cli["product_id"]) == ["202602112235-KLOT-CDUS43-CLIMDW", "202602120635-KLOT-CDUS43-CLIMDW"]
    assert list(cli["preliminary"]) == [True, False]
    assert list(cli["high_f"]) == [38, 38] and list(cli["low_f"]) == [24, 24]
    assert cli["raw_text"].notna().all() and set(cli["source"]) == {"iem_cli_text"}

    # The columns the original collector also kept come through the whole path.
    assert set(one_min["station_name"]) == {"CHICAGO/MIDWAY"}
    assert list(metars.sort_values("observed_at")["flight_category"]) == [
        "VFR", "VFR", "VFR", "VFR", "MVFR", "MVFR", "VFR", "VFR"]
    assert metars["reported_at"].notna().all() and metars["altimeter_inhg"].notna().all()
    final = cli.iloc[-1]
    assert (final["wfo"], final["high_record_f"], list(final["high_record_years"]), final["high_normal_f"]) == (
        "LOT", 62, [1999], 35)
    assert (final["max_gust_speed_mph"], final["avg_sky_cover"]) == (26, Decimal("0.40"))

    # What went over the wire: ids, the exact LST window, UTC stamps, and who we are.
    [one] = replay.hits("/cgi-bin/request/asos1min.py")
    assert (one.query["station"], one.query["sts"], one.query["ets"], one.query["tz"]) == (
        "MDW", "2026-02-11T06:00Z", "2026-02-12T06:00Z", "UTC")
    [awc] = replay.hits("/api/data/metar")
    assert (awc.query["ids"], awc.query["format"], awc.query["date"]) == ("KMDW", "json", "2026-02-12T06:00Z")
    [archive] = replay.hits("/cgi-bin/afos/retrieve.py")
    assert archive.query["pil"] == "CLIMDW" and archive.query["sdate"] == "2026-02-11T06:00Z"
    assert replay.hits("/geojson/cli.py", dt="2026-02-11")
    assert {r.headers["User-Agent"] for r in replay.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("kalshi-collector/") and "+https://github.com/kalshi-collector" in USER_AGENT

    meta = pq.ParquetFile(WEATHER["metar"].layout.day_file(tmp_path, DAY)).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    one_min_file = WEATHER["asos_1min"].layout.day_file(tmp_path, DAY)
    assert pq.read_schema(one_min_file).field("observed_at").type == pa.timestamp("us", "UTC")


async def test_rerun_is_idempotent_and_keeps_what_it_has(replay: ReplayServer, tmp_path: Path,
                                                         fast: HttpOptions) -> None:
    await _collect(replay, tmp_path, fast)
    before = {s: read_back(tmp_path, s) for s in ALL}
    later = FIXTURE_NOW + timedelta(hours=1)
    run = await _collect(replay, tmp_path, fast, now=later)
    assert run.ok and run.files == []  # nothing new: nothing rewritten
    assert sum(f.rows_added for f in run.fetched) == 0
    for source in ALL:
        after = read_back(tmp_path, source)
        pd.testing.assert_frame_equal(after.reset_index(drop=True), before[source].reset_index(drop=True))
        assert (after["fetched_at"] == FIXTURE_NOW).all()  # the first fetch's rows are kept as they were


async def test_later_cli_version_is_added_beside_the_older_one(replay: ReplayServer, tmp_path: Path,
                                                               fast: HttpOptions, weather_fixtures: Path) -> None:
    # Evening of the 11th: only the preliminary report exists; IEM's listing points at it.
    prelim = (weather_fixtures / "cli_CLIMDW_202602112235_prelim.txt").read_text()
    replay.add("/cgi-bin/afos/retrieve.py", Reply(body=f"\x01\n{prelim}\n\x03\n"), pil="CLIMDW")
    replay.add("/geojson/cli.py", Reply(status=404, body="not yet"), dt="2026-02-11")
    run = await _collect(replay, tmp_path, fast, sources=["daily_climate"],
                         now=datetime(2026, 2, 11, 23, 0, tzinfo=FIXTURE_NOW.tzinfo))
    assert [str(f) for f in run.failures] == [
        f"daily_climate all stations {DAY}: IEM CLI listing: HTTP 404: not yet "
        f"({replay.url}/geojson/cli.py?dt=2026-02-11)"]
    first = read_back(tmp_path, "daily_climate")
    assert list(first["preliminary"]) == [True]

    # After midnight LST the final is issued; the next run adds it and keeps the preliminary.
    replay.routes = replay.routes[:-2]
    run = await _collect(replay, tmp_path, fast, sources=["daily_climate"])
    assert run.ok
    both = read_back(tmp_path, "daily_climate").sort_values("issued_at")
    assert list(both["preliminary"]) == [True, False]
    assert both.iloc[0]["fetched_at"] < both.iloc[1]["fetched_at"]  # the older version was not rewritten


async def test_a_version_known_only_from_iem_json_is_upgraded_when_its_text_arrives(
    replay: ReplayServer, tmp_path: Path, fast: HttpOptions
) -> None:
    replay.add("/cgi-bin/afos/retrieve.py", Reply(body="ERROR: Could not Find: CLIMDW"), pil="CLIMDW")
    replay.add("/api/1/nwstext/202602120635-KLOT-CDUS43-CLIMDW", Reply(status=503, body="busy"))
    run = await _collect(replay, tmp_path, fast, sources=["daily_climate"])
    assert run.ok  # the values are stored (IEM's parse); the missing text is a warning
    [row] = read_back(tmp_path, "daily_climate").to_dict("records")
    assert (row["source"], row["high_f"]) == ("iem_cli_json", 38) and pd.isna(row["raw_text"])

    replay.routes = replay.routes[:-2]
    await _collect(replay, tmp_path, fast, sources=["daily_climate"])
    rows = read_back(tmp_path, "daily_climate").sort_values("issued_at")
    assert list(rows["source"]) == ["iem_cli_text", "iem_cli_text"]
    assert rows["raw_text"].notna().all()


async def test_finished_days_are_not_fetched_again(replay: ReplayServer, tmp_path: Path, fast: HttpOptions) -> None:
    # 1.5 h after the day: nothing is settled yet, so the next run asks again.
    await _collect(replay, tmp_path, fast)
    await _collect(replay, tmp_path, fast)
    assert len(replay.hits("/cgi-bin/request/asos1min.py")) == 2

    # Four days on, every source has settled (1-minute data present, a final CLI stored).
    late = FIXTURE_NOW + timedelta(days=4)
    run = await _collect(replay, tmp_path, fast, now=late)
    assert all(f.finished for f in run.fetched) and len(run.fetched) == 3
    count = len(replay.requests)
    run = await _collect(replay, tmp_path, fast, now=late + timedelta(hours=1))
    assert len(replay.requests) == count  # not one request
    assert sorted(run.cached) == sorted((s, "KMDW", DAY) for s in ALL) and run.ok
    await _collect(replay, tmp_path, fast, now=late, refetch=True)
    assert len(replay.requests) > count


def test_when_a_day_is_finished() -> None:
    end = datetime(2026, 2, 12, 6, tzinfo=FIXTURE_NOW.tzinfo)
    assert not day_is_finished("asos_1min", end, end + timedelta(hours=30), rows=1400)
    assert day_is_finished("asos_1min", end, end + timedelta(hours=80), rows=1400)
    assert not day_is_finished("asos_1min", end, end + timedelta(hours=80), rows=0)  # maybe still coming
    assert day_is_finished("asos_1min", end, end + timedelta(days=41), rows=0)  # no 1-minute data, ever
    assert day_is_finished("metar", end, end + timedelta(hours=7), rows=30)
    assert not day_is_finished("daily_climate", end, end + timedelta(hours=80), rows=1, has_final_cli=False)
    assert day_is_finished("daily_climate", end, end + timedelta(hours=80), rows=2, has_final_cli=True)


async def test_old_days_come_from_the_iem_archive(replay: ReplayServer, tmp_path: Path, fast: HttpOptions) -> None:
    run = await _collect(replay, tmp_path, fast, sources=["metar"], now=FIXTURE_NOW + timedelta(days=30))
    assert run.ok and not replay.hits("/api/data/metar")
    [hit] = replay.hits("/cgi-bin/request/asos.py")
    assert (hit.query["station"], hit.query["report_type"], hit.query["sts"]) == ("MDW", "3,4", "2026-02-11T06:00Z")
    rows = read_back(tmp_path, "metar")
    assert len(rows) == 8 and set(rows["source"]) == {"iem_asos"} and rows["max_24h_f"].max() == 38.0


async def test_transient_failures_are_retried(replay: ReplayServer, tmp_path: Path, fast: HttpOptions,
                                              weather_fixtures: Path) -> None:
    good = (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes()
    replay.add("/api/data/metar", Reply(status=429, body="slow down", headers={"Retry-After": "0"}),
               Reply(status=503, body="busy"), Reply(body=good, content_type="application/json"), ids="KMDW")
    run = await _collect(replay, tmp_path, dataclasses.replace(fast, attempts=3), sources=["metar"])
    assert run.ok and len(replay.hits("/api/data/metar")) == 3
    assert len(read_back(tmp_path, "metar")) == 8


async def test_requests_to_one_host_are_spaced(replay: ReplayServer, tmp_path: Path, fast: HttpOptions,
                                               weather_fixtures: Path) -> None:
    empty = (weather_fixtures / "iem_asos1min_MDW_empty.csv").read_text()
    for ident in ("NYC", "LAX"):
        replay.add("/cgi-bin/request/asos1min.py", Reply(body=empty), station=ident)
    spaced = HttpOptions(timeout_seconds=2, attempts=1, policies={IEM: HostPolicy(0.2, 1), AWC: HostPolicy(0.0, 4)})
    jobs = [(STATIONS[i], DAY) for i in ("KMDW", "KNYC", "KLAX")]
    run = await _collect(replay, tmp_path, spaced, jobs=jobs, sources=["asos_1min"])
    assert run.ok
    times = sorted(r.at for r in replay.hits("/cgi-bin/request/asos1min.py"))
    assert len(times) == 3
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.15  # the limiter's floor, not a speed claim


async def test_a_station_with_nothing_yet_is_not_a_failure(replay: ReplayServer, tmp_path: Path, fast: HttpOptions,
                                                           weather_fixtures: Path) -> None:
    # Header-only 1-minute CSV, AWC's 204 with an empty body, "ERROR: Could not Find" from the archive.
    serve_quiet_station(replay, weather_fixtures, "NYC", "KNYC")
    run = await _collect(replay, tmp_path, fast, jobs=[(MDW, DAY), (STATIONS["KNYC"], DAY)])
    assert run.ok, run.failures
    assert replay.hits("/api/data/metar", ids="KNYC")
    nyc = [f for f in run.fetched if f.station == "KNYC"]
    assert len(nyc) == 3 and all(f.rows_total == 0 and not f.finished for f in nyc)
    for source in ALL:
        assert set(read_back(tmp_path, source)["station"]) == {"KMDW"}


async def test_a_station_iem_does_not_know(replay: ReplayServer, tmp_path: Path, fast: HttpOptions) -> None:
    # IEM's answer for an id missing from its station table (SOURCES.md 1.1): 422, not retried.
    replay.add("/cgi-bin/request/asos1min.py", Reply(status=422, body="Unknown station provided: NYC"),
               station="NYC")
    jobs = [(MDW, DAY), (STATIONS["KNYC"], DAY)]
    run = await _collect(replay, tmp_path, fast, jobs=jobs, sources=["asos_1min"])
    assert [str(f) for f in run.failures] == [
        "asos_1min KNYC 2026-02-11: HTTP 422: Unknown station provided: NYC "
        f"({replay.url}"
        "/cgi-bin/request/asos1min.py?station=NYC&vars=tmpf,dwpf,sknt,drct,gust_sknt,gust_drct,pres1,precip"
        "&sts=2026-02-11T05:00Z&ets=2026-02-12T05:00Z&tz=UTC&what=view)"]
    assert len(replay.hits("/cgi-bin/request/asos1min.py", station="NYC")) == 1  # a 4xx is not retried
    assert set(read_back(tmp_path, "asos_1min")["station"]) == {"KMDW"}


async def test_an_unreadable_day_file_is_left_alone(replay: ReplayServer, tmp_path: Path, fast: HttpOptions) -> None:
    path = WEATHER["metar"].layout.day_file(tmp_path, DAY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")
    run = await _collect(replay, tmp_path, fast, sources=["metar", "asos_1min"])
    assert [f.source for f in run.failures] == ["metar"] and "left untouched" in run.failures[0].message
    assert path.read_bytes() == b"not parquet"
    assert len(read_back(tmp_path, "asos_1min")) == 30  # the other source still completed


def test_merge_rows_dedupes_metar_across_sources(weather_fixtures: Path) -> None:
    awc = metar.parse_awc_json((weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes(),
                               MDW, fetched_at=FIXTURE_NOW)
    iem = metar.parse_iem_asos_csv((weather_fixtures / "iem_asos_MDW_20260211T23-20260212T06Z.csv").read_text(),
                                   MDW, fetched_at=FIXTURE_NOW)
    existing = table_from_rows(awc, metar.SCHEMA)
    corrected = dict(awc[0], raw_text=awc[0]["raw_text"].replace("RMK", "COR RMK"))
    new = table_from_rows([*iem, corrected], metar.SCHEMA)
    merged, added = merge_rows(existing, new, metar.KEY, normalize={"raw_text": metar.raw_key})
    assert added.num_rows == 1 and merged.num_rows == 9  # IEM's copies are the same reports; the COR is new
    assert set(merged.column("source").to_pylist()) == {"awc"}


def test_merge_rows_upgrades_only_where_asked(weather_fixtures: Path) -> None:
    [record] = daily_climate.parse_cli_json(
        (weather_fixtures / "iem_geojson_cli_20260211_trimmed.geojson").read_bytes())
    json_only = table_from_rows([daily_climate.json_row(record, MDW, fetched_at=FIXTURE_NOW)], daily_climate.SCHEMA)
    [report] = daily_climate.parse_cli_text((weather_fixtures / "cli_CLIMDW_202602120635_final.txt").read_text())
    text = table_from_rows([daily_climate.report_row(report, MDW, fetched_at=FIXTURE_NOW)], daily_climate.SCHEMA)
    kept, added = merge_rows(json_only, text, daily_climate.KEY)
    assert added.num_rows == 0 and kept.column("raw_text").to_pylist() == [None]
    upgraded, added = merge_rows(json_only, text, daily_climate.KEY, upgrade_column="raw_text")
    assert upgraded.num_rows == 1 and upgraded.column("source").to_pylist() == ["iem_cli_text"]
    assert merge_rows(text, json_only, daily_climate.KEY, upgrade_column="raw_text")[1].num_rows == 0


@pytest.mark.parametrize("source", ALL)
def test_schema_time_columns_are_utc_microseconds(source: str) -> None:
    schema = SOURCES[source].schema
    for name in ("fetched_at", "observed_at", "issued_at", "high_at", "low_at", "received_at", "reported_at"):
        if name in schema.names:
            assert schema.field(name).type == pa.timestamp("us", tz="UTC"), (source, name)
    assert {"station", "fetched_at", "source"} <= set(schema.names)


async def test_iem_parse_fills_what_the_text_lacks(replay: ReplayServer, tmp_path: Path, fast: HttpOptions,
                                                   weather_fixtures: Path) -> None:
    """The same product: the text's details win, IEM's parse of it fills the ones the text lacks."""
    final = (weather_fixtures / "cli_CLIMDW_202602120635_final.txt").read_text()
    start, end = final.index("WIND (MPH)"), final.index("SKY COVER")
    no_wind = final[:start] + final[end:]
    replay.add("/cgi-bin/afos/retrieve.py", Reply(body=f"\x01\n{no_wind}\n\x03\n"), pil="CLIMDW")
    run = await _collect(replay, tmp_path, fast, sources=["daily_climate"])
    assert run.ok, run.failures
    [row] = read_back(tmp_path, "daily_climate").to_dict("records")
    assert row["source"] == "iem_cli_text" and "WIND (MPH)" not in row["raw_text"]
    assert (row["max_wind_speed_mph"], row["max_gust_dir_deg"], row["avg_wind_speed_mph"]) == (17, 230, Decimal("9.40"))
    assert row["high_record_f"] == 62 and row["avg_sky_cover"] == Decimal("0.40")  # from the text
