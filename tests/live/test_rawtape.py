"""The raw tape's pure parts: record numbering and stamping, exact times, commands read back."""

from __future__ import annotations

import random

import msgspec
import pytest

from kalshi_collector.live.connection import ConnectionState
from kalshi_collector.live.discovery import TrackedMarket
from kalshi_collector.live.rawtape import RawTape
from kalshi_collector.live.rebuild import exact_seconds, pending_command
from kalshi_collector.live.subscriptions import PendingCommand
from kalshi_collector.storage import LiveStore


def test_records_are_numbered_in_order_from_the_run_start_and_stamped_with_the_given_times() -> None:
    ws, rest = [], []
    tape = RawTape(ws.append, rest.append, clock=lambda: 1_770_834_581.5, start_us=1_000)
    tape.opened(3, "wss://x")
    tape.frame(1_770_834_581.123456, '{"type":"ok"}')
    tape.sent(b'{"id":1}')
    tape.snapshot(5_000, "periodic", 10)
    tape.markets(6_000, {"M": TrackedMarket("M", "E", "sub", "active")}, ["OLD"])
    tape.crosscheck(7_000, "M", "differs", 2, "1 levels differ")
    tape.retry(8_000, 2, ["M"])
    assert tape.closed("lost") == 1_770_834_581_500_000
    tape.rest("rest", "/markets/M/orderbook", 200, b"{}")
    assert [r[1] for r in ws] == list(range(1_000, 1_000 + len(ws)))
    assert [r[3] for r in ws] == ["open", "in", "out", "snapshot", "markets", "crosscheck", "retry", "close"]
    # the collector-wide records name no connection; the rest the one opened
    assert {r[2] for r in ws if r[3] not in ("snapshot", "markets")} == {3} and tape.conn == 0
    assert {r[2] for r in ws if r[3] in ("snapshot", "markets")} == {0}
    assert ws[1][0] == int(1_770_834_581.123456 * 1_000_000) and ws[1][4] == '{"type":"ok"}'
    assert msgspec.json.decode(ws[4][4]) == {"markets": {"M": ["E", "sub", "active"]}, "forget": ["OLD"]}
    assert msgspec.json.decode(ws[3][4]) == {"snapshot_ts": 5_000, "trigger": "periodic", "max_depth": 10}
    assert rest == [(1_770_834_581_500_000, 1_000, "crosscheck", "/markets/M/orderbook", 200, b"{}")]


def test_exact_seconds_gives_back_the_microsecond_the_live_code_computed() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        t = rng.uniform(1.7e9, 1.9e9)
        us = int(t * 1_000_000)
        assert int(exact_seconds(us) * 1_000_000) == us


def test_commands_read_back_as_what_connection_state_expected() -> None:
    state = ConnectionState(number=1)
    sent = [state.subscribe_markets(["A", "B"]), state.subscribe_lifecycle(), state.update_markets(7, "get_snapshot", ["A"])]
    for payload in sent:
        cid, pending = pending_command(payload)
        assert state.subs.pending[cid] == pending
    assert pending_command(b"not json") is None
    assert pending_command(sent[2]) == (3, PendingCommand("update_subscription", (), ("A",), 7, "get_snapshot"))


def test_the_store_hands_out_a_raw_appender_only_for_its_tables(tmp_path) -> None:
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        store.appender("raw_ws")((1_770_834_581_500_000, 1, 1, "in", b"{}"))
        assert store.buffered_rows == 1
        with pytest.raises(ValueError, match="unknown table 'raw'"):
            store.appender("raw")
    with pytest.raises(RuntimeError, match="closed"):
        store.appender("raw_ws")


def test_connections_open_at_once_each_name_their_records_and_the_markets_record_names_each_lanes() -> None:
    ws: list[tuple] = []
    tape = RawTape(ws.append, [].append, clock=lambda: 1_770_834_581.5, start_us=1)
    tape.markets(1_000, {"A": TrackedMarket("A", "E", "", "active"), "B": TrackedMarket("B", "E", "", "active")},
                 [], [["A"], ["B"]])
    tape.opened(10, "wss://x", 0)
    tape.opened(11, "wss://x", 1)
    tape.sent(b'{"id":1}', 10)
    tape.crosscheck(2_000, "B", "same", conn=11, lane=1)
    tape.retry(3_000, 4, ["B"], conn=11, lane=1)
    tape.closed("lost", 10)
    tape.crosscheck(4_000, "A", "differs", 2, "x", conn=0, lane=0)
    assert [(r[2], r[3]) for r in ws] == [(0, "markets"), (10, "open"), (11, "open"), (10, "out"),
                                          (11, "crosscheck"), (11, "retry"), (10, "close"), (0, "crosscheck")]
    assert msgspec.json.decode(ws[0][4])["lanes"] == [["A"], ["B"]]
    assert msgspec.json.decode(ws[2][4]) == {"url": "wss://x", "lane": 1}
    assert msgspec.json.decode(ws[5][4])["lane"] == 1 and msgspec.json.decode(ws[7][4])["lane"] == 0
