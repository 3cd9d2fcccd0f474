"""Tape row builders: a decoded message (+ receive time + connection id) -> rows; nothing else read."""

from __future__ import annotations

import json
from pathlib import Path

from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.tape import BookEvent, delta_row, snapshot_rows, trade_row
from kalshi_collector.storage import LiveStore, ParquetStorage
from tests.live.frame_helpers import M, fixture

RECV = 1_770_834_582_000_123


def _msg(frame: dict) -> wm.Message:
    return wm.decode(json.dumps(frame))


def test_a_delta_row(kalshi_fixtures: Path) -> None:
    msg = _msg(fixture(kalshi_fixtures, "ws_orderbook_delta"))
    assert isinstance(msg, wm.OrderbookDelta)
    assert delta_row(RECV, msg, 9) == (RECV, 1_770_834_581_512_000, 1, 3, M, "delta", "no", 67.0, -25.0, 9)


def test_snapshot_rows_one_per_level_and_one_for_an_empty_book(kalshi_fixtures: Path) -> None:
    msg = _msg(fixture(kalshi_fixtures, "ws_orderbook_snapshot_one_side_empty"))
    assert isinstance(msg, wm.OrderbookSnapshot)
    t30 = "KXHIGHCHI-26FEB11-T30"
    assert snapshot_rows(RECV, msg, 9) == [(RECV, None, 1, 2, t30, "snapshot", "yes", 2.0, 900.0, 9),
                                           (RECV, None, 1, 2, t30, "snapshot", "yes", 3.0, 410.0, 9)]
    empty = _msg({"type": "orderbook_snapshot", "sid": 1, "seq": 2, "msg": {"market_ticker": M}})
    assert isinstance(empty, wm.OrderbookSnapshot)
    assert snapshot_rows(RECV, empty, 9) == [(RECV, None, 1, 2, M, "snapshot", None, None, None, 9)]


def test_a_trade_row(kalshi_fixtures: Path) -> None:
    msg = _msg(fixture(kalshi_fixtures, "ws_trade"))
    assert isinstance(msg, wm.Trade)
    assert trade_row(RECV, 9, msg) == (RECV, 1_770_834_581_512_000, "d0f9ea4d-84e3-44e7-b2b7-f3aa0fffacde", M, 33.0,
                                       67.0, 25.0, "yes", "bid", False, 3, 17, 9)


def test_the_rows_are_what_the_store_takes(kalshi_fixtures: Path, tmp_path: Path) -> None:
    snap = _msg(fixture(kalshi_fixtures, "ws_orderbook_snapshot"))
    delta = _msg(fixture(kalshi_fixtures, "ws_orderbook_delta"))
    trade = _msg(fixture(kalshi_fixtures, "ws_trade"))
    assert isinstance(snap, wm.OrderbookSnapshot) and isinstance(delta, wm.OrderbookDelta)
    assert isinstance(trade, wm.Trade)
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        store.extend("orderbook_deltas", [*snapshot_rows(RECV, snap, 9), delta_row(RECV + 1, delta, 9)])
        store.append("trades_live", trade_row(RECV, 9, trade))
        store.append("book_events", BookEvent(RECV, None, 1, 2, 3, "gap", "channel orderbook_delta"))
        store.flush()
    back = ParquetStorage(tmp_path)
    assert len(back.read_parquets("orderbook_deltas")) == 11
    assert back.read_parquets("trades_live")["trade_id"].tolist() == ["d0f9ea4d-84e3-44e7-b2b7-f3aa0fffacde"]
    events = back.read_parquets("book_events")
    assert events[["action", "expected_seq", "received_seq"]].values.tolist() == [["gap", 2, 3]]
