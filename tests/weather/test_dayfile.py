"""Merging into a weather day file: by key, written only when something is new, old files widened."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from weather_replay import FIXTURE_NOW

from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.weather import metar
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.dayfile import DayFileUnreadable, merge_into_day_file
from kalshi_collector.weather.sources import SOURCES
from kalshi_collector.weather.stations import STATIONS

SOURCE = SOURCES["metar"]


def _rows(weather_fixtures: Path) -> pa.Table:
    body = (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes()
    return table_from_rows(metar.parse_awc_json(body, STATIONS["KMDW"], fetched_at=FIXTURE_NOW), metar.SCHEMA)


def test_written_once_then_nothing_new(tmp_path: Path, weather_fixtures: Path) -> None:
    rows = _rows(weather_fixtures)
    day = rows.column("climate_date")[0].as_py()
    first = merge_into_day_file(LocalFS(), tmp_path, SOURCE, day, rows)
    assert first.written and first.added.num_rows == 8 and first.path == SOURCE.dataset.layout.day_file(tmp_path, day)
    stamp = first.path.stat().st_mtime_ns
    again = merge_into_day_file(LocalFS(), tmp_path, SOURCE, day, rows)
    assert not again.written and again.added.num_rows == 0 and again.merged.num_rows == 8
    assert first.path.stat().st_mtime_ns == stamp


def test_a_file_of_an_older_schema_is_widened_and_kept(tmp_path: Path, weather_fixtures: Path) -> None:
    rows = _rows(weather_fixtures)
    day = rows.column("climate_date")[0].as_py()
    older = rows.slice(0, 3).select(metar.SCHEMA.names[: metar.SCHEMA.names.index("reported_at")])
    path = SOURCE.dataset.layout.day_file(tmp_path, day)
    path.parent.mkdir(parents=True)
    pq.write_table(older, path)
    merged = merge_into_day_file(LocalFS(), tmp_path, SOURCE, day, rows)
    assert merged.added.num_rows == 5 and merged.merged.num_rows == 8
    back = pq.read_table(path)
    assert back.schema.names == metar.SCHEMA.names
    held = {r["raw_text"]: r["flight_category"] for r in back.to_pylist()}
    assert sum(v is None for v in held.values()) == 3  # the held rows stay as they were (first one wins)


def test_an_unreadable_file_is_not_touched(tmp_path: Path, weather_fixtures: Path) -> None:
    rows = _rows(weather_fixtures)
    day = rows.column("climate_date")[0].as_py()
    path = SOURCE.dataset.layout.day_file(tmp_path, day)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")
    with pytest.raises(DayFileUnreadable, match="left untouched"):
        merge_into_day_file(LocalFS(), tmp_path, SOURCE, day, rows)
    assert path.read_bytes() == b"not parquet"
