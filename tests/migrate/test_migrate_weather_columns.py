"""The declared mapping of the original's weather columns: every target exists, the docs show it."""

from __future__ import annotations

from pathlib import Path

from kalshi_collector.migrate.weather_columns import ORIGINAL_FOLDERS, mapping_markdown
from kalshi_collector.storage.catalog import WEATHER

DOCS = Path(__file__).resolve().parents[2] / "docs" / "weather.md"


def test_every_target_column_exists() -> None:
    for folder in ORIGINAL_FOLDERS.values():
        names = WEATHER[folder.dataset].schema.names
        for column in folder.columns:
            assert set(column.ours) <= set(names), (folder.folder, column.name, column.ours)
            assert column.ours or column.note, f"{folder.folder}.{column.name}: no counterpart and no reason given"


def test_the_issues_columns_are_all_mapped() -> None:
    """The columns issue 11 names, each with a counterpart."""
    named = {"asos_1min": ["valid_utc", "tmpf", "dwpf"],
             "metar": ["metar_type", "wdir", "wspd_kt", "altimeter_inhg", "slp_mb", "cover", "flt_cat", "raw_ob"],
             "daily_climate": ["high_normal", "high_record", "high_depart", "low_normal", "low_record", "low_depart",
                               "precip_in", "snow_in", "snowdepth_in", "avg_wind_speed", "highest_wind_speed",
                               "highest_gust_speed", "avg_sky_cover"]}
    for folder, columns in named.items():
        declared = {c.name: c for c in ORIGINAL_FOLDERS[folder].columns}
        assert all(declared[c].ours for c in columns), folder


def test_docs_show_the_mapping_as_declared() -> None:
    assert mapping_markdown() in DOCS.read_text(), "docs/weather.md: paste mapping_markdown() into the table"
