"""The columnar trade decoder reads a page exactly as the Trade records do (same stored table)."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import msgspec
import pytest

from kalshi_collector.backfill.store import trades_table, trades_table_from_columns
from kalshi_collector.kalshi import models as m
from kalshi_collector.kalshi import trade_columns as tc
from kalshi_collector.kalshi.numbers import BadNumber, fp_to_contracts

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


def _table(body: bytes) -> object:
    return trades_table_from_columns("E", tc.columns(tc.decode_page(body)))


def test_decode_page_reads_the_documented_page_as_the_strict_decode_does() -> None:
    body = json.dumps(PAGE).encode()
    page = tc.decode_page(body)
    assert page.cursor == "next" and [t.trade_id for t in page.trades] == ["t1", "t2", "t3"]
    strict = tc.columns(msgspec.json.decode(body, type=tc.TradesPage))
    assert trades_table_from_columns("E", tc.columns(page)).equals(trades_table_from_columns("E", strict))


def test_an_undocumented_side_value_costs_nothing() -> None:
    """The fast decode knows yes/no and bid/ask only; another side string is kept as it is."""
    odd = {"trades": [{**PAGE["trades"][0], "taker_book_side": "buy"}, {**PAGE["trades"][1], "taker_side": "YES"},
                      {**PAGE["trades"][2], "taker_outcome_side": ""}], "cursor": ""}
    cols = tc.columns(tc.decode_page(json.dumps(odd).encode()))
    assert cols.taker_book_side.to_pylist() == ["buy", None, None]
    assert cols.taker_side.to_pylist() == ["yes", "YES", ""]
    records = [m.Trade._from_wire(t) for t in msgspec.json.decode(json.dumps(odd).encode(), type=m._TradesResp).trades]
    assert trades_table_from_columns("E", cols).equals(trades_table("E", records))


def test_an_odd_trade_costs_its_field_and_an_unreadable_one_only_itself() -> None:
    trades = [dict(t) for t in PAGE["trades"]]
    trades[0]["yes_price_dollars"] = 0.29  # a number where Kalshi sends text: read as its digits
    trades[1]["taker_book_side"] = ["bid"]  # unreadable, optional: dropped
    del trades[2]["trade_id"]  # an identifier cannot be guessed: the trade is rejected
    rejects: list[tuple[bytes, str]] = []
    with m.rejects_to(lambda raw, why: rejects.append((raw, why))):
        page = tc.decode_page(json.dumps({"trades": trades, "cursor": "c"}).encode())
    assert [t.trade_id for t in page.trades] == ["t1", "t2"] and page.cursor == "c"
    cols = tc.columns(page)
    assert cols.yes_price.to_pylist() == [29.0, 1.5] and cols.taker_book_side.to_pylist() == ["bid", None]
    assert len(rejects) == 1 and b"E-M2" in rejects[0][0] and "trade_id" in rejects[0][1]


def test_a_garbled_body_is_still_a_decode_error() -> None:
    """A cut-off body must stay retryable (BadBody in the client), not become an empty page."""
    body = json.dumps(PAGE).encode()
    with pytest.raises(msgspec.DecodeError):
        tc.decode_page(body[: len(body) // 2])
    with pytest.raises(msgspec.DecodeError):
        tc.decode_page(b'{"trades": 5}')


def test_counts_cast_by_arrow_equal_the_exact_conversion() -> None:
    """Arrow's string -> float64 parse and float(Decimal(s)) both round to nearest: the same floats,
    for plain decimals of every shape seen, and the rest go through fp_to_contracts."""
    rng = random.Random(13)
    plain = [f"{rng.randrange(10**7)}.{rng.randrange(100):02d}" for _ in range(20_000)]
    plain += [f"0.{rng.randrange(10**6):06d}" for _ in range(5_000)]
    plain += ["0.1", "0.29", "2.675", "1.005", "007.50", "12", "9007199254740993", "0.30000000000000004441", "5."]
    got = tc._counts(plain).to_pylist()
    assert got == [float(Decimal(s)) for s in plain] == [fp_to_contracts(s) for s in plain]
    others = ["-1.50", "1e2", " 2.5", "+3", "", "1_000.00", "Infinity", "."]
    expected = []
    for s in others:
        try:
            expected.append(fp_to_contracts(s))
        except BadNumber:
            expected.append("bad")
    for s, want in zip(others, expected, strict=True):
        if want == "bad":
            with pytest.raises(BadNumber):
                tc._counts(["1.00", s])
        else:
            assert tc._counts(["1.00", s]).to_pylist() == [1.0, want]
    with pytest.raises(BadNumber):
        tc._counts(["1.00", "abc"])
