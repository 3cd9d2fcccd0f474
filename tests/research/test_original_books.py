"""Book states of the original collector's data: no tape, baseline + delta ``orderbook_snapshots``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kalshi_collector.research import open_data

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


@pytest.fixture
def original(tmp_path: Path) -> Path:
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


def book(state) -> dict:  # type: ignore[no-untyped-def]
    return {side: {float(p): float(q) for p, q in levels.items()} for side, levels in state.as_dict().items()}


def test_every_snapshot_time_from_the_baseline_a_day_before(original: Path) -> None:
    states = list(open_data(original).books(A, at(0), at(3)))
    assert [s.ts.to_pydatetime() for s in states] == [at(0), at(1), at(2), at(3)]
    assert [book(s) for s in states] == [
        {"yes": {30: 10}, "no": {60: 4}},
        {"yes": {31: 2, 30: 12}, "no": {60: 4}},
        {"yes": {31: 2, 30: 12}, "no": {}},
        {"yes": {33: 1}, "no": {}},
    ]
    assert all(s.valid and s.source == "snapshots" and "original collector" in s.reason for s in states)
    assert states[1].best_bid == Decimal(31) and states[1].best_ask == Decimal(40)


def test_a_market_a_snapshot_time_does_not_name_keeps_its_book(original: Path) -> None:
    state = open_data(original).book_at(B, at(2))
    assert book(state) == {"yes": {12: 1}, "no": {}}
    assert state.snapshot_ts.to_pydatetime() == at(0, DAY - dt.timedelta(days=1))


def test_every_n_and_the_tape_source_refused(original: Path) -> None:
    states = list(open_data(original).books(A, at(0), at(3), every=90))
    assert [book(s)["yes"] for s in states] == [{30: 10}, {31: 2, 30: 12}, {33: 1}]  # 10:00, 10:01:30, 10:03
    only_tape = list(open_data(original).books(A, at(1), source="tape"))
    assert len(only_tape) == 1 and not only_tape[0].valid  # no tape: nothing known
