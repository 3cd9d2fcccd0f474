"""Reading a CLI table by its columns: blank cells stay blank, times keep their AM/PM, blocks split."""

from __future__ import annotations

from pathlib import Path

from kalshi_collector.weather.cli_table import TableLayout, find_layout, read_row, split_blocks

HEADER = "WEATHER ITEM   OBSERVED TIME   RECORD YEAR NORMAL DEPARTURE LAST      "


def test_layout_from_the_header_line() -> None:
    layout = TableLayout.from_header(HEADER)
    assert layout is not None
    assert [name for _, name in layout.starts] == ["observed", "time", "record", "year", "normal", "departure", "last"]
    assert layout.label_end == 15
    assert TableLayout.from_header("                VALUE   (LST)  VALUE       VALUE  FROM      YEAR") is None
    assert TableLayout.from_header("WEATHER ITEM") is None  # no columns named


def test_cells_by_column_blank_ones_left_out() -> None:
    layout = TableLayout.from_header(HEADER)
    row = read_row("  MAXIMUM         38   2:41 PM  62    1999  35      3       30        ", layout)
    assert row.label == "MAXIMUM"
    assert dict(row.cells) == {"observed": "38", "time": "2:41 PM", "record": "62", "year": "1999", "normal": "35",
                               "departure": "3", "last": "30"}
    month = read_row("  MONTH TO DATE    0.41                      0.61  -0.20     0.55     ", layout)
    assert month.label == "MONTH TO DATE" and month.get("record") is None and month.get("time") is None
    assert (month.get("observed"), month.get("normal"), month.get("departure"), month.get("last")) == (
        "0.41", "0.61", "-0.20", "0.55")
    since = read_row("  SINCE DEC 1      3.92                      5.10  -1.18     4.47     ", layout)
    assert since.label == "SINCE DEC 1" and since.get("observed") == "3.92"


def test_a_layout_without_a_time_column() -> None:
    layout = TableLayout.from_header("WEATHER ITEM   OBSERVED RECORD YEAR NORMAL DEPARTURE LAST            ")
    row = read_row("  MINIMUM         42     32    2006  41      1       37               ", layout)
    assert dict(row.cells) == {"observed": "42", "record": "32", "year": "2006", "normal": "41", "departure": "1",
                               "last": "37"}


def test_without_a_header_only_value_and_time_by_order() -> None:
    assert dict(read_row("  MINIMUM        -3R  6:52 AM  -2 1899", None).cells) == {"observed": "-3R", "time": "6:52 AM"}
    assert dict(read_row("  MAXIMUM         MM                     62", None).cells) == {"observed": "MM"}
    assert read_row("  SNOW DEPTH         T", None).label == "SNOW DEPTH"
    assert read_row("", None).cells == {}


def test_blocks_of_the_final_report(weather_fixtures: Path) -> None:
    lines = (weather_fixtures / "cli_CLIMDW_202602120635_final.txt").read_text().split("\n")
    blocks = split_blocks(lines)
    assert {"TEMPERATURE (F)", "PRECIPITATION (IN)", "SNOWFALL (IN)", "WIND (MPH)", "SKY COVER"} <= set(blocks)
    assert [line.split()[0] for line in blocks["TEMPERATURE (F)"] if line.strip()] == [
        "YESTERDAY", "MAXIMUM", "MINIMUM", "AVERAGE"]
    assert any("AVERAGE SKY COVER 0.4" in line for line in blocks["SKY COVER"])
    assert find_layout(lines) == TableLayout.from_header(HEADER)
