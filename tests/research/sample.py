"""A small data folder built from fixed rows through the real writers (``LiveStore``, parquet).

Two UTC days of one connection's tape for two markets, with a sequence gap and the resync snapshot
that repairs it, a sub-penny level, live trades, a backfilled trades file that shares one trade
with the live ones, and market snapshots. Day one is compacted into its day file; day two stays as
parts, as while collecting. The expected books are written out below, by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.catalog import TRADES
from kalshi_collector.storage.fs import open_data_dir
from kalshi_collector.storage.schemas import HISTORICAL_TRADES

D1, D2 = dt.date(2026, 2, 11), dt.date(2026, 2, 12)
EVENT = "KXHIGHCHI-26FEB12"
A, B = f"{EVENT}-B34.5", f"{EVENT}-B36.5"
CONN, SID = 1_770_850_000_000, 1


def at(day: dt.date, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm, ss), dt.UTC)


def us(t: dt.datetime) -> int:
    return int(t.timestamp() * 1_000_000)


T_SNAP = at(D1, 23, 50)      # first snapshots of A and B
T_D1 = at(D1, 23, 55)        # A yes 30 +2.5
T_D2a = at(D2, 0, 5)         # A no 65 -7 (level gone)
T_D2b = at(D2, 0, 10)        # A yes 31 +1
T_GAP = at(D2, 0, 12)        # gap on the whole subscription: A not trusted
T_D2c = at(D2, 0, 12, 30)    # A yes 31 +1, applied but not trusted
T_RESNAP = at(D2, 0, 13)     # resync snapshot of A: trusted again

# A's book (cents -> contracts) after each change
BOOK_AT_SNAP = {"yes": {30: 10, 29: 5}, "no": {65: 7, 60: 3}}
BOOK_AT_D1 = {"yes": {30: 12.5, 29: 5}, "no": {65: 7, 60: 3}}
BOOK_AT_D2a = {"yes": {30: 12.5, 29: 5}, "no": {60: 3}}
BOOK_AT_D2b = {"yes": {31: 1, 30: 12.5, 29: 5}, "no": {60: 3}}
BOOK_AT_D2c = {"yes": {31: 2, 30: 12.5, 29: 5}, "no": {60: 3}}
BOOK_AT_RESNAP = {"yes": {31: 2, 30: 12.5}, "no": {60: 3, 55.5: 4}}


def _snapshot(t: dt.datetime, seq: int, ticker: str, book: dict) -> list[tuple]:
    rows = [(us(t), None, SID, seq, ticker, "snapshot", side, float(p), float(q), CONN)
            for side in ("yes", "no") for p, q in book[side].items()]
    return rows or [(us(t), None, SID, seq, ticker, "snapshot", None, None, None, CONN)]


def _delta(t: dt.datetime, seq: int, side: str, price: float, change: float) -> tuple:
    return (us(t), us(t) - 40_000, SID, seq, A, "delta", side, float(price), float(change), CONN)


TAPE = [
    *_snapshot(T_SNAP, 1, A, BOOK_AT_SNAP),
    *_snapshot(T_SNAP, 2, B, {"yes": {40: 1.5}, "no": {}}),
    _delta(T_D1, 3, "yes", 30, 2.5),
    _delta(T_D2a, 4, "no", 65, -7),
    _delta(T_D2b, 5, "yes", 31, 1),
    _delta(T_D2c, 8, "yes", 31, 1),
    *_snapshot(T_RESNAP, 9, A, BOOK_AT_RESNAP),
]
EVENTS = [
    (us(T_GAP), None, SID, 6, 8, "gap", "orderbook_delta seq 6 expected, 8 received", None),
    (us(T_RESNAP), A, SID, None, None, "recovered", "snapshot applied", None),
]
# trade t-2 was received live and fetched again by the backfill; t-0 only backfilled; t-1 only live
LIVE_TRADES = [
    (us(at(D2, 0, 6)), us(at(D2, 0, 6)) - 30_000, "t-1", A, 30.0, 70.0, 2.0, "yes", "ask", False, 2, 1, 1),
    (us(at(D2, 0, 11)), us(at(D2, 0, 11)) - 30_000, "t-2", A, 31.0, 69.0, 1.5, "no", "bid", False, 2, 2, 1),
]
BACKFILLED_TRADES = [
    {"timestamp": at(D1, 23, 40), "event_ticker": EVENT, "market_ticker": B, "trade_id": "t-0", "price": 40.0,
     "count": 3.0, "taker_side": "yes", "no_price": 60.0, "taker_book_side": "ask", "is_block_trade": False},
    {"timestamp": at(D2, 0, 11) - dt.timedelta(microseconds=30_000), "event_ticker": EVENT, "market_ticker": A,
     "trade_id": "t-2", "price": 31.0, "count": 1.5, "taker_side": "no", "no_price": 69.0,
     "taker_book_side": "bid", "is_block_trade": False},
]
MARKET_SNAPSHOTS = [
    (us(T_SNAP), EVENT, A, "34° to 35°", 30.0, 35.0, None, 0.0, 0.0, "periodic", 10.0, 7.0, True),
    (us(T_SNAP), EVENT, B, "36° to 37°", 40.0, None, None, 0.0, 0.0, "periodic", 1.5, None, True),
    (us(T_RESNAP), EVENT, A, "34° to 35°", 31.0, 40.0, 31.0, 3.5, 3.5, "periodic", 2.0, 3.0, True),
]


def build(data_dir: Path | str, journal_dir: Path | None = None) -> Path | str:
    """Write the sample into ``data_dir`` (a folder, created, or an ``s3://`` URL: then give a
    local ``journal_dir``); day one compacted, day two as parts."""
    with LiveStore(data_dir, journal_sync_interval=None, journal_dir=journal_dir) as store:
        store.extend("orderbook_deltas", TAPE)
        store.extend("book_events", EVENTS)
        store.extend("trades_live", LIVE_TRADES)
        store.extend("market_snapshots", MARKET_SNAPSHOTS)
        store.flush()
        store.compact(D2)
    table = pa.Table.from_pylist(BACKFILLED_TRADES, schema=HISTORICAL_TRADES)
    fs, root = open_data_dir(data_dir)
    fs.write_parquet(TRADES.layout.event_file(root, EVENT), table)
    return data_dir
