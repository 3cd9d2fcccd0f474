"""The weather source registry: every per-source fact the orchestrator uses, declared on the source."""

from __future__ import annotations

import pyarrow as pa

from kalshi_collector.storage.catalog import WEATHER
from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.sources import SOURCES


def test_each_source_writes_its_catalog_dataset() -> None:
    assert list(SOURCES) == list(WEATHER)
    for name, source in SOURCES.items():
        assert source.name == name and source.dataset is WEATHER[name]
        assert source.schema is WEATHER[name].schema
    assert asos_1min.SCHEMA is WEATHER["asos_1min"].schema and metar.KEY == WEATHER["metar"].key
    assert daily_climate.KEY == WEATHER["daily_climate"].key


def test_every_parsed_asos_variable_has_a_column() -> None:
    # table_from_rows keeps only the schema's columns: a renamed variable without one would vanish
    assert set(asos_1min.VAR_COLUMNS.values()) <= set(asos_1min.SCHEMA.names)


def test_what_differs_between_sources_is_on_their_records() -> None:
    assert SOURCES["metar"].key_forms["raw_text"]("METAR KMDW 111853Z  00000KT") == "KMDW 111853Z 00000KT"
    assert not SOURCES["asos_1min"].key_forms and not SOURCES["daily_climate"].key_forms
    assert SOURCES["daily_climate"].upgrade_column == "raw_text"
    assert SOURCES["asos_1min"].upgrade_column is None and SOURCES["metar"].upgrade_column is None
    assert SOURCES["asos_1min"].final_stations is None and SOURCES["metar"].final_stations is None
    final_stations = SOURCES["daily_climate"].final_stations
    assert final_stations is not None
    rows = [{"station": s, "preliminary": p} for s, p in (("KMDW", True), ("KMDW", False), ("KNYC", True))]
    day = table_from_rows(rows, pa.schema([("station", pa.string()), ("preliminary", pa.bool_())]))
    assert final_stations(day) == {"KMDW"}
