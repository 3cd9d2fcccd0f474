"""ParquetStorage: date ranges, pruning by name before opening, every kind, empty results."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.storage import READ_KINDS, TABLES, LiveStore, ParquetStorage

D1, D2, D3 = DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
GARBAGE = b"this is not parquet, and opening it fails loudly"


@pytest.fixture()
def three_days(data_dir: Path) -> Path:
    """market_snapshots: D1 and D2 compacted, D3 (today) still parts; 10 rows a day."""
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        for n, day in enumerate((D1, D2, D3)):
            store.extend("market_snapshots",
                         [ROW_FACTORIES["market_snapshots"](us(day, 60.0 * i), 100 * n + i) for i in range(10)])
            store.flush()
        assert len(store.compact(D3)) == 2
    return data_dir


def volumes(df: pd.DataFrame) -> list[float]:
    return sorted(v - 1200 for v in df["volume"])


def test_inclusive_date_ranges_over_day_files_and_parts(three_days: Path) -> None:
    storage = ParquetStorage(three_days)
    assert len(storage.read_parquets("market")) == 30
    assert volumes(storage.read_parquets("market", D2, D2)) == list(range(100, 110))
    assert volumes(storage.read_parquets("market", D2, D3)) == [*range(100, 110), *range(200, 210)]
    assert volumes(storage.read_parquets("market", start_date=D3)) == list(range(200, 210))
    assert volumes(storage.read_parquets("market", end_date=D1)) == list(range(10))
    assert volumes(storage.read_parquets("market", "2026-02-12", "2026-02-12")) == list(range(100, 110))
    df = storage.read_parquets("market", D1, D3)
    assert df["snapshot_ts"].is_monotonic_increasing
    assert df["snapshot_ts"].dt.tz is not None and str(df["snapshot_ts"].dt.tz) == "UTC"


def test_files_out_of_range_are_never_opened(three_days: Path) -> None:
    table = three_days / "market_snapshots"
    (table / "2026-01-01.parquet").write_bytes(GARBAGE)
    for stray_parts in (table / "2026-03-01", table / "_parts" / "2026-03-02"):  # the legacy folder too
        stray_parts.mkdir(parents=True)
        (stray_parts / "part-c0-1-2-3.parquet").write_bytes(GARBAGE)
    (table / "notes.txt").write_text("ignored: not a day file")
    storage = ParquetStorage(three_days)
    assert len(storage.read_parquets("market", D1, D3)) == 30
    assert len(storage.read_parquets("market", "2026-02-01", "2026-02-28")) == 30
    assert storage.damage.files == {}
    # the same garbage inside the range is opened (and skipped as damaged), so the test above proves pruning
    assert len(storage.read_parquets("market", start_date=dt.date(2025, 12, 31), end_date=D1)) == 10
    assert str(table / "2026-01-01.parquet") in storage.damage.files


def test_temp_files_are_never_data(three_days: Path) -> None:
    (three_days / "market_snapshots" / ".2026-02-11.parquet.abcd1234.tmp").write_bytes(GARBAGE)
    for part_dir in (three_days / "market_snapshots" / D3.isoformat(),
                     three_days / "market_snapshots" / "_parts" / D3.isoformat()):
        part_dir.mkdir(parents=True, exist_ok=True)
        (part_dir / ".part-c0-1-2-3.parquet.abcd1234.tmp").write_bytes(GARBAGE)
    assert len(ParquetStorage(three_days).read_parquets("market")) == 30


def test_unknown_kind_names_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown kind 'markets'.*market, orderbook, deltas"):
        ParquetStorage(tmp_path).read_parquets("markets")
    with pytest.raises(ValueError, match="after end_date"):
        ParquetStorage(tmp_path).read_parquets("market", D2, D1)
    with pytest.raises(TypeError, match="start_date"):
        ParquetStorage(tmp_path).read_parquets("market", 20260211)


def test_every_kind_reads_from_an_empty_folder(tmp_path: Path) -> None:
    storage = ParquetStorage(tmp_path / "nothing-here")
    for kind, dataset in READ_KINDS.items():
        df = storage.read_parquets(kind)
        assert df.empty, kind
        assert list(df.columns) == dataset.schema.names
        if pa.types.is_timestamp(dataset.schema.field(dataset.time_column).type):
            assert isinstance(df[dataset.time_column].dtype, pd.DatetimeTZDtype), kind


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_weather_prunes_by_climate_date_in_the_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "weather" / "metar"
    for day, temp in ((D1, 38.0), (D2, 41.0)):
        # a climate day in Chicago runs 06:00Z -> 06:00Z: rows past midnight UTC still belong to it
        late = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(5, 53), dt.UTC)
        _write(folder / f"{day}.parquet", pa.table({"station": ["KMDW"], "observed_at": [late], "temp_f": [temp]}))
    (folder / "2025-06-01.parquet").write_bytes(GARBAGE)
    storage = ParquetStorage(tmp_path)
    df = storage.read_parquets("metar", D2, D3)
    assert list(df["temp_f"]) == [41.0]
    assert str(df["observed_at"].dt.tz) == "UTC"
    assert list(storage.read_parquets("metar", D1, D2)["temp_f"]) == [38.0, 41.0]


def test_per_event_tables_filter_on_their_timestamp_column(tmp_path: Path) -> None:
    def candles(event: str, days: list[dt.date]) -> pa.Table:
        stamps = [dt.datetime.combine(d, dt.time(23, 59), dt.UTC) for d in days]
        return pa.table({"timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                         "event_ticker": [event] * len(days), "close_price": [30.0 + i for i in range(len(days))]})

    _write(tmp_path / "historical" / "candlesticks" / "KXHIGHCHI-26FEB11.parquet", candles("KXHIGHCHI-26FEB11", [D1, D2]))
    _write(tmp_path / "historical" / "candlesticks" / "KXHIGHNY-26FEB12.parquet", candles("KXHIGHNY-26FEB12", [D2, D3]))
    storage = ParquetStorage(tmp_path)
    assert len(storage.read_parquets("candlesticks")) == 4
    df = storage.read_parquets("candlesticks", D2, D2)
    assert sorted(df["event_ticker"]) == ["KXHIGHCHI-26FEB11", "KXHIGHNY-26FEB12"]
    assert (df["timestamp"].dt.date == D2).all()
    assert len(storage.read_parquets("candlesticks", start_date=D3)) == 1
    assert storage.read_parquets("trades").empty


def test_every_live_table_by_name_and_duckdb_over_the_listed_files(three_days: Path) -> None:
    storage = ParquetStorage(three_days)
    for table in TABLES:
        assert len(storage.read_parquets(table)) == (30 if table == "market_snapshots" else 0)
    files = storage.files("market", D2, D3)
    assert [f.name for f in files][0] == "2026-02-12.parquet" and len(files) == 2
    sql = f"select count(*) from read_parquet({[str(f) for f in files]})"
    count = duckdb.connect().execute(sql).fetchone()[0]
    assert count == 20
