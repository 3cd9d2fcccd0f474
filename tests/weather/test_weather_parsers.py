"""Every weather fixture parsed, including missing markers, empty answers and broken bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.common import parse_decimal, parse_float, table_from_rows
from kalshi_collector.weather.http import BadPayload
from kalshi_collector.weather.stations import STATIONS

MDW = STATIONS["KMDW"]
NOW = datetime(2026, 2, 12, 7, 30, tzinfo=UTC)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- missing markers


def test_missing_and_trace_markers() -> None:
    assert parse_float("38") == 38.0 and parse_float("38.0") == 38.0 and parse_float("-5") == -5.0
    for missing in ("M", "MM", "", "  ", None, "None"):
        assert parse_float(missing) is None
    assert parse_float("T") is None  # a trace is no temperature
    assert parse_float("T", trace=0.0001) == 0.0001
    assert parse_decimal(1.7) == Decimal("1.7") and parse_decimal(3) == Decimal(3)
    with pytest.raises(ValueError):
        parse_float("3x")


# --------------------------------------------------------------------------- IEM 1-minute


def test_one_minute_csv(weather_fixtures: Path) -> None:
    text = (weather_fixtures / "iem_asos1min_MDW_20260211_2030-2100Z_1min.csv").read_text()
    rows = asos_1min.parse_asos1min_csv(text, MDW, fetched_at=NOW)
    assert len(rows) == 30  # end exclusive: 20:30 .. 20:59
    assert rows[0]["observed_at"] == _utc(2026, 2, 11, 20, 30)
    assert rows[0]["station"] == "KMDW" and rows[0]["climate_date"] == date(2026, 2, 11)
    peak = [r["observed_at"].strftime("%H:%M") for r in rows if r["temp_f"] == 38.0]
    assert peak == ["20:40", "20:41", "20:42"]
    gap = next(r for r in rows if r["observed_at"].minute == 52)
    assert (gap["temp_f"], gap["dewpoint_f"], gap["wind_speed_kt"], gap["wind_dir_deg"]) == (None, None, None, None)
    assert rows[1]["wind_speed_kt"] == 13.0 and rows[1]["wind_dir_deg"] == 232.0
    assert {r["station_name"] for r in rows} == {"CHICAGO/MIDWAY"}  # IEM's name, as the original kept it
    table = table_from_rows(rows, asos_1min.SCHEMA)
    assert table.schema.field("observed_at").type == asos_1min.SCHEMA.field("observed_at").type
    assert str(table.schema.field("observed_at").type) == "timestamp[us, tz=UTC]"


def test_one_minute_hourly_sample_misses_the_peak(weather_fixtures: Path) -> None:
    rows = asos_1min.parse_asos1min_csv(
        (weather_fixtures / "iem_asos1min_MDW_20260211_hourly.csv").read_text(), MDW, fetched_at=NOW)
    assert len(rows) == 24 and max(r["temp_f"] for r in rows) == 37.0
    assert next(r for r in rows if r["observed_at"].hour == 9)["dewpoint_f"] is None
    assert {r["climate_date"] for r in rows} == {date(2026, 2, 11)}  # 06:00Z Feb 11 .. 05:00Z Feb 12


def test_one_minute_empty_and_local_time_zone(weather_fixtures: Path) -> None:
    assert asos_1min.parse_asos1min_csv((weather_fixtures / "iem_asos1min_MDW_empty.csv").read_text(), MDW,
                                        fetched_at=NOW) == []
    rows = asos_1min.parse_asos1min_csv(
        (weather_fixtures / "iem_asos1min_MDW_gis_localtz.csv").read_text(), MDW, fetched_at=NOW)
    # valid(America/Chicago) 14:40 CST = 20:40Z; lat/lon columns are skipped.
    assert [r["observed_at"] for r in rows if r["temp_f"] == 38.0][0] == _utc(2026, 2, 11, 20, 40)
    assert len(rows) == 7 and "lat" not in rows[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>", "HTML page"),
        ("", "empty answer"),
        ("station,station_name,valid(UTC),tmpf\nMDW,CHICAGO/MIDWAY,2026-02-11 20:30,3", "cut off"),
        ("station,station_name,valid(UTC),tmpf,dwpf\nMDW,CHICAGO/MIDWAY,2026-02-11 20:30,37\n", "cut off"),
        ("station,valid,tmpf\nMDW,2026-02-11 20:30,37\n", "unexpected IEM 1-minute CSV header"),
        ("station,station_name,valid(UTC),tmpf\nORD,CHICAGO/OHARE,2026-02-11 20:30,37\n", "asked for MDW"),
        ("station,station_name,valid(UTC),tmpf\nMDW,X,yesterday,37\n", "bad time"),
    ],
)
def test_one_minute_bad_bodies(body: str, message: str) -> None:
    with pytest.raises(BadPayload, match=message):
        asos_1min.parse_asos1min_csv(body, MDW, fetched_at=NOW, url="http://x/asos1min.py")


# --------------------------------------------------------------------------- METAR


def test_awc_json(weather_fixtures: Path) -> None:
    body = (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes()
    rows = metar.parse_awc_json(body, MDW, fetched_at=NOW)
    assert len(rows) == 8
    assert [r["report_type"] for r in rows].count("SPECI") == 1
    last = next(r for r in rows if r["observed_at"] == _utc(2026, 2, 12, 5, 53))
    # T00001044: 0.0 °C / -4.4 °C; 24-hour group 400331044 = 38 / 24 °F; 6-hour 10017 20000.
    assert (last["temp_c"], last["dewpoint_c"], last["temp_tenths"]) == (0.0, -4.4, True)
    assert (last["temp_f"], last["temp_f_whole"], last["dewpoint_f"]) == (32.0, 32.0, 24.1)
    assert (last["max_24h_f"], last["min_24h_f"], last["max_6h_f"], last["min_6h_f"]) == (38.0, 24.0, 35.0, 32.0)
    assert last["climate_date"] == date(2026, 2, 11)  # 05:53Z is 23:53 CST on the 11th
    assert (last["altimeter_hpa"], last["sea_level_pressure_hpa"], last["visibility_sm"]) == (1013.5, 1013.9, "10+")
    assert last["received_at"] == datetime(2026, 2, 12, 5, 55, 38, 93000, tzinfo=UTC)
    first = next(r for r in rows if r["observed_at"] == _utc(2026, 2, 11, 23, 53))
    assert (first["temp_f"], first["temp_f_whole"], first["max_6h_f"]) == (35.1, 35.0, 38.0)  # 10033 -> 38 °F
    assert first["raw_text"].startswith("METAR KMDW 112353Z")
    absent = next(r for r in rows if r["report_type"] == "SPECI")
    assert absent["sea_level_pressure_hpa"] is None and absent["max_6h_c"] is None  # omitted keys stay null


def test_awc_json_keeps_what_only_awc_decodes(weather_fixtures: Path) -> None:
    """reportTime, cover, fltCat and pcp6hr, which the original collector stored."""
    rows = metar.parse_awc_json(
        (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes(), MDW, fetched_at=NOW)
    by_time = {r["observed_at"]: r for r in rows}
    last = by_time[_utc(2026, 2, 12, 5, 53)]
    assert last["reported_at"] == _utc(2026, 2, 12, 6)  # a routine :53 report is stamped the next hour
    assert (last["cover"], last["flight_category"], last["precip_6h_in"]) == ("OVC", "VFR", None)
    assert (last["altimeter_inhg"], last["altimeter_hpa"]) == (Decimal("29.93"), 1013.5)  # A2993 as reported
    assert last["wind_variable"] is False
    speci = next(r for r in rows if r["report_type"] == "SPECI")
    assert (speci["reported_at"], speci["flight_category"]) == (_utc(2026, 2, 12, 3, 20), "MVFR")
    assert [by_time[t]["cover"] for t in sorted(by_time)] == ["FEW", "FEW", "SCT", "BKN", "OVC", "OVC", "OVC", "OVC"]
    item = {"icaoId": "KMDW", "obsTime": 1770875580, "rawOb": "METAR KMDW 120553Z VRB03KT 10SM CLR 00/M04 A2993",
            "pcp6hr": 0.02, "fltCat": "VFR"}
    vrb = metar.awc_row(item, MDW, fetched_at=NOW)
    assert vrb is not None and (vrb["wind_variable"], vrb["wind_dir_deg"]) == (True, None)
    assert vrb["precip_6h_in"] == Decimal("0.0200") and vrb["reported_at"] is None
    assert metar.awc_row({"icaoId": "KMDW", "rawOb": "METAR KMDW 120553Z"}, MDW, fetched_at=NOW) is None  # no obsTime
    table = table_from_rows(rows + [vrb], metar.SCHEMA)
    assert table.schema.field("altimeter_inhg").type == metar.SCHEMA.field("altimeter_inhg").type


def test_awc_pretty_copy_reads_the_same(weather_fixtures: Path) -> None:
    compact = metar.parse_awc_json(
        (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes(), MDW, fetched_at=NOW)
    pretty = metar.parse_awc_json(
        (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.pretty.json").read_bytes(), MDW, fetched_at=NOW)
    assert pretty == compact


def test_awc_204_and_errors() -> None:
    assert metar.parse_awc_json(b"", MDW, fetched_at=NOW) == []  # HTTP 204: unknown id / nothing
    assert metar.parse_awc_json(b"[]", MDW, fetched_at=NOW) == []
    with pytest.raises(BadPayload, match="error object"):
        metar.parse_awc_json(b'{"status":"error","error":"Must specify station IDs"}', MDW, fetched_at=NOW)
    with pytest.raises(BadPayload, match="not valid JSON"):
        metar.parse_awc_json(b'[{"icaoId":"KMDW","obsTime":17708', MDW, fetched_at=NOW)
    with pytest.raises(BadPayload, match="HTML page"):
        metar.parse_awc_json(b"<html><title>Service Unavailable</title></html>", MDW, fetched_at=NOW)


def test_awc_raw_text_matches_the_json(weather_fixtures: Path) -> None:
    raw_rows = metar.parse_awc_raw(
        (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.txt").read_text(), MDW,
        reference=_utc(2026, 2, 12, 6), fetched_at=NOW)
    json_rows = metar.parse_awc_json(
        (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes(), MDW, fetched_at=NOW)
    assert [r["observed_at"] for r in raw_rows] == [r["observed_at"] for r in json_rows]
    for a, b in zip(raw_rows, json_rows, strict=True):
        assert (a["temp_c"], a["temp_f_whole"], a["max_6h_f"], a["max_24h_f"], a["report_type"]) == (
            b["temp_c"], b["temp_f_whole"], b["max_6h_f"], b["max_24h_f"], b["report_type"])


def test_iem_asos_archive_csv(weather_fixtures: Path) -> None:
    rows = metar.parse_iem_asos_csv(
        (weather_fixtures / "iem_asos_MDW_20260211T23-20260212T06Z.csv").read_text(), MDW, fetched_at=NOW)
    assert len(rows) == 8 and rows[0]["source"] == "iem_asos"
    assert rows[0]["raw_text"].startswith("KMDW 112353Z")  # stored without the METAR prefix
    assert rows[-1]["max_24h_f"] == 38.0 and rows[0]["temp_f_whole"] == 35.0
    # what IEM's archive does not carry stays null; what the body says is decoded
    assert (rows[0]["cover"], rows[0]["flight_category"], rows[0]["reported_at"]) == (None, None, None)
    assert rows[0]["altimeter_inhg"] == Decimal("29.96") and rows[0]["wind_variable"] is False
    # The same report from AWC and from IEM dedupes to one key.
    assert metar.raw_key("METAR " + rows[0]["raw_text"]) == metar.raw_key(rows[0]["raw_text"])


def test_decode_metar_groups() -> None:
    g = metar.decode_metar("SPECI KXYZ 151553Z AUTO VRB03G15KT 1 1/2SM -SN M05/M08 A3012 RMK AO2 SLP980 T10531078 "
                           "11022 21061 411001072")
    assert (g.report_type, g.station, g.day, g.hour, g.minute) == ("SPECI", "KXYZ", 15, 15, 53)
    assert (g.wind_dir_deg, g.wind_speed_kt, g.wind_gust_kt, g.visibility_sm) == (None, 3, 15, "1 1/2")
    assert (g.temp_c, g.dewpoint_c, g.temp_tenths) == (Decimal("-5.3"), Decimal("-7.8"), True)
    assert (g.max_6h_c, g.min_6h_c, g.max_24h_c, g.min_24h_c) == (
        Decimal("-2.2"), Decimal("-6.1"), Decimal("-10.0"), Decimal("-7.2"))
    assert g.sea_level_pressure_hpa == Decimal("998.0") and g.altimeter_inhg == Decimal("30.12")
    body_only = metar.decode_metar("KXYZ 151553Z 27010KT 10SM CLR 02/M01 A3000")
    assert (body_only.temp_c, body_only.dewpoint_c, body_only.temp_tenths) == (Decimal(2), Decimal(-1), False)
    # Exact conversions: 1.7 °C is 35.06 °F (35.1 to the tenth, 35 whole), never 35.059999.
    assert metar.c_to_f(Decimal("1.7")) == 35.1 and metar.c_to_whole_f(Decimal("3.3")) == 38.0
    assert metar.c_to_whole_f(Decimal("-4.4")) == 24.0


def test_decode_metar_takes_each_body_group_once_and_the_last_t_group() -> None:
    g = metar.decode_metar("KXYZ 151553Z 151600Z 27010MPS 28011KT P6SM 2SM 02/ 03/M02 A3000 A2990 "
                           "RMK T00330011 T0044 SLP020")
    assert (g.day, g.hour, g.minute) == (15, 15, 53)
    assert (g.wind_dir_deg, g.wind_speed_kt, g.visibility_sm, g.altimeter_inhg) == (270, 19, "6+", Decimal("30.00"))
    # the last T-group's temperature; the dew point of the last T-group that has one
    assert (g.temp_c, g.dewpoint_c, g.temp_tenths) == (Decimal("4.4"), Decimal("1.1"), True)
    assert g.sea_level_pressure_hpa == Decimal("1002.0")
    no_dew = metar.decode_metar("KXYZ 151553Z 02/M01 RMK T0021")
    assert (no_dew.temp_c, no_dew.dewpoint_c) == (Decimal("2.1"), Decimal(-1))


# --------------------------------------------------------------------------- daily climate


def test_final_cli_text(weather_fixtures: Path) -> None:
    [report] = daily_climate.parse_cli_text((weather_fixtures / "cli_CLIMDW_202602120635_final.txt").read_text())
    assert report.product_id == "202602120635-KLOT-CDUS43-CLIMDW"
    assert report.issued_at == _utc(2026, 2, 12, 6, 35)
    assert (report.climate_date, report.preliminary, report.correction) == (date(2026, 2, 11), False, False)
    assert (report.high_f, report.high_time, report.low_f, report.low_time) == (38, "2:41 PM", 24, "6:52 AM")
    row = daily_climate.report_row(report, MDW, fetched_at=NOW)
    assert row["high_at"] == _utc(2026, 2, 11, 20, 41) and row["low_at"] == _utc(2026, 2, 11, 12, 52)
    assert row["raw_text"].rstrip().endswith("$$")
    # the context the original collector kept: records, normals, departures, amounts, wind, sky
    assert (row["wfo"], row["high_record_f"], row["high_record_years"], row["high_normal_f"], row["high_departure_f"]) \
        == ("LOT", 62, [1999], 35, 3)
    assert (row["low_record_f"], row["low_record_years"], row["low_normal_f"], row["low_departure_f"]) == (
        -13, [1885], 21, 3)
    assert (row["precip_in"], row["snow_in"], row["snow_depth_in"]) == (Decimal(0), Decimal(0), Decimal(0))
    assert (row["max_wind_speed_mph"], row["max_wind_dir_deg"], row["max_gust_speed_mph"], row["max_gust_dir_deg"]) \
        == (17, 230, 26, 230)
    assert (row["avg_wind_speed_mph"], row["avg_sky_cover"]) == (Decimal("9.4"), Decimal("0.4"))
    table = table_from_rows([row], daily_climate.SCHEMA)
    assert table.column("high_record_years").to_pylist() == [[1999]]


def test_preliminary_cli_text(weather_fixtures: Path) -> None:
    [report] = daily_climate.parse_cli_text((weather_fixtures / "cli_CLIMDW_202602112235_prelim.txt").read_text())
    assert report.preliminary and report.climate_date == date(2026, 2, 11)
    assert report.issued_at == _utc(2026, 2, 11, 22, 35) and report.high_f == 38
    assert daily_climate.report_row(report, MDW, fetched_at=NOW)["preliminary"] is True


def test_afos_retrieve_holds_both_versions(weather_fixtures: Path) -> None:
    text = (weather_fixtures / "iem_afos_retrieve_CLIMDW_limit2.txt").read_text()
    products = daily_climate.split_afos_products(text)
    assert len(products) == 2 and all("\x01" not in p and "\x03" not in p for p in products)
    reports = [r for p in products for r in daily_climate.parse_cli_text(p)]
    assert [(r.product_id, r.preliminary) for r in reports] == [
        ("202602120635-KLOT-CDUS43-CLIMDW", False), ("202602112235-KLOT-CDUS43-CLIMDW", True)]


def test_cli_text_markers_missing_record_negative_and_multi_station() -> None:
    text = (
        "000 \nCDUS44 KHGX 020705 CCA\nCLIHOU\n\nCLIMATE REPORT\nNATIONAL WEATHER SERVICE HOUSTON/GALVESTON TX\n"
        "105 AM CST MON FEB 2 2026\n\n...THE HOUSTON INTERCONTINENTAL CLIMATE SUMMARY FOR FEB 1 2026...\n\n"
        "TEMPERATURE (F)\n YESTERDAY\n  MAXIMUM         MM                     62\n  MINIMUM        -3R  6:52 AM  -2 1899\n\n"
        "...THE HOUSTON/HOBBY CLIMATE SUMMARY FOR FEB 1 2026 CORRECTION...\n\n"
        "TEMPERATURE (F)\n YESTERDAY\n  MAXIMUM         84R   241 PM  83    1999\n  MINIMUM         55   MM\n\n$$\n"
    )
    reports = daily_climate.parse_cli_text(text)
    assert [r.report_name for r in reports] == ["HOUSTON INTERCONTINENTAL", "HOUSTON/HOBBY"]
    iah, hobby = reports
    assert (iah.high_f, iah.high_time, iah.low_f, iah.low_time) == (None, None, -3, "6:52 AM")
    assert (hobby.high_f, hobby.high_time, hobby.low_f, hobby.low_time) == (84, "241 PM", 55, None)
    assert hobby.correction and hobby.product_id == "202602020705-KHGX-CDUS44-CLIHOU-CCA"
    hou = STATIONS["KHOU"]
    assert daily_climate._section_for(reports, hou) == [hobby]
    assert daily_climate.cli_time_to_utc("241 PM", date(2026, 2, 1), hou) == _utc(2026, 2, 1, 20, 41)
    assert daily_climate.cli_time_to_utc("1204 AM", date(2026, 7, 1), hou) == _utc(2026, 7, 1, 6, 4)
    assert daily_climate.cli_time_to_utc(None, date(2026, 7, 1), hou) is None


def test_cli_text_that_is_not_a_cli() -> None:
    with pytest.raises(BadPayload, match="HTML page"):
        daily_climate.parse_cli_text("<html><title>Oops</title></html>")
    with pytest.raises(BadPayload, match="not a CLI product"):
        daily_climate.parse_cli_text("000 \nCDUS43 KLOT 120635\nCLIMDW\n\nsomething else\n")


def test_iem_cli_json_and_geojson(weather_fixtures: Path) -> None:
    year = daily_climate.parse_cli_json((weather_fixtures / "iem_json_cli_KMDW_2026_trimmed.json").read_bytes())
    assert [(r.climate_date, r.high_f, r.low_f, r.high_time) for r in year] == [
        (date(2026, 2, 10), 33, 18, "323 PM"), (date(2026, 2, 11), 38, 24, "241 PM")]
    [feature] = daily_climate.parse_cli_json(
        (weather_fixtures / "iem_geojson_cli_20260211_trimmed.geojson").read_bytes())
    assert feature == year[1]  # the per-date listing and the per-year JSON agree
    row = daily_climate.json_row(feature, MDW, fetched_at=NOW)
    assert (row["high_f"], row["low_f"], row["preliminary"], row["raw_text"]) == (38, 24, False, None)
    [final] = daily_climate.parse_cli_text((weather_fixtures / "cli_CLIMDW_202602120635_final.txt").read_text())
    text_row = daily_climate.report_row(final, MDW, fetched_at=NOW)
    details = [c for c in daily_climate.SCHEMA.names[daily_climate.SCHEMA.names.index("wfo"):]]
    assert {c: row[c] for c in details} == {c: text_row[c] for c in details}  # IEM's parse and ours agree
    assert (year[0].details.precip_in, year[0].details.snow_in) == (Decimal("0.0001"), Decimal("0.0001"))  # "T"
    assert row["issued_at"] == _utc(2026, 2, 12, 6, 35) and row["high_at"] == _utc(2026, 2, 11, 20, 41)
    missing = daily_climate.parse_cli_json(
        b'{"results": [{"station": "KMDW", "valid": "2026-02-11", "product": "202602112235-KLOT-CDUS43-CLIMDW",'
        b' "high": "M", "high_time": null, "low": 24, "low_time": "652 AM"}]}')
    assert (missing[0].high_f, missing[0].high_time, missing[0].low_f) == (None, None, 24)
    assert daily_climate.json_row(missing[0], MDW, fetched_at=NOW)["preliminary"] is True  # issued before day end
    with pytest.raises(BadPayload):
        daily_climate.parse_cli_json(b'{"detail": "nope"}')


def test_afos_list(weather_fixtures: Path) -> None:
    entries = daily_climate.parse_afos_list(
        (weather_fixtures / "iem_api1_afos_list_CLIMDW_20260211.json").read_bytes())
    assert [e.product_id for e in entries] == ["202602110634-KLOT-CDUS43-CLIMDW", "202602112235-KLOT-CDUS43-CLIMDW"]
    assert entries[1].entered == _utc(2026, 2, 11, 22, 35) and entries[0].center == "KLOT"
