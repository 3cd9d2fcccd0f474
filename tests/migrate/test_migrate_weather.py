"""The original collector's weather files, written in its exact schema, migrated and read back
through ParquetStorage: the same rows our fetchers make of the same answers, idempotently, the
originals untouched, and usable beside what the collector fetches afterwards."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from original_weather import write_asos_1min, write_daily_climate, write_ldm_surface, write_metar
from weather_replay import FAST, FIXTURE_NOW, ReplayServer

from kalshi_collector.cli import main
from kalshi_collector.migrate.weather import migrate
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.observations import collect_weather
from kalshi_collector.weather.stations import STATIONS

MDW = STATIONS["KMDW"]
DAY = date(2026, 2, 11)
ONE_MIN = "iem_asos1min_MDW_20260211_2030-2100Z_1min.csv"
AWC = "awc_metar_KMDW_hours7_date20260212T0600Z.json"
CLI_YEAR = "iem_json_cli_KMDW_2026_trimmed.json"


def _write_original(old: Path, fixtures: Path, *, later: bool = False) -> list[Path]:
    items = json.loads((fixtures / AWC).read_text())
    records = json.loads((fixtures / CLI_YEAR).read_text())["results"]
    return [
        write_asos_1min(old, "KMDW", DAY, (fixtures / ONE_MIN).read_text(), later=later),
        # AWC stamps every report of the climate day's last hours with a reportTime on the 12th (UTC)
        write_metar(old, "KMDW", date(2026, 2, 12), items, later=later),
        *(write_daily_climate(old, "KMDW", r, later=later) for r in records),
    ]


def _digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _read(data: Path, kind: str, day: date = DAY) -> pd.DataFrame:
    return ParquetStorage(data).read_parquets(kind, day, day)


def _frame(rows: list[dict], schema: pa.Schema) -> pd.DataFrame:
    """Rows as our tables hold them (the types a read gives back)."""
    return table_from_rows(rows, schema).to_pandas()


def _same(migrated: pd.DataFrame, fetched: pd.DataFrame, key: list[str], ignore: set[str]) -> None:
    cols = [c for c in fetched.columns if c not in ignore]
    a = migrated.sort_values(key).reset_index(drop=True)[cols]
    b = fetched.sort_values(key).reset_index(drop=True)[cols]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_original_files_become_our_rows(tmp_path: Path, weather_fixtures: Path) -> None:
    old, new = tmp_path / "old" / "data", tmp_path / "new"
    _write_original(old, weather_fixtures)
    report = migrate(old, new)
    assert report.ok, report.problems
    assert dict(report.files) == {"asos_1min": 1, "metar": 1, "daily_climate": 2}
    assert report.rows_read == report.rows_added == 30 + 8 + 2 and not report.skipped_rows
    assert not report.not_carried and not report.left_alone

    # 1-minute: what our fetcher makes of the same CSV (the original asked only for tmpf, dwpf)
    one_min = _read(new, "asos_1min")
    ours = _frame(asos_1min.parse_asos1min_csv((weather_fixtures / ONE_MIN).read_text(), MDW,
                                               fetched_at=FIXTURE_NOW), asos_1min.SCHEMA)
    _same(one_min, ours, ["observed_at"], {"source", "fetched_at", "wind_speed_kt", "wind_dir_deg"})
    assert set(one_min["source"]) == {"original_iem_asos1min"} and one_min["wind_speed_kt"].isna().all()
    assert str(one_min["observed_at"].dt.tz) == "UTC"

    # METAR: observation times recovered from the reports (the original kept AWC's reportTime),
    # every column as our AWC parse has it, except what the original never stored
    metars = _read(new, "metar")
    fetched = _frame(metar.parse_awc_json((weather_fixtures / AWC).read_bytes(), MDW, fetched_at=FIXTURE_NOW),
                     metar.SCHEMA)
    _same(metars, fetched, ["observed_at"], {"source", "fetched_at", "received_at", "visibility_sm"})
    assert set(metars["source"]) == {"original_awc"} and metars["received_at"].isna().all()
    assert (metars["reported_at"] - metars["observed_at"]).dt.total_seconds().max() == 7 * 60

    # CLI: IEM's records as our IEM parse makes them; a trace the original stored as 0.0 stays 0,
    # and the wind directions, which it did not store, are null
    cli = ParquetStorage(new).read_parquets("daily_climate").sort_values("climate_date").reset_index(drop=True)
    records = daily_climate.parse_cli_json((weather_fixtures / CLI_YEAR).read_bytes())
    ours_cli = _frame([daily_climate.json_row(r, MDW, fetched_at=FIXTURE_NOW) for r in records], daily_climate.SCHEMA)
    _same(cli, ours_cli, ["climate_date"], {"source", "fetched_at", "precip_in", "snow_in", "max_wind_dir_deg",
                                            "max_gust_dir_deg"})
    assert cli["max_wind_dir_deg"].isna().all() and list(cli["max_gust_speed_mph"]) == [22, 26]
    assert list(cli["precip_in"]) == [Decimal(0), Decimal(0)] and list(cli["preliminary"]) == [False, False]
    assert list(cli["high_record_years"].map(list)) == [[1932], [1999]]
    assert set(cli["source"]) == {"original_iem_cli_json"}


def test_running_again_changes_nothing_and_originals_stay(tmp_path: Path, weather_fixtures: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    originals = _write_original(old, weather_fixtures)
    before = _digest(originals)
    first = migrate(old, new)
    written = sorted(new.rglob("*.parquet"))
    stamps = {p: p.stat().st_mtime_ns for p in written}
    second = migrate(old, new)
    assert second.ok and second.rows_added == 0 and second.written == []
    assert second.rows_read == first.rows_read and "0 added" in second.summary()
    assert sorted(new.rglob("*.parquet")) == written and {p: p.stat().st_mtime_ns for p in written} == stamps
    assert _digest(originals) == before


def test_later_versions_and_the_ldm_feed(tmp_path: Path, weather_fixtures: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    _write_original(old, weather_fixtures, later=True)
    raw = "METAR KMDW 120553Z VRB03G15KT 1 1/2SM -SN OVC040 00/M04 A2993 RMK AO2 SLP139 T00001044"
    write_ldm_surface(old, "KMDW", date(2026, 2, 12), [("2026-02-12T05:53", raw)])
    report = migrate(old, new)
    assert report.ok and not report.not_carried, report.lines()  # the later columns are all declared
    metars = _read(new, "metar")
    # the LDM copy of the 05:53Z report differs in text from AWC's, so it is its own row
    ldm = metars[metars["source"] == "original_ldm"].iloc[0]
    assert (ldm["wind_variable"], ldm["wind_gust_kt"], ldm["visibility_sm"]) == (True, 15.0, "1 1/2")
    assert pd.isna(ldm["weather"])  # present weather comes from AWC's decode only, as for IEM's archive
    assert ldm["altimeter_inhg"] == Decimal("29.93") and ldm["fetched_at"] == pd.Timestamp("2026-02-12T05:53:30Z")
    assert len(metars) == 9
    cli = ParquetStorage(new).read_parquets("daily_climate")
    assert set(cli["report_name"]) == {"CHICAGO MIDWAY"}  # cli_city_name of the later version


def test_migrated_rows_sit_beside_fetched_ones(tmp_path: Path, weather_fixtures: Path, replay: ReplayServer) -> None:
    import asyncio

    old, new = tmp_path / "old", tmp_path / "new"
    _write_original(old, weather_fixtures)
    migrate(old, new)
    run = asyncio.run(collect_weather([(MDW, DAY)], ["metar", "daily_climate"], data_dir=new, iem_url=replay.url,
                                      awc_url=replay.url, options=FAST, now=lambda: FIXTURE_NOW))
    assert run.ok, run.failures
    metars = _read(new, "metar")
    assert len(metars) == 8 and set(metars["source"]) == {"original_awc"}  # the same reports: one row each
    cli = _read(new, "daily_climate").sort_values("issued_at")
    # the final version, first known through the original's copy of IEM's parse, now has its text;
    # the preliminary one is added beside it
    assert list(cli["product_id"]) == ["202602112235-KLOT-CDUS43-CLIMDW", "202602120635-KLOT-CDUS43-CLIMDW"]
    assert cli["raw_text"].notna().all() and set(cli["source"]) == {"iem_cli_text"}


def test_what_cannot_be_migrated_is_said_and_the_rest_is(tmp_path: Path, weather_fixtures: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    _write_original(old, weather_fixtures)
    obs = old / "weather_obs"
    (obs / "metar" / "notes.parquet").write_bytes(b"x")
    (obs / "metar" / "KXYZ_2026-02-11.parquet").write_bytes(b"x")
    (obs / "asos_1min" / "KMDW_2026-02-10.parquet").write_bytes(b"not parquet")
    (obs / "synoptic").mkdir()
    text = (weather_fixtures / ONE_MIN).read_text().replace("sknt,drct", "sknt,drct,ptype")
    text = text.replace("2026-02-11 20:", "2026-02-12 20:")  # the next day's file
    text = "\n".join(line + (",RA" if i else "") for i, line in enumerate(text.splitlines()))
    write_asos_1min(old, "KMDW", date(2026, 2, 12), text + "\n", variables=("tmpf", "dwpf", "sknt", "ptype"))
    report = migrate(old, new)
    assert not report.ok
    problems = "\n".join(report.problems)
    assert "notes.parquet: not named like the original's files" in problems
    assert "KXYZ_2026-02-11.parquet" in problems and "KMDW_2026-02-10.parquet: unreadable" in problems
    assert any("weather_obs/synoptic/" in line for line in report.left_alone)
    assert report.not_carried == {"weather_obs/asos_1min": {"ptype"}}
    assert report.files["asos_1min"] == 2 and report.files["metar"] == 1  # the others still went in
    feb12 = _read(new, "asos_1min", date(2026, 2, 12))
    assert feb12["wind_speed_kt"].notna().any()  # sknt, asked for by that original run, is carried


def test_command_line(tmp_path: Path, weather_fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    _write_original(old, weather_fixtures)
    assert main(["migrate", str(old), "--data-dir", str(new)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("migrate weather: 4 files (asos_1min 1, daily_climate 2, metar 1), 40 rows read, 40 added")
    assert f"  wrote {new / 'weather' / 'metar' / '2026-02-11.parquet'}" in out
    assert main(["migrate", str(old), "--data-dir", str(new)]) == 0
    assert "40 rows read, 0 added, 40 already held; 0 files written; 0 problems" in capsys.readouterr().out
    # the data folder from the config when --data-dir is not given
    config = tmp_path / "config.yaml"
    config.write_text("kalshi: {}\nstorage:\n  data_dir: from_config\n")
    assert main(["migrate", str(old), "--config", str(config)]) == 0
    assert len(_read(tmp_path / "from_config", "metar")) == 8
    assert main(["migrate", str(tmp_path / "nowhere"), "--data-dir", str(new)]) == 2
    assert "is not a folder" in capsys.readouterr().err
