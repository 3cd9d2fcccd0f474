"""Files written by the original collector (``pred_market_src/collector/storage.py``) read correctly.

The original wrote ``TABLE/YYYY-MM-DD.parquet`` itself (read back, concatenated, rewritten on every
flush) with the Arrow schemas below: prices as int32 cents, counts as int64, and in
``orderbook_snapshots`` a ``snapshot_type`` of ``baseline`` (the whole book) or ``delta`` (changed
levels only; quantity 0 = removed). The files here are written the way it wrote them (a DataFrame
of row dicts through ``pa.Table.from_pandas(..., schema=...)``, then ``pq.write_table``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.storage import TABLES, LiveStore, ParquetStorage, reconstruct_orderbooks
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import LocalFS

# The original's schemas (its storage.py, February 2026).
ORIGINAL_MARKET = pa.schema([
    ("snapshot_ts", pa.timestamp("us", tz="UTC")),
    ("event_ticker", pa.string()),
    ("market_ticker", pa.string()),
    ("subtitle", pa.string()),
    ("yes_bid", pa.int32()),
    ("yes_ask", pa.int32()),
    ("last_price", pa.int32()),
    ("volume", pa.int64()),
    ("open_interest", pa.int64()),
    ("trigger", pa.string()),
])
ORIGINAL_ORDERBOOK = pa.schema([
    ("snapshot_ts", pa.timestamp("us", tz="UTC")),
    ("market_ticker", pa.string()),
    ("side", pa.string()),
    ("price_cents", pa.int32()),
    ("quantity", pa.float64()),
    ("snapshot_type", pa.string()),
])

DAY = dt.date(2026, 2, 12)
A, B = "KXHIGHCHI-26FEB12-B34.5", "KXHIGHCHI-26FEB12-B36.5"


def at(minute: int, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10, minute), dt.UTC)


def write_original(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    """As the original's ``ParquetStorage._write`` did (first flush of a day: no file to append to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(rows), schema=schema, preserve_index=False), path)


def level(minute: int, ticker: str, side: str, price: int, qty: float, kind: str) -> dict:
    return {"snapshot_ts": at(minute), "market_ticker": ticker, "side": side, "price_cents": price,
            "quantity": qty, "snapshot_type": kind}


# Five snapshots as the original wrote them (its collector trims nothing here: max_orderbook_depth 0).
ORIGINAL_ROWS = [
    level(0, A, "yes", 30, 10.0, "baseline"), level(0, A, "yes", 29, 5.0, "baseline"),
    level(0, A, "no", 60, 7.0, "baseline"), level(0, B, "yes", 10, 1.0, "baseline"),
    # A: YES 30 gone, YES 31 new; B: a NO level appears
    level(1, A, "yes", 30, 0.0, "delta"), level(1, A, "yes", 31, 4.0, "delta"), level(1, B, "no", 85, 2.0, "delta"),
    # A: NO 60 changes size
    level(2, A, "no", 60, 9.0, "delta"),
    # a new baseline with no rows for B (the original wrote none for an empty book): the original
    # kept B's previous book in that case, and so do we
    level(3, A, "yes", 31, 4.0, "baseline"), level(3, A, "yes", 29, 5.0, "baseline"),
    level(3, A, "no", 60, 9.0, "baseline"), level(3, A, "no", 61, 1.0, "baseline"),
    # B: YES 10 gone
    level(4, B, "yes", 10, 0.0, "delta"),
]

# The full book of every market after each snapshot: {minute: {(ticker, side): {price: qty}}}.
EXPECTED = {
    0: {(A, "yes"): {29: 5, 30: 10}, (A, "no"): {60: 7}, (B, "yes"): {10: 1}},
    1: {(A, "yes"): {29: 5, 31: 4}, (A, "no"): {60: 7}, (B, "yes"): {10: 1}, (B, "no"): {85: 2}},
    2: {(A, "yes"): {29: 5, 31: 4}, (A, "no"): {60: 9}, (B, "yes"): {10: 1}, (B, "no"): {85: 2}},
    3: {(A, "yes"): {29: 5, 31: 4}, (A, "no"): {60: 9, 61: 1}, (B, "yes"): {10: 1}, (B, "no"): {85: 2}},
    4: {(A, "yes"): {29: 5, 31: 4}, (A, "no"): {60: 9, 61: 1}, (B, "no"): {85: 2}},
}


def books(df: pd.DataFrame) -> dict[int, dict[tuple[str, str], dict[float, float]]]:
    out: dict[int, dict[tuple[str, str], dict[float, float]]] = {}
    for row in df.itertuples():
        out.setdefault(row.snapshot_ts.minute, {}).setdefault((row.market_ticker, row.side), {})[
            row.price_cents] = row.quantity
    return out


def original_folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_original(data / "orderbook_snapshots" / f"{DAY}.parquet", ORIGINAL_ROWS, ORIGINAL_ORDERBOOK)
    return data


def test_reading_an_original_orderbook_file_keeps_snapshot_type(tmp_path: Path) -> None:
    df = ParquetStorage(original_folder(tmp_path)).read_parquets("orderbook")
    assert list(df.columns) == [*TABLES["orderbook_snapshots"].schema.names, "snapshot_type"]
    assert list(df["snapshot_type"]) == [r["snapshot_type"] for r in ORIGINAL_ROWS]
    assert df["price_cents"].dtype == "float64" and list(df["price_cents"][:2]) == [30.0, 29.0]
    assert str(df["snapshot_ts"].dtype) == "datetime64[us, UTC]"


def test_reconstructed_books_are_the_full_books_at_every_snapshot(tmp_path: Path) -> None:
    storage = ParquetStorage(original_folder(tmp_path))
    rebuilt = reconstruct_orderbooks(storage.read_parquets("orderbook"))
    assert books(rebuilt) == EXPECTED
    assert set(rebuilt["snapshot_type"]) == {"reconstructed"}
    assert list(rebuilt.columns) == ["snapshot_ts", "market_ticker", "side", "price_cents", "quantity", "snapshot_type"]
    keys = list(zip(rebuilt["snapshot_ts"], rebuilt["market_ticker"], rebuilt["side"], rebuilt["price_cents"],
                    strict=True))
    assert keys == sorted(keys)
    # the original's method name, on the storage object, with its date range
    assert books(storage.reconstruct_orderbooks(DAY, DAY)) == EXPECTED
    assert storage.reconstruct_orderbooks("2026-02-13").empty


def test_files_from_before_delta_compression_are_already_full_books(tmp_path: Path) -> None:
    plain = ORIGINAL_ORDERBOOK.remove(ORIGINAL_ORDERBOOK.get_field_index("snapshot_type"))
    rows = [{k: v for k, v in r.items() if k != "snapshot_type"} for r in ORIGINAL_ROWS[:4]]
    data = tmp_path / "data"
    write_original(data / "orderbook_snapshots" / f"{DAY}.parquet", rows, plain)
    df = ParquetStorage(data).read_parquets("orderbook")
    assert "snapshot_type" not in df.columns  # no file has it: the table reads as ours
    assert reconstruct_orderbooks(df) is df


def test_original_market_snapshots_read_alongside_ours(tmp_path: Path) -> None:
    data = tmp_path / "data"
    def original(day: dt.date) -> list[dict]:
        return [{"snapshot_ts": at(m, day), "event_ticker": "KXHIGHCHI-26FEB12", "market_ticker": A,
                 "subtitle": "34° to 35°", "yes_bid": 29 + m, "yes_ask": 31 + m, "last_price": 30,
                 "volume": 1000 + m, "open_interest": 500, "trigger": "periodic"} for m in range(3)]

    for day in (DAY - dt.timedelta(days=1), DAY):
        write_original(data / "market_snapshots" / f"{day}.parquet", original(day), ORIGINAL_MARKET)
    ours = (int(at(30).timestamp() * 1e6), "KXHIGHCHI-26FEB12", A, "34° to 35°", 33.5, 35.0, None, 1100.0,
            510.0, "periodic", 12.0, 3.0, True)
    with LiveStore(data, journal_sync_interval=None) as store:  # the new collector, the same day
        store.append("market_snapshots", ours)
    df = ParquetStorage(data).read_parquets("market")
    assert list(df.columns) == TABLES["market_snapshots"].schema.names
    assert len(df) == 7 and df["yes_bid"].dtype == "float64" and df["volume"].dtype == "float64"
    today = df[df["snapshot_ts"].dt.date == DAY]
    assert list(today["yes_bid"]) == [29.0, 30.0, 31.0, 33.5]  # original file and our part, in time order
    assert today["yes_bid_size"].isna().sum() == 3 and today["book_valid"].isna().sum() == 3
    assert list(ParquetStorage(data).read_parquets("market", end_date="2026-02-11")["volume"]) == [1000.0, 1001.0, 1002.0]


def test_compacting_a_day_that_holds_an_original_file_keeps_its_columns(tmp_path: Path) -> None:
    data = original_folder(tmp_path)
    extra = data / "orderbook_snapshots" / f"{DAY}.parquet"
    table = pq.read_table(extra)  # a column of a user's own, beside snapshot_type
    pq.write_table(table.append_column("note", pa.array(["x"] * table.num_rows)), extra)
    ts = int(at(5).timestamp() * 1e6)
    with LiveStore(data, journal_sync_interval=None) as store:  # switched over at 10:05: a full book
        store.extend("orderbook_snapshots", [(ts, A, "yes", 32.0, 3.0), (ts, A, "no", 60.0, 9.0)])
    compact_day(LocalFS(), data, TABLES["orderbook_snapshots"], DAY)
    written = pq.read_table(extra)
    assert written.schema.names == [*TABLES["orderbook_snapshots"].schema.names, "snapshot_type", "note"]
    assert written.num_rows == len(ORIGINAL_ROWS) + 2
    assert written.column("snapshot_type").null_count == 2 and written.column("note").null_count == 2
    assert list(ParquetStorage(data).files("orderbook")) == [extra]
    rebuilt = books(ParquetStorage(data).reconstruct_orderbooks())
    assert {m: rebuilt[m] for m in EXPECTED} == EXPECTED
    # our full book of A replaces A's; B, not in our snapshot, keeps its last book (as after a baseline)
    assert rebuilt[5] == {(A, "yes"): {32.0: 3.0}, (A, "no"): {60.0: 9.0}, (B, "no"): {85: 2}}


ORIGINAL_CANDLES = pa.schema([
    ("timestamp", pa.timestamp("us", tz="UTC")), ("event_ticker", pa.string()), ("market_ticker", pa.string()),
    ("open_price", pa.float64()), ("close_price", pa.float64()), ("high_price", pa.float64()),
    ("low_price", pa.float64()), ("volume", pa.int64()),
])
ORIGINAL_TRADES = pa.schema([
    ("timestamp", pa.timestamp("us", tz="UTC")), ("event_ticker", pa.string()), ("market_ticker", pa.string()),
    ("trade_id", pa.string()), ("price", pa.int32()), ("count", pa.int64()), ("taker_side", pa.string()),
])


def test_original_backfill_files_read_as_ours(tmp_path: Path) -> None:
    data = tmp_path / "data"
    event = "KXHIGHCHI-26FEB12"
    write_original(data / "historical" / "candlesticks" / f"{event}.parquet", [
        {"timestamp": at(0), "event_ticker": event, "market_ticker": A, "open_price": 30.0, "close_price": 32.0,
         "high_price": 33.0, "low_price": 29.0, "volume": 120}], ORIGINAL_CANDLES)
    write_original(data / "historical" / "trades" / f"{event}.parquet", [
        {"timestamp": at(1), "event_ticker": event, "market_ticker": A, "trade_id": "t-1", "price": 31,
         "count": 5, "taker_side": "yes"}], ORIGINAL_TRADES)
    storage = ParquetStorage(data)
    candles = storage.read_parquets("candlesticks", DAY, DAY)
    assert (candles["close_price"].tolist(), candles["volume"].tolist()) == ([32.0], [120.0])
    assert candles["period_minutes"].isna().all()  # the original did not store it
    trades = storage.read_parquets("trades")
    assert trades[["price", "count", "taker_side"]].values.tolist() == [[31.0, 5.0, "yes"]]
    assert trades["no_price"].isna().all()
