"""The frame handler driven without a network or an event loop: frames in, rows and commands out.

First the reference fixtures, frame by frame (their snapshot is seq 1 and their delta seq 3: a
gap, as it happens); then frames recorded from a real collector against the simulator, replayed
through a fresh handler, must give back the very tape that collector wrote.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import get_args

import pandas as pd
import pytest

from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.ws import WsConnection
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.connection import ConnectionState
from kalshi_collector.live.resync import AwaitingBook
from kalshi_collector.live.sequence import SeqStatus
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from tests.live.frame_helpers import Driven, M, driven, fixture
from tests.live.simrun import collector_config, read_tables

CONN = 1_770_834_000_000
T0 = 1_770_834_581.6
US = 1_000_000


def _us(t: float) -> int:
    return int(t * US)


def _subscribed(d, fixtures: Path) -> ConnectionState:
    """A fresh connection that asked for the market channels (id 1) and lifecycle (id 2)."""
    conn = d.handler.connection_opened(CONN)
    conn.subscribe_markets([M])
    conn.subscribe_lifecycle()
    d.feed(T0 - 1, fixture(fixtures, "ws_resp_subscribed"))  # orderbook_delta = sid 1
    d.feed(T0 - 1, {"id": 1, "type": "subscribed", "msg": {"channel": "trade", "sid": 3}})
    return conn


def test_fixture_frames_become_rows_and_a_gap_becomes_a_snapshot_request(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    d.feed(T0, fixture(kalshi_fixtures, "ws_orderbook_snapshot"))
    deltas = d.rows.tables["orderbook_deltas"]
    assert deltas == [(_us(T0), None, 1, 1, M, "snapshot", side, p, q, CONN) for side, p, q in (
        ("yes", 25.0, 1200.0), ("yes", 28.0, 350.0), ("yes", 29.0, 500.0), ("yes", 30.0, 220.0), ("yes", 31.0, 145.0),
        ("no", 60.0, 800.0), ("no", 64.0, 300.0), ("no", 65.0, 410.0), ("no", 66.0, 95.0), ("no", 67.0, 60.0))]
    assert d.books.is_valid(M)

    t1 = T0 + 0.5
    d.feed(t1, fixture(kalshi_fixtures, "ws_orderbook_delta"))  # seq 3: seq 2 never came
    assert deltas[-1] == (_us(t1), 1_770_834_581_512_000, 1, 3, M, "delta", "no", 67.0, -25.0, CONN)
    assert d.rows.tables["book_events"] == [
        (_us(t1), None, 1, 2, 3, "gap", "channel orderbook_delta", None),
        (_us(t1), None, 1, None, None, "resync_requested", "1 markets", None),
    ]
    expected = fixture(kalshi_fixtures, "ws_cmd_update_subscription_get_snapshot", id=3)  # ids 1, 2 = subscribes
    assert d.commands == [expected]
    assert not d.books.is_valid(M), "a gap spoils the book until a snapshot"
    assert d.resync.awaiting == {M: AwaitingBook(_us(t1), 1, 2, 3)}

    t2 = T0 + 0.8
    d.feed(t2, fixture(kalshi_fixtures, "ws_orderbook_snapshot", seq=4, id=3))  # the answer
    assert d.rows.tables["book_events"][-1] == (_us(t1), M, 1, 2, 3, "recovered", "resynced by snapshot seq 4", _us(t2))
    assert d.books.is_valid(M) and not d.resync.awaiting

    d.feed(T0 + 1, fixture(kalshi_fixtures, "ws_orderbook_delta_new_level", seq=5))
    book = d.books.get(M)
    assert book is not None and book.levels("no")[0] == (68.0, 40.0)

    d.feed(T0 + 2, fixture(kalshi_fixtures, "ws_trade"))
    assert d.rows.tables["trades_live"] == [
        (_us(T0 + 2), 1_770_834_581_512_000, "d0f9ea4d-84e3-44e7-b2b7-f3aa0fffacde", M, 33.0, 67.0, 25.0,
         "yes", "bid", False, 3, 17, d.handler.conn.number)]
    c = d.counters
    assert (c.messages, c.seq_breaks[SeqStatus.GAP], c.resync_requests, c.recovered) == (7, 1, 1, 1)


def test_every_message_class_has_a_handler() -> None:
    assert set(driven().handler.dispatch) == set(get_args(wm.Message))


def test_control_replies_and_unknown_types_consume_seq_and_bad_frames_are_counted(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    d.feed(T0, fixture(kalshi_fixtures, "ws_orderbook_snapshot", seq=3))
    d.feed(T0, fixture(kalshi_fixtures, "ws_resp_ok_update_subscription", seq=4))
    d.feed(T0, {"type": "event_fee_update", "sid": 1, "seq": 5, "msg": {}})
    d.feed(T0, fixture(kalshi_fixtures, "ws_orderbook_delta_new_level", seq=6))
    d.feed(T0, "{not json")
    c = d.counters
    assert sum(c.seq_breaks.values()) == 0 and d.books.is_valid(M)
    assert (c.unknown_type, c.malformed, c.messages) == (1, 1, 6)
    assert c.unknown_types == {"event_fee_update": 1}
    # the ok reply's market list is what the subscription now covers (a later gap spoils all three)
    assert d.handler.conn.subs.markets(1) == {M, "KXHIGHCHI-26FEB11-T30", "KXHIGHCHI-26FEB11-B36.5"}


def test_a_failing_callable_costs_the_message_not_the_handler(kalshi_fixtures: Path) -> None:
    def broken(recv_ts: float, body: wm.TickerBody) -> None:
        raise ValueError("bad ticker number")

    d = driven(on_ticker=broken)
    d.feed(T0, fixture(kalshi_fixtures, "ws_ticker"))
    assert (d.counters.handler_errors, d.counters.messages) == (1, 1)


def test_a_terminal_subscription_error_asks_for_a_new_connection(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    d.feed(T0, fixture(kalshi_fixtures, "ws_resp_error"))  # code 8, no sid: not terminal
    assert d.terminal == [] and d.counters.ws_errors == 1
    d.feed(T0, {"type": "error", "sid": 1, "seq": 1, "msg": {"code": 25, "msg": "subscription buffer overflow"}})
    assert d.terminal == [True] and d.counters.ws_errors == 2


def test_a_lost_connection_invalidates_every_book_and_the_next_one_starts_afresh(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    d.feed(T0, fixture(kalshi_fixtures, "ws_orderbook_snapshot"))
    d.clock.now = T0 + 1
    d.handler.connection_closed("lost")
    assert d.rows.tables["book_events"][-1] == (_us(T0 + 1), None, None, None, None, "disconnect",
                                                f"connection {CONN} lost; 1 books invalidated", None)
    assert not d.books.is_valid(M) and d.resync.awaiting == {M: AwaitingBook(_us(T0 + 1), 0)}
    assert d.handler.conn.number == 0 and not d.handler.conn.subs.sid_by_channel

    d.handler.connection_opened(CONN + 5).subscribe_markets([M])
    d.feed(T0 + 2, fixture(kalshi_fixtures, "ws_resp_subscribed"))
    d.feed(T0 + 2, fixture(kalshi_fixtures, "ws_orderbook_snapshot"))  # seq 1 again: a new numbering
    assert sum(d.counters.seq_breaks.values()) == 0
    assert d.rows.tables["book_events"][-1][5:] == ("recovered", "resynced by snapshot seq 1", _us(T0 + 2))
    assert d.rows.tables["book_events"][-1][2] == 1, "the recovery names the sid that resynced it"
    assert d.rows.tables["orderbook_deltas"][-1][-1] == CONN + 5


# ==================================================================================== recorded frames


def _as_rows(df: pd.DataFrame, times: tuple[str, ...]) -> Counter:
    """Stored rows back as the tuples the handler built (times as int microseconds, nulls as None)."""
    df = df.copy()
    for col in times:
        df[col] = [None if pd.isna(t) else (t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
                   for t in df[col]]
    df = df.astype(object).where(df.notna(), None)
    return Counter(map(tuple, df.itertuples(index=False)))


def _first_per_trade_id(rows: list[tuple]) -> list[tuple]:
    """The store's rule for ``trades_live`` (first row per ``trade_id``, column 2; null ids kept)."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row[2] is not None:
            if row[2] in seen:
                continue
            seen.add(row[2])
        out.append(row)
    return out


@pytest.mark.slow
async def test_recorded_frames_replay_into_the_tape_the_collector_wrote(tmp_path: Path) -> None:
    recorded: list[tuple[float, str | bytes]] = []
    opened: list[tuple[int, list[str]]] = []
    sent: list[dict] = []
    async with SimExchange(SimConfig(seed=3, series=("KXHIGHCHI",), message_rate=300, state_dir=tmp_path / "sim",
                                     faults=FaultPlan(gap_every=120, duplicate_every=300))) as sim:
        cfg = collector_config(sim, tmp_path / "data", rest_check_interval_seconds=0)
        collector = Collector(cfg, options=CollectorOptions(stats_interval=3600, resync_retry_seconds=3600))
        stream = collector.stream
        live_frame, live_connected, live_send_soon = stream.on_frame, stream.on_connected, stream.send_soon

        def record(recv_ts: float, frame: str | bytes) -> None:
            recorded.append((recv_ts, frame))
            live_frame(recv_ts, frame)

        async def connected(ws: WsConnection) -> None:
            opened.append((ws.number, sorted(collector.markets)))
            await live_connected(ws)

        def send_soon(payload: bytes) -> bool:
            sent.append(json.loads(payload))
            return live_send_soon(payload)

        stream.on_frame, stream.on_connected, stream.send_soon = record, connected, send_soon  # type: ignore[method-assign]
        await collector.run(duration=4)
    assert len(opened) == 1 and len(recorded) > 500
    live = read_tables(tmp_path / "data")

    def replay() -> Driven:
        d = driven(retry_seconds=3600)
        number, markets = opened[0]
        conn = d.handler.connection_opened(number)
        conn.subscribe_markets(markets)
        conn.subscribe_lifecycle()
        for recv_ts, frame in recorded:
            d.feed(recv_ts, frame)
        return d

    d = await asyncio.to_thread(replay)  # a thread without an event loop: the handler needs none
    assert d.counters.seq_breaks[SeqStatus.GAP] >= 2, "the simulator's gaps were seen again"
    assert sent and d.commands == sent, "the same snapshot requests, byte for byte (ids included)"
    assert d.counters.recovered >= 1
    assert _as_rows(live.tape, ("recv_ts", "exchange_ts")) == Counter(d.rows.tables["orderbook_deltas"])
    # the store keeps a trade sent twice (a duplicate fault on a trade frame) once (storage/dedupe.py)
    assert _as_rows(live.trades, ("recv_ts", "exchange_ts")) == Counter(_first_per_trade_id(d.rows.tables["trades_live"]))
    # the same doubts and recoveries at the same frame times (a request's own time is the clock's)
    doubts = {"gap", "duplicate", "out_of_order", "recovered"}
    live_ledger = _as_rows(live.events, ("ts", "recovered_ts"))
    assert Counter(e for e in d.rows.tables["book_events"] if e[5] in doubts) == \
        Counter(e for e in live_ledger.elements() if e[5] in doubts)
    assert d.counters.resync_requests == sum(1 for e in live_ledger.elements() if e[5] == "resync_requested")


# --- frames the decoder cannot read: kept raw, numbering kept, only their own book doubted -------------


def _two_books(d: Driven, fixtures: Path) -> str:
    """Sid 1 feeds M (snapshot seq 3) and a second market (snapshot seq 4); returns the second."""
    other = "KXHIGHCHI-26FEB11-T30"
    d.feed(T0, fixture(fixtures, "ws_orderbook_snapshot", seq=3))
    snap = fixture(fixtures, "ws_orderbook_snapshot", seq=4)
    snap["msg"]["market_ticker"] = other
    d.feed(T0, snap)
    assert d.books.is_valid(M) and d.books.is_valid(other)
    return other


def test_an_unreadable_body_with_readable_numbering_is_kept_and_causes_no_gap(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    other = _two_books(d, kalshi_fixtures)
    bad = b'{"type":"orderbook_delta","sid":1,"seq":"5","msg":{"market_ticker":"%s","side":"yes"}}' % M.encode()
    d.feed(T0 + 0.1, bad)
    d.feed(T0 + 0.2, fixture(kalshi_fixtures, "ws_orderbook_delta_new_level", seq=6))
    c = d.counters
    assert sum(c.seq_breaks.values()) == 0, "the unreadable frame's seq was counted"
    assert c.rejects == {"ws": 1} and c.malformed == 1
    [row] = d.rows.tables["rejects"]
    assert row[:3] == (_us(T0 + 0.1), "ws", CONN) and row[3] == bad
    assert row[4].startswith("bad orderbook_delta") and "price_dollars" in row[4]
    # the delta's own book is doubted and asked for again; the sid's other book stays valid
    assert not d.books.is_valid(M) and d.books.is_valid(other)
    assert [cmd["params"]["market_tickers"] for cmd in d.commands] == [[M]]
    assert "gap" not in d.rows.actions() and "bad_value" in d.rows.actions()


def test_an_empty_price_in_a_delta_is_a_reject_not_a_silent_skip(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    other = _two_books(d, kalshi_fixtures)
    delta = fixture(kalshi_fixtures, "ws_orderbook_delta_new_level", seq=5)
    delta["msg"]["price_dollars"] = ""
    d.feed(T0 + 0.1, delta)
    assert d.counters.rejects == {"ws": 1}
    assert all(row[5] == "snapshot" for row in d.rows.tables["orderbook_deltas"]), "no delta row from it"
    assert not d.books.is_valid(M) and d.books.is_valid(other)
    assert sum(d.counters.seq_breaks.values()) == 0


def test_a_misshapen_book_message_without_a_ticker_doubts_every_book_of_its_sid(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    other = _two_books(d, kalshi_fixtures)
    d.feed(T0, {"type": "orderbook_delta", "sid": 1, "seq": 5})
    assert not d.books.is_valid(M) and not d.books.is_valid(other)
    assert sum(d.counters.seq_breaks.values()) == 0


def test_variants_decode_and_count_their_repairs(kalshi_fixtures: Path) -> None:
    d = driven()
    _subscribed(d, kalshi_fixtures)
    d.feed(T0, fixture(kalshi_fixtures, "ws_orderbook_snapshot", seq=3))
    delta = fixture(kalshi_fixtures, "ws_orderbook_delta_new_level", seq=4)
    delta["seq"] = "4"
    delta["msg"]["ts_ms"] = str(delta["msg"]["ts_ms"])
    delta["msg"]["shiny_new_field"] = {"x": 1}
    d.feed(T0 + 0.1, delta)
    lifecycle = {"type": "event_lifecycle", "sid": 4, "msg": {"event_ticker": "E", "title": "t", "subtitle": "s",
                                                              "series_ticker": "S"}}
    d.feed(T0 + 0.2, lifecycle)
    trade = fixture(kalshi_fixtures, "ws_trade", seq=1)
    del trade["msg"]["ts_ms"]
    d.feed(T0 + 0.3, trade)
    c = d.counters
    assert sum(c.seq_breaks.values()) == 0 and d.books.is_valid(M) and not c.rejects
    assert len(d.rows.tables["orderbook_deltas"]) > 1 and d.rows.tables["orderbook_deltas"][-1][1] is not None
    assert d.rows.tables["trades_live"][0][1] == trade["msg"]["ts"] * 1_000_000
    repaired = {(r.record, r.field) for r in c.field_repairs}
    assert {("orderbook_delta", "seq"), ("orderbook_delta", "msg.ts_ms")} <= repaired


def test_a_sample_of_frames_is_read_for_undeclared_fields(kalshi_fixtures: Path) -> None:
    d = driven()
    d.handler.CENSUS_EVERY = 2
    _subscribed(d, kalshi_fixtures)
    trade = fixture(kalshi_fixtures, "ws_trade", seq=1)
    trade["brand_new"] = 1
    trade["msg"]["fee_dollars"] = "0.0100"
    for seq in range(1, 5):
        d.feed(T0, dict(trade, seq=seq))
    assert d.counters.unknown_fields == {wm.UnknownField("trade", "brand_new"): 2,
                                         wm.UnknownField("trade", "msg.fee_dollars"): 2}


def test_an_ok_with_top_level_market_tickers_updates_the_subscription(kalshi_fixtures: Path) -> None:
    d = driven()
    conn = _subscribed(d, kalshi_fixtures)
    d.feed(T0, fixture(kalshi_fixtures, "ws_orderbook_snapshot", seq=3))
    conn.update_markets(1, "add_markets", ["KXHIGHCHI-26FEB11-T30"])
    cid = max(conn.subs.pending)
    d.feed(T0, {"id": cid, "sid": 1, "seq": 4, "type": "ok", "market_tickers": [M, "KXHIGHCHI-26FEB11-T30"]})
    assert d.handler.conn.subs.markets(1) == {M, "KXHIGHCHI-26FEB11-T30"}
    assert sum(d.counters.seq_breaks.values()) == 0
