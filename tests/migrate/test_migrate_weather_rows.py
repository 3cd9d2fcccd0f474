"""Turning one original file's records into our rows: values cleaned, odd records skipped with a reason."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

from kalshi_collector.migrate.weather_rows import clean, convert_records, uncarried_columns
from kalshi_collector.weather.stations import STATIONS

MDW = STATIONS["KMDW"]
WRITTEN = datetime(2026, 2, 12, 8, tzinfo=UTC)
RAW = "METAR KMDW 120553Z 24009KT 10SM OVC040 00/M04 A2993 RMK AO2 SLP139 T00001044"


def test_clean_values() -> None:
    assert [clean(v) for v in (math.nan, "", "  ", None, 8.0, 0.5, "240", 3)] == [None, None, None, None, 8, 0.5, "240", 3]


def test_metar_record_observation_time_from_the_report_and_altimeter_units() -> None:
    record = {"station": "KMDW", "valid_utc": datetime(2026, 2, 12, 6, tzinfo=UTC), "metar_type": "METAR",
              "wdir": "240", "wspd_kt": 9.0, "altimeter_inhg": 29.93, "raw_ob": RAW, "flt_cat": "VFR", "cover": ""}
    [row] = convert_records("metar", [record], MDW, fetched_at=WRITTEN, file_date=date(2026, 2, 12)).rows
    assert row["observed_at"] == datetime(2026, 2, 12, 5, 53, tzinfo=UTC)
    assert row["reported_at"] == datetime(2026, 2, 12, 6, tzinfo=UTC)
    # 29.93 is inHg (not AWC's hPa): the A-group gives both exactly
    assert (row["altimeter_inhg"], row["altimeter_hpa"]) == (Decimal("29.93"), 1013.5)
    assert (row["flight_category"], row["cover"], row["wind_dir_deg"], row["source"]) == ("VFR", None, 240.0,
                                                                                          "original_awc")
    bad = convert_records("metar", [dict(record, raw_ob=""), dict(record, valid_utc=None)], MDW, fetched_at=WRITTEN,
                          file_date=date(2026, 2, 12))
    assert bad.rows == [] and sum(bad.skipped.values()) == 2


def test_climate_record_without_a_product_is_skipped_with_a_reason() -> None:
    record = {"station": "KMDW", "valid_date": date(2026, 2, 11), "high_f": 38, "cli_product_id": "",
              "high_record_years": "[1999, 1911]"}
    out = convert_records("daily_climate", [record], MDW, fetched_at=WRITTEN, file_date=date(2026, 2, 11))
    assert out.rows == [] and list(out.skipped) == ["no cli_product_id (the report cannot be told from other versions)"]
    ok = convert_records("daily_climate", [dict(record, cli_product_id="202602120635-KLOT-CDUS43-CLIMDW",
                                                valid_date=None)], MDW, fetched_at=WRITTEN, file_date=date(2026, 2, 11))
    [row] = ok.rows
    assert (row["climate_date"], row["high_f"], row["high_record_years"]) == (date(2026, 2, 11), 38, [1999, 1911])


def test_columns_nothing_declares_are_named() -> None:
    assert uncarried_columns("asos_1min", ["station", "valid_utc", "tmpf", "sknt", "ptype", "__index_level_0__"]) == {
        "ptype"}
    assert uncarried_columns("metar", ["station", "raw_ob", "foo"]) == {"foo"}
