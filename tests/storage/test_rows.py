"""Rows -> Arrow: the binary columns keep every byte, however they arrive (``storage/rows.py``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from storage_helpers import DAY, us

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.rows import _one_day, _split_each, rows_to_table, split_by_day

RAW_REST = TABLES["raw_rest"]


def _row(i: int, body: object) -> tuple:
    return (us(DAY, i), i, "kalshi", "/events?status=open", 200, body)


def test_big_and_small_rest_bodies_keep_every_byte(tmp_path: Path) -> None:
    """Two-megabyte listings (wrapped, not copied), small bodies joined, a body that is not UTF-8,
    and the order of the rows, all as they came."""
    big = ('{"events": [' + ",".join(['{"yes_sub_title": "34\u00b0 to 35\u00b0"}'] * 60_000) + "]}").encode()
    bodies = [big, b"{}", b'{"error": "x"}', big + b" ", b"\xff\xfe not utf-8", b"", big[:70_000]]
    table, rejected = rows_to_table(RAW_REST, [_row(i, b) for i, b in enumerate(bodies)])
    assert rejected == []
    assert table.column("body").to_pylist() == bodies
    pq.write_table(table, tmp_path / "part.parquet")
    assert pq.read_table(tmp_path / "part.parquet").column("body").to_pylist() == bodies


def test_text_bytes_and_nulls_in_one_column_are_all_kept() -> None:
    """A column mixing ``str`` frames, ``bytes`` and nulls goes the general way: nothing is lost."""
    values = ["text \u00b0", b"bytes", None, "more"]
    table, rejected = rows_to_table(RAW_REST, [_row(i, v) for i, v in enumerate(values)])
    assert rejected == []
    assert table.column("body").to_pylist() == [b"text \xc2\xb0", b"bytes", None, b"more"]


def test_rest_bodies_go_through_the_store_and_read_back(tmp_path: Path) -> None:
    big = b'{"markets": [' + b",".join([b'{"ticker": "KXHIGHCHI-26FEB11-B34.5"}'] * 50_000) + b"]}"
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        store.extend("raw_rest", [_row(i, big + str(i).encode()) for i in range(5)])
        store.flush()
    stored = ParquetStorage(tmp_path).read_parquets("raw_rest")
    assert sorted(stored["body"]) == sorted(big + str(i).encode() for i in range(5))



@pytest.mark.parametrize("odd", [None, "next day", "day before", "short row", "float time", "bool time",
                                 "negative", "not a row"])
def test_split_by_day_in_c_agrees_with_the_row_by_row_rule(odd: str | None) -> None:
    """A flush's rows are checked in C when every one is well-formed and of one day; any other
    batch (an odd row anywhere, past the first chunk here) goes row by row, with the same result."""
    spec = TABLES["trades_live"]
    good = [(us(DAY, i), *([None] * (spec.width - 1))) for i in range(10_000)]
    extra = {None: [], "next day": [(us(DAY + dt.timedelta(days=1)), *good[0][1:])], "day before": [(us(DAY - dt.timedelta(days=1)), *good[0][1:])],
             "short row": [good[0][:2]], "float time": [(float(good[0][0]), *good[0][1:])],
             "bool time": [(True, *good[0][1:])], "negative": [(-1, *good[0][1:])], "not a row": [7]}[odd]
    rows = good + extra
    assert (_one_day(spec.width, rows) is not None) == (odd is None)
    by_day, bad = split_by_day(spec, rows)
    assert (by_day, bad) == _split_each(spec, rows)
    assert sum(map(len, by_day.values())) == len(good) + (odd in ("next day", "day before"))
    assert len(bad) == (odd not in (None, "next day", "day before"))
