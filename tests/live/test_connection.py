"""Per-connection state: command ids, the exact command bytes, pending replies, sid positions."""

from __future__ import annotations

import json
from pathlib import Path

from kalshi_collector.live.connection import ConnectionState, SubscriptionPosition
from kalshi_collector.live.subscriptions import MARKET_CHANNELS
from tests.live.frame_helpers import fixture

T30, B34, B36 = "KXHIGHCHI-26FEB11-T30", "KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11-B36.5"


def test_commands_are_numbered_and_match_the_reference_shapes(kalshi_fixtures: Path) -> None:
    conn = ConnectionState(number=42)
    markets = json.loads(conn.subscribe_markets([B34, T30]))
    assert markets == {"id": 1, "cmd": "subscribe", "params": {"channels": list(MARKET_CHANNELS),
                                                                "market_tickers": [B34, T30], "use_yes_price": False}}
    assert json.loads(conn.subscribe_lifecycle()) == fixture(kalshi_fixtures, "ws_cmd_subscribe_lifecycle", id=2)
    assert json.loads(conn.update_markets(1, "add_markets", [B36])) == \
        fixture(kalshi_fixtures, "ws_cmd_update_subscription_add_markets", id=3)
    assert json.loads(conn.update_markets(1, "get_snapshot", [B34])) == \
        fixture(kalshi_fixtures, "ws_cmd_update_subscription_get_snapshot", id=4)
    assert sorted(conn.subs.pending) == [1, 2, 3, 4]


def test_market_updates_go_to_every_granted_market_subscription() -> None:
    conn = ConnectionState()
    conn.subscribe_markets([B34])
    assert conn.market_updates([B36], [T30]) == [], "nothing granted yet"
    conn.subs.on_subscribed(1, "orderbook_delta", 1)
    conn.subs.on_subscribed(1, "trade", 3)
    sent = [json.loads(c) for c in conn.market_updates([B36], [T30])]
    assert [(c["params"]["sid"], c["params"]["action"]) for c in sent] == [
        (1, "add_markets"), (1, "delete_markets"), (3, "add_markets"), (3, "delete_markets")]


def test_positions_name_the_connection_and_only_numbered_sids() -> None:
    conn = ConnectionState(number=7)
    conn.subscribe_markets([B34])
    conn.subs.on_subscribed(1, "orderbook_delta", 1)
    conn.subs.on_subscribed(1, "ticker", 2)
    conn.seq.observe(1, 10)
    conn.seq.observe(1, 11)
    assert conn.positions() == [SubscriptionPosition(7, 1, "orderbook_delta", 11)]


def test_a_new_connection_starts_its_ids_again() -> None:
    first, second = ConnectionState(), ConnectionState()
    first.subscribe_lifecycle()
    assert json.loads(second.subscribe_lifecycle())["id"] == 1
