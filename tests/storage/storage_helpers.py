"""Row factories for every live table, and helpers shared by the storage tests (and their subprocesses)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kalshi_collector.storage.journal import list_segments, read_segment

DAY_US = 86_400_000_000
T0 = 1_770_834_581_512_000  # 2026-02-11T18:29:41.512Z
DAY = dt.date(2026, 2, 11)


def us(day: dt.date, seconds: float = 0.0) -> int:
    """Epoch microseconds of ``day`` at midnight UTC plus ``seconds``."""
    return (day - dt.date(1970, 1, 1)).days * DAY_US + int(seconds * 1_000_000)


def market_row(ts: int, i: int = 0) -> tuple:
    return (ts, "KXHIGHCHI-26FEB11", f"KXHIGHCHI-26FEB11-B{i}", "34° to 35°", 29.0, 31.0, None, 1200.0 + i,
            350.5, "periodic", 10.0, 5.25, True)


def orderbook_row(ts: int, i: int = 0) -> tuple:
    return (ts, f"KXHIGHCHI-26FEB11-B{i % 7}", "yes" if i % 2 else "no", float(1 + i % 99), 10.0 + i)


def delta_row(ts: int, i: int = 0) -> tuple:
    return (ts, ts - 1500, 1, i, "KXHIGHCHI-26FEB11-B34.5", "delta", "no", 67.0, -25.0, 1)


def trade_row(ts: int, i: int = 0) -> tuple:
    return (ts, ts - 900, f"trade-{i}", "KXHIGHCHI-26FEB11-B34.5", 33.0, 67.0, 25.0, "yes", "bid", False, 3, i, 1)


def event_row(ts: int, i: int = 0) -> tuple:
    return (ts, None, 1, i, i + 2, "gap", f"missed {i}", None)


def reject_row(ts: int, i: int = 0) -> tuple:
    return (ts, "ws", 1, b'{"type":"trade","sid":3,"seq":%d,"msg":{}}' % i, f"bad trade {i}: msg.trade_id: missing")

def raw_ws_row(ts: int, i: int = 0) -> tuple:
    frame = ('{"type":"orderbook_delta","sid":1,"seq":' + str(i) + ',"msg":{"market_ticker":"KXHIGHCHI-26FEB11-B34.5",'
             '"price_dollars":"0.6700","delta_fp":"-25.00","side":"no"}}')
    return (ts, i, 1, "in", frame.encode())


def raw_rest_row(ts: int, i: int = 0) -> tuple:
    return (ts, i, "discovery", "/events?series_ticker=KXHIGHCHI&status=open", 200, b'{"events":[]}')


ROW_FACTORIES = {
    "market_snapshots": market_row,
    "orderbook_snapshots": orderbook_row,
    "orderbook_deltas": delta_row,
    "trades_live": trade_row,
    "book_events": event_row,
    "rejects": reject_row,
    "raw_ws": raw_ws_row,
    "raw_rest": raw_rest_row,
}

# Which column identifies a row uniquely in the factories above (to check exactly-once).
ID_COLUMN = {
    "market_snapshots": "volume",
    "orderbook_snapshots": "quantity",
    "orderbook_deltas": "seq",
    "trades_live": "trade_id",
    "book_events": "expected_seq",
    "rejects": "error",
    "raw_ws": "n",
    "raw_rest": "n",
}


def journal_rows(journal_dir: Path, collector_id: str = "c0") -> dict[str, list]:
    """Every row in this collector's journal segments, by table."""
    found: dict[str, list] = {}
    for _, path in list_segments(journal_dir, collector_id):
        for table, rows in read_segment(path).batches():
            found.setdefault(table, []).extend(rows)
    return found


def data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet"))
