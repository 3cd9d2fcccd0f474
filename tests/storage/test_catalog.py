"""The catalog: every dataset declared once, resolvable, and readable back through the reader per layout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import (
    BACKFILL,
    DATASETS,
    READ_KINDS,
    TABLES,
    TRADES,
    WEATHER,
    Dataset,
    dataset,
)
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import LiveDaily, PartName, PerDay, PerEvent
from kalshi_collector.storage.schemas import TS


def test_every_dataset_resolves_its_files_under_its_folder(tmp_path: Path) -> None:
    expected = {
        "market_snapshots": ["market_snapshots/2026-02-11.parquet", "market_snapshots/2026-02-11", "market_snapshots/_parts/2026-02-11"],
        "orderbook_snapshots": ["orderbook_snapshots/2026-02-11.parquet", "orderbook_snapshots/2026-02-11", "orderbook_snapshots/_parts/2026-02-11"],
        "orderbook_deltas": ["orderbook_deltas/2026-02-11.parquet", "orderbook_deltas/2026-02-11", "orderbook_deltas/_parts/2026-02-11"],
        "trades_live": ["trades_live/2026-02-11.parquet", "trades_live/2026-02-11", "trades_live/_parts/2026-02-11"],
        "book_events": ["book_events/2026-02-11.parquet", "book_events/2026-02-11", "book_events/_parts/2026-02-11"],
        "rejects": ["rejects/2026-02-11.parquet", "rejects/2026-02-11", "rejects/_parts/2026-02-11"],
        "raw_ws": ["raw_ws/2026-02-11.parquet", "raw_ws/2026-02-11", "raw_ws/_parts/2026-02-11"],
        "raw_rest": ["raw_rest/2026-02-11.parquet", "raw_rest/2026-02-11", "raw_rest/_parts/2026-02-11"],
        "candlesticks": ["historical/candlesticks/KXHIGHCHI-26FEB11.parquet"],
        "trades": ["historical/trades/KXHIGHCHI-26FEB11.parquet"],
        "asos_1min": ["weather/asos_1min/2026-02-11.parquet"],
        "metar": ["weather/metar/2026-02-11.parquet"],
        "daily_climate": ["weather/daily_climate/2026-02-11.parquet"],
    }
    assert list(DATASETS) == list(expected)
    for name, ds in DATASETS.items():
        layout = ds.layout
        if isinstance(layout, LiveDaily):
            paths = [layout.day_file(tmp_path, DAY), layout.parts_dir(tmp_path, DAY),
                     layout.legacy_parts_dir(tmp_path, DAY)]
        elif isinstance(layout, PerEvent):
            paths = [layout.event_file(tmp_path, "KXHIGHCHI-26FEB11")]
        else:
            assert isinstance(layout, PerDay)
            paths = [layout.day_file(tmp_path, DAY)]
        assert [p.relative_to(tmp_path).as_posix() for p in paths] == expected[name], name
        assert layout.path(tmp_path) == tmp_path / ds.folder
    part = PartName("c0", 1, 2, 3)
    assert TABLES["book_events"].layout.part_file(tmp_path, DAY, part) == \
        tmp_path / "book_events" / "2026-02-11" / "part-c0-1-2-3.parquet"


def test_names_folders_and_schemas_are_declared_once() -> None:
    datasets = list(DATASETS.values())
    assert len({ds.name for ds in datasets}) == len(datasets)
    assert len({ds.folder for ds in datasets}) == len(datasets)
    assert len({id(ds.schema) for ds in datasets}) == len(datasets)
    assert DATASETS == {**TABLES, **BACKFILL, **WEATHER}
    for ds in datasets:
        assert len(set(ds.schema.names)) == len(ds.schema.names), ds.name


def test_every_time_column_is_utc_microseconds_and_live_tables_lead_with_it() -> None:
    for ds in DATASETS.values():
        for fld in ds.schema:
            if pa.types.is_timestamp(fld.type):
                assert fld.type == TS, (ds.name, fld.name)
    for ds in TABLES.values():
        assert ds.schema.names[0] == ds.time_column and ds.schema.field(ds.time_column).type == TS
        # a tape keeps every row; trades_live one per trade id (a resent trade is stored once)
        assert ds.key == (("trade_id",) if ds.name == "trades_live" else ())
    for ds in (*BACKFILL.values(), *WEATHER.values()):
        assert ds.key, ds.name  # writers that merge keep one row per key


def test_read_kinds_are_every_name_and_the_old_aliases() -> None:
    assert list(READ_KINDS)[:3] == ["market", "orderbook", "deltas"]
    assert dataset("market") is TABLES["market_snapshots"]
    assert dataset("orderbook") is TABLES["orderbook_snapshots"]
    assert dataset("deltas") is TABLES["orderbook_deltas"]
    assert set(READ_KINDS) == {"market", "orderbook", "deltas", *DATASETS}
    for name, ds in DATASETS.items():
        assert dataset(name) is ds
    with pytest.raises(ValueError, match="unknown kind 'markets'; valid kinds: market, orderbook, deltas"):
        dataset("markets")


def test_a_declaration_naming_a_missing_column_fails_when_declared() -> None:
    schema = pa.schema([("ts", TS), ("frame", pa.binary())])
    with pytest.raises(ValueError, match="raw_frames: columns \\['recv_ts'\\] are not in its schema"):
        Dataset("raw_frames", LiveDaily("raw_frames"), schema, "recv_ts", ("recv_ts",))
    with pytest.raises(ValueError, match="time column ts must come first"):
        Dataset("raw_frames", LiveDaily("raw_frames"), pa.schema([("frame", pa.binary()), ("ts", TS)]), "ts", ())
    # a new table is one declaration: the reader knows it at once
    raw = Dataset("raw_frames", LiveDaily("raw_frames"), schema, "ts", ("ts",))
    assert raw.width == 2 and raw.folder == "raw_frames"


# ---------------------------------------------------------------------- round trips, one per layout


def test_live_daily_round_trip_through_the_writer_and_the_reader(data_dir: Path) -> None:
    rows = [ROW_FACTORIES["trades_live"](us(DAY, 60.0 * i), i) for i in range(5)]
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("trades_live", rows)
        store.flush()
        storage = ParquetStorage(data_dir)
        before = storage.read_arrow("trades_live", DAY, DAY)
        assert all(TABLES["trades_live"].layout.is_part(p) for p in storage.files("trades_live"))
        store.compact(DAY + dt.timedelta(days=1))
    after = storage.read_arrow("trades_live", DAY, DAY)
    assert storage.files("trades_live") == [TABLES["trades_live"].layout.day_file(data_dir, DAY)]
    assert before.equals(after)
    assert after.column("trade_id").to_pylist() == [f"trade-{i}" for i in range(5)]


def test_per_event_round_trip_filters_on_the_time_column(tmp_path: Path) -> None:
    stamps = [dt.datetime.combine(DAY + dt.timedelta(days=d), dt.time(12), dt.UTC) for d in range(3)]
    written = pa.table({"timestamp": pa.array(stamps, TS), "trade_id": ["a", "b", "c"], "price": [1.0, 2.0, 3.0]})
    LocalFS().write_parquet(TRADES.layout.event_file(tmp_path, "KXHIGHCHI-26FEB11"), written)
    storage = ParquetStorage(tmp_path)
    back = storage.read_arrow("trades")
    assert back.schema == TRADES.schema  # older or partial files come back as the current schema
    assert back.column("trade_id").to_pylist() == ["a", "b", "c"]
    assert back.column("market_ticker").null_count == 3
    one_day = storage.read_arrow("trades", DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1))
    assert one_day.column("trade_id").to_pylist() == ["b"]


def test_per_day_round_trip_prunes_by_the_date_in_the_name(tmp_path: Path) -> None:
    metar = WEATHER["metar"]
    for n in range(3):
        day = DAY + dt.timedelta(days=n)
        table = pa.table({"station": ["KMDW"], "climate_date": pa.array([day], pa.date32()), "raw_text": [f"r{n}"]})
        LocalFS().write_parquet(metar.layout.day_file(tmp_path, day), table)
    storage = ParquetStorage(tmp_path)
    assert [p.name for p in storage.files("metar", DAY + dt.timedelta(days=1))] == \
        ["2026-02-12.parquet", "2026-02-13.parquet"]
    back = storage.read_arrow("metar", DAY, DAY + dt.timedelta(days=1))
    assert back.schema == metar.schema
    assert back.column("raw_text").to_pylist() == ["r0", "r1"]
