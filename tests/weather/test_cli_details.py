"""A CLI's context besides the high and low, from the text and from IEM's parse, and how they combine."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from kalshi_collector.weather.cli_details import ClimateDetails, details_from_iem, details_from_text

# A product in another office's layout (no TIME column), with a tied record, a trace of snow,
# missing wind and no sky cover block.
OTHER_LAYOUT = """\
WEATHER ITEM   OBSERVED RECORD YEAR NORMAL DEPARTURE LAST
                VALUE   VALUE       VALUE  FROM      YEAR
...........................................................
TEMPERATURE (F)
 YESTERDAY
  MAXIMUM         55     63    1937  55      0       53
                               1911
  MINIMUM         -2    -21    2006  -4      2       17

PRECIPITATION (IN)
  YESTERDAY        0.01   1.10 1950   0.08  -0.07     0.00
  MONTH TO DATE    0.10                      0.61  -0.20     0.55

SNOWFALL (IN)
  YESTERDAY         T     4.0 1950   0.2   -0.2      0.0
  SNOW DEPTH        3

WIND (MPH)
  HIGHEST WIND SPEED    MM   HIGHEST WIND DIRECTION    MM
  HIGHEST GUST SPEED    31   HIGHEST GUST DIRECTION    W (270)
  AVERAGE WIND SPEED     4.25
"""


def test_the_final_report(weather_fixtures: Path) -> None:
    lines = (weather_fixtures / "cli_CLIMDW_202602120635_final.txt").read_text().split("\n")
    assert details_from_text(lines, wfo="LOT") == ClimateDetails(
        wfo="LOT", high_record_f=62, high_record_years=(1999,), high_normal_f=35, high_departure_f=3,
        low_record_f=-13, low_record_years=(1885,), low_normal_f=21, low_departure_f=3,
        precip_in=Decimal("0.00"), snow_in=Decimal("0.0"), snow_depth_in=Decimal(0),
        avg_wind_speed_mph=Decimal("9.4"), max_wind_speed_mph=17, max_wind_dir_deg=230, max_gust_speed_mph=26,
        max_gust_dir_deg=230, avg_sky_cover=Decimal("0.4"))


def test_the_preliminary_report_reads_its_today_rows(weather_fixtures: Path) -> None:
    lines = (weather_fixtures / "cli_CLIMDW_202602112235_prelim.txt").read_text().split("\n")
    d = details_from_text(lines, wfo="LOT")
    assert (d.high_record_f, d.high_normal_f, d.precip_in, d.snow_in, d.snow_depth_in) == (
        62, 35, Decimal(0), Decimal(0), Decimal(0))
    assert (d.max_wind_speed_mph, d.avg_sky_cover) == (None, None)  # no wind or sky block yet


def test_another_layout_tied_records_trace_and_missing() -> None:
    d = details_from_text(OTHER_LAYOUT.split("\n"), wfo="EKA")
    assert (d.high_record_f, d.high_record_years, d.high_normal_f, d.high_departure_f) == (63, (1937, 1911), 55, 0)
    assert (d.low_record_f, d.low_record_years, d.low_normal_f, d.low_departure_f) == (-21, (2006,), -4, 2)
    assert (d.precip_in, d.snow_in, d.snow_depth_in) == (Decimal("0.01"), Decimal("0.0001"), Decimal(3))
    assert (d.max_wind_speed_mph, d.max_wind_dir_deg, d.max_gust_speed_mph, d.max_gust_dir_deg) == (None, None, 31, 270)
    assert (d.avg_wind_speed_mph, d.avg_sky_cover) == (Decimal("4.25"), None)


def test_a_second_station_uses_the_first_ones_header() -> None:
    lines = OTHER_LAYOUT.split("\n")
    section = lines[lines.index("TEMPERATURE (F)"):]
    assert details_from_text(section, wfo=None).high_record_f is None  # columns unknown: not guessed
    assert details_from_text(section, wfo=None, header=lines).high_record_f == 63


def test_iem_parse_and_trace_values(weather_fixtures: Path) -> None:
    year = json.loads((weather_fixtures / "iem_json_cli_KMDW_2026_trimmed.json").read_text())["results"]
    feb10, feb11 = (details_from_iem(item) for item in year)
    assert (feb10.precip_in, feb10.snow_in) == (Decimal("0.0001"), Decimal("0.0001"))  # "T"
    assert (feb11.wfo, feb11.high_record_years, feb11.avg_wind_speed_mph) == ("LOT", (1999,), Decimal("9.4"))
    missing = details_from_iem({"high_record": "M", "high_record_years": [], "precip": "M", "snowdepth": float("nan"),
                                "highest_wind_direction": "M", "average_sky_cover": "garbled"})
    assert missing == ClimateDetails()


def test_text_first_iem_fills_the_gaps() -> None:
    text = ClimateDetails(wfo="LOT", high_record_f=62, precip_in=Decimal("0.01"))
    iem = ClimateDetails(wfo="LOT", high_record_f=61, precip_in=Decimal("0.02"), max_gust_speed_mph=26)
    merged = text.filled_from(iem)
    assert (merged.high_record_f, merged.precip_in, merged.max_gust_speed_mph) == (62, Decimal("0.01"), 26)
    assert text.filled_from(None) is text
    assert ClimateDetails(high_record_years=(1999, 1911)).columns()["high_record_years"] == [1999, 1911]
