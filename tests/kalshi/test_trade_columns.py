"""The columnar trade decoder reads a page exactly as the Trade records do (same stored table)."""

from __future__ import annotations

import json

import msgspec
import pytest

from kalshi_collector.backfill.store import trades_table, trades_table_from_columns
from kalshi_collector.kalshi import models as m
from kalshi_collector.kalshi import trade_columns as tc
from kalshi_collector.kalshi.numbers import BadNumber

PAGE = {
    "trades": [
        {"trade_id": "t1", "ticker": "E-M1", "count_fp": "12.34", "yes_price_dollars": "0.2900",
         "no_price_dollars": "0.7100", "created_time": "2026-02-11T18:29:41.512Z", "taker_outcome_side": "yes",
         "taker_side": "yes", "taker_book_side": "bid", "is_block_trade": False},
        {"trade_id": "t2", "ticker": "E-M1", "count_fp": "1.00", "yes_price_dollars": "0.0150",
         "created_time": "2026-02-11T18:29:41Z", "taker_side": "no", "is_block_trade": True},
        {"trade_id": "t3", "ticker": "E-M2", "count_fp": "0.01", "yes_price_dollars": "0.99",
         "created_time": "2026-02-11T18:29:41.123456Z", "extra_field": 1},
    ],
    "cursor": "next",
}


def test_columns_equal_the_record_path() -> None:
    body = json.dumps(PAGE).encode()
    records = [m.Trade._from_wire(t) for t in msgspec.json.decode(body, type=m._TradesResp).trades]
    cols = tc.columns(msgspec.json.decode(body, type=tc.TradesPage))
    assert cols.cursor == "next" and cols.num_rows == 3
    assert trades_table_from_columns("E", cols).equals(trades_table("E", records))
    assert cols.no_price.to_pylist() == [71.0, 98.5, 1.0]
    assert cols.taker_side.to_pylist() == ["yes", "no", ""]


def test_an_unreadable_price_is_refused_like_the_record_path() -> None:
    bad = {"trades": [{**PAGE["trades"][0], "yes_price_dollars": "abc"}]}
    with pytest.raises(BadNumber):
        tc.columns(msgspec.json.decode(json.dumps(bad).encode(), type=tc.TradesPage))


def test_one_ticker_page_and_absent_no_prices_equal_the_record_path() -> None:
    """The repeated-value string column and Arrow's ``100 - yes`` give the very table of the records."""
    one = {"trades": [{**t, "ticker": "E-M1", "taker_outcome_side": "no"} for t in PAGE["trades"]], "cursor": ""}
    body = json.dumps(one).encode()
    records = [m.Trade._from_wire(t) for t in msgspec.json.decode(body, type=m._TradesResp).trades]
    cols = tc.columns(msgspec.json.decode(body, type=tc.TradesPage))
    assert trades_table_from_columns("E", cols).equals(trades_table("E", records))
    assert cols.ticker.to_pylist() == ["E-M1"] * 3 and cols.no_price.to_pylist() == [71.0, 98.5, 1.0]
    empty = tc.columns(msgspec.json.decode(b'{"trades": []}', type=tc.TradesPage))
    assert empty.num_rows == 0 and trades_table_from_columns("E", empty).num_rows == 0
