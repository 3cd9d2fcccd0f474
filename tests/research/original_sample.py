"""Order-book files as the original collector wrote them (its storage.py): baseline + delta rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ORIGINAL_ORDERBOOK = pa.schema([  # the original's storage.py
    ("snapshot_ts", pa.timestamp("us", tz="UTC")), ("market_ticker", pa.string()), ("side", pa.string()),
    ("price_cents", pa.int32()), ("quantity", pa.float64()), ("snapshot_type", pa.string()),
])
DAY = dt.date(2026, 2, 12)
A, B = "KXHIGHCHI-26FEB12-B34.5", "KXHIGHCHI-26FEB12-B36.5"


def at(minute: int, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10, minute), dt.UTC)


def row(minute: int, ticker: str, side: str, price: int, qty: float, kind: str, day: dt.date = DAY) -> dict:
    return {"snapshot_ts": at(minute, day), "market_ticker": ticker, "side": side, "price_cents": price,
            "quantity": qty, "snapshot_type": kind}


def write(folder: Path, day: dt.date, rows: list[dict]) -> None:
    path = folder / "orderbook_snapshots" / f"{day.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(rows), schema=ORIGINAL_ORDERBOOK, preserve_index=False), path)


def build(tmp_path: Path) -> Path:
    """The original's files: a baseline the day before, deltas (one removes a level), a baseline."""
    before = DAY - dt.timedelta(days=1)
    write(tmp_path, before, [
        row(0, A, "yes", 30, 10, "baseline", before), row(0, A, "no", 60, 4, "baseline", before),
        row(0, B, "yes", 12, 1, "baseline", before),
    ])
    write(tmp_path, DAY, [
        row(1, A, "yes", 30, 12, "delta"), row(1, A, "yes", 31, 2, "delta"),   # changed, added
        row(2, A, "no", 60, 0, "delta"),                                         # removed
        row(3, B, "yes", 12, 5, "baseline"), row(3, A, "yes", 33, 1, "baseline"),  # full books again
    ])
    return tmp_path


