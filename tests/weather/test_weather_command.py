"""``kalshi-collector weather`` and ``kalshi-collector settlement`` end to end, against the replay server."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from weather_replay import FIXTURE_NOW, ReplayServer, Reply, serve_quiet_station

from kalshi_collector import cli
from kalshi_collector.storage.catalog import WEATHER
from kalshi_collector.weather import command, settlement_command
from kalshi_collector.weather.http import HttpOptions

DAY = date(2026, 2, 11)


def parse(*argv: str):
    return cli.build_parser(load_modules=[argv[0]]).parse_args(list(argv))


def data_dir(config_file: Path) -> Path:
    return config_file.parent / "data"


def test_default_is_yesterdays_climate_day_for_the_configured_series(
    replay: ReplayServer, config_file: Path, fast: HttpOptions, capsys: pytest.CaptureFixture[str]
) -> None:
    # 07:30Z on Feb 12 is 01:30 CST: Midway's last finished climate day is Feb 11.
    code = command.execute(parse("weather", "--config", str(config_file)), options=fast, now=lambda: FIXTURE_NOW)
    assert code == 0
    for source in ("asos_1min", "metar", "daily_climate"):
        assert WEATHER[source].layout.day_file(data_dir(config_file), DAY).exists()
    out = capsys.readouterr().out
    assert out.startswith("weather: fetched 3 (source, station, day) with 40 new rows;") and "; 0 failed;" in out


def test_bad_answers_are_logged_and_the_rest_still_completes(
    replay: ReplayServer, config_file: Path, fast: HttpOptions, weather_fixtures: Path,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    serve_quiet_station(replay, weather_fixtures, "NYC", "KNYC")
    serve_quiet_station(replay, weather_fixtures, "LAX", "KLAX")
    html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    replay.add("/cgi-bin/request/asos1min.py", Reply(body=html, content_type="text/html"), station="NYC")
    replay.add("/api/data/metar", Reply(status=500, body="Internal Server Error"), ids="KNYC")
    archive = (weather_fixtures / "iem_afos_retrieve_CLIMDW_limit2.txt").read_text().replace("CLIMDW", "CLINYC")
    replay.add("/cgi-bin/afos/retrieve.py", Reply(body=archive[: len(archive) // 3]), pil="CLINYC")
    csv = (weather_fixtures / "iem_asos1min_MDW_20260211_2030-2100Z_1min.csv").read_text().replace("MDW,", "LAX,")
    replay.add("/cgi-bin/request/asos1min.py", Reply(body=csv[:-7]), station="LAX")
    replay.add("/api/data/metar", Reply(delay=1.5, body="[]", content_type="application/json"), ids="KLAX")

    args = parse("weather", "--config", str(config_file), "--date", "2026-02-11",
                 "--stations", "KMDW", "KNYC", "LAX", "KXYZ")
    caplog.set_level(logging.WARNING)
    code = command.execute(args, options=fast, now=lambda: FIXTURE_NOW)
    assert code == 1

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    expected = [
        "asos_1min KNYC 2026-02-11: got an HTML page instead of the IEM 1-minute CSV ('502 Bad Gateway')",
        "metar KNYC 2026-02-11: HTTP 500: Internal Server Error",
        "daily_climate KNYC 2026-02-11: IEM text archive answer is cut off",
        "asos_1min KLAX 2026-02-11: IEM 1-minute CSV is cut off",
        "metar KLAX 2026-02-11: no answer within 0.4s",
        "unknown weather station 'KXYZ'",
    ]
    for text in expected:
        assert any(text in e for e in errors), (text, errors)
    assert len(errors) == len(expected), errors

    # Midway, every source, is complete; the quiet parts of the others are fine.
    d = data_dir(config_file)
    one_min = pd.read_parquet(WEATHER["asos_1min"].layout.day_file(d, DAY))
    assert set(one_min["station"]) == {"KMDW"} and len(one_min) == 30
    assert set(pd.read_parquet(WEATHER["metar"].layout.day_file(d, DAY))["station"]) == {"KMDW"}
    assert len(pd.read_parquet(WEATHER["daily_climate"].layout.day_file(d, DAY))) == 2
    out = capsys.readouterr().out
    assert "FAILED metar KLAX 2026-02-11: no answer within 0.4s" in out


def test_unknown_station_in_the_config_fails_the_run(replay: ReplayServer, tmp_path: Path, fast: HttpOptions,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"kalshi: {{}}\nweather:\n  stations: [KXYZ]\n  iem_url: {replay.url}\n  awc_url: {replay.url}\n")
    assert command.execute(parse("weather", "--config", str(cfg), "--date", "2026-02-11"), options=fast) == 1
    assert "unknown weather station 'KXYZ'" in caplog.text and replay.requests == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "2026-02-11", "--start", "2026-02-10", "--end", "2026-02-11"], "either --date or --start/--end"),
        (["--start", "2026-02-10"], "--start and --end go together"),
        (["--start", "2026-02-12", "--end", "2026-02-10"], "is after --end"),
        (["--date", "2099-01-01"], "has not started yet"),
    ],
)
def test_usage_errors_exit_2(config_file: Path, argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["weather", "--config", str(config_file), *argv]) == 2
    assert message in capsys.readouterr().err


def test_no_stations_at_all_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kalshi: {}\nevent_series: [KXBTCD]\n")
    assert cli.main(["weather", "--config", str(cfg)]) == 2
    assert "no weather stations" in capsys.readouterr().err


def test_a_range_with_the_default_limits(replay: ReplayServer, config_file: Path) -> None:
    # The real rate limits and retry policy; two days, one source: one AWC request per day.
    args = parse("weather", "--config", str(config_file), "--start", "2026-02-10", "--end", "2026-02-11",
                 "--sources", "metar", "--stations", "KXHIGHCHI")
    assert command.execute(args, now=lambda: FIXTURE_NOW) == 0
    hits = replay.hits("/api/data/metar", ids="KMDW")
    assert [h.query["date"] for h in hits] == ["2026-02-11T06:00Z", "2026-02-12T06:00Z"]
    # The replay has reports for the 11th only; the 10th's window keeps none of them.
    assert WEATHER["metar"].layout.day_file(data_dir(config_file), DAY).exists()
    assert not WEATHER["metar"].layout.day_file(data_dir(config_file), date(2026, 2, 10)).exists()


# --------------------------------------------------------------------------- settlement


def test_settlement_fetches_weather_and_markets_and_shows_the_bracket(
    replay: ReplayServer, config_file: Path, fast: HttpOptions, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("settlement", "--config", str(config_file), "KXHIGHCHI-26FEB11", "--fetch-weather")
    assert settlement_command.execute(args, options=fast, now=lambda: FIXTURE_NOW) == 0
    out = capsys.readouterr().out
    assert "KMDW high (CLI MAXIMUM), climate day 2026-02-11 = 2026-02-11 06:00Z .. 2026-02-12 06:00Z" in out
    assert "CLI 38°F (final 202602120635-KLOT-CDUS43-CLIMDW, 2 versions)" in out
    assert "ASOS 1-min max 38°F at 20:40Z" in out and "METAR 6h/24h max group 38°F" in out
    assert "settles YES: KXHIGHCHI-26FEB11-T37" in out and "DISAGREE" not in out

    args = parse("settlement", "--config", str(config_file), "KXHIGHCHI-26FEB11", "--json")
    assert settlement_command.execute(args, options=fast, now=lambda: FIXTURE_NOW) == 0
    [line] = capsys.readouterr().out.splitlines()
    view = json.loads(line)
    assert (view["cli_value"], view["asos_1min_value"], view["metar_value"], view["metar_6h_value"]) == (
        38, 38.0, 35.0, 38.0)
    assert view["settles_yes"] == "KXHIGHCHI-26FEB11-T37" and view["climate_date"] == "2026-02-11"
    assert [m["expected"] for m in view["markets"]] == ["no", "no", "no", "no", "no", "yes"]


def test_settlement_flags_a_disagreement_with_kalshi(
    replay: ReplayServer, config_file: Path, fast: HttpOptions, kalshi_fixtures: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = json.loads((kalshi_fixtures / "rest_get_event_with_nested_markets.json").read_text())
    for market in payload["event"]["markets"] + payload["markets"]:
        market["status"] = "finalized"
        market["result"] = "yes" if market["ticker"].endswith("B36.5") else "no"
    replay.add("/trade-api/v2/events/KXHIGHCHI-26FEB11", Reply(body=json.dumps(payload), content_type="application/json"))
    args = parse("settlement", "--config", str(config_file), "KXHIGHCHI-26FEB11", "--fetch-weather")
    assert settlement_command.execute(args, options=fast, now=lambda: FIXTURE_NOW) == 0
    out = capsys.readouterr().out
    assert "Kalshi YES: KXHIGHCHI-26FEB11-B36.5" in out and "DISAGREEMENT" in out
    assert out.count("<-- DISAGREES") == 2


def test_settlement_of_an_unknown_event_fails_clearly(
    replay: ReplayServer, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["settlement", "--config", str(config_file), "KXHIGHCHI-26FEB30"]) == 1
    assert "settlement KXHIGHCHI-26FEB30: could not fetch the event's markets: HTTP 404" in capsys.readouterr().err


def test_settlement_reads_stored_days_only(config_file: Path, replay: ReplayServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing stored and no --fetch-weather: the view says so instead of guessing.
    assert cli.main(["settlement", "--config", str(config_file), "KXHIGHCHI-26FEB11"]) == 0
    out = capsys.readouterr().out
    assert "CLI --" in out and "no CLI report stored" in out
    assert not replay.hits("/api/data/metar")
