"""Every WebSocket message type the simulator emits validates against ws_message_schemas.json and
has the same key set as the reference fixture for that type."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from .conftest import active_tickers, connect, need_reference


@cache
def schemas() -> dict[str, Any]:
    return json.loads((need_reference() / "ws_message_schemas.json").read_text())


def fixture(name: str) -> dict[str, Any]:
    return json.loads((need_reference() / "fixtures" / name).read_text())


def check(message: dict[str, Any]) -> None:
    schema = schemas()[message["type"]]
    jsonschema.validators.validator_for(schema)(schema).validate(message)


async def collect_everything(sim, http, key_pair) -> list[dict[str, Any]]:  # noqa: ANN001
    """Drive one connection through every command and message type the simulator produces."""
    chi = active_tickers(sim)
    c = await connect(http, sim, key_pair)
    early = await c.call("subscribe", channels=["orderbook_delta"], market_tickers=chi[:2], use_yes_price=False)
    early += await c.call("subscribe", channels=["ticker", "trade"], market_tickers=chi, send_initial_snapshot=True)
    early += await c.call("subscribe", channels=["market_lifecycle_v2"])
    sim.step(400)
    await c.send("update_subscription", sid=1, action="add_markets", market_tickers=[chi[2]])
    await c.send("update_subscription", sids=[1], action="delete_markets", market_tickers=[chi[0]])
    await c.send("update_subscription", sid=1, action="get_snapshot", market_tickers=[chi[1]])
    await c.send("list_subscriptions")
    await c.send("subscribe", channels=["no_such_channel"])
    early += await c.call("subscribe", channels=["orderbook_delta"])
    sim.advance_day()
    await c.send("unsubscribe", sids=[2])
    messages = early + await c.drain()
    await c.ws.close()
    return messages


async def test_every_ws_message_validates(sim, http, key_pair) -> None:  # noqa: ANN001
    messages = await collect_everything(sim, http, key_pair)
    seen = {m["type"] for m in messages}
    assert seen >= {"subscribed", "ok", "unsubscribed", "error", "orderbook_snapshot", "orderbook_delta", "ticker",
                    "trade", "market_lifecycle_v2", "event_lifecycle"}, seen
    for m in messages:
        check(m)
    events = {m["msg"]["event_type"] for m in messages if m["type"] == "market_lifecycle_v2"}
    assert events == {"created", "determined", "settled"}


def first(messages: list[dict[str, Any]], predicate: Any) -> dict[str, Any]:
    return next(m for m in messages if predicate(m))


async def test_ws_shapes_match_fixtures(sim, http, key_pair) -> None:  # noqa: ANN001
    """Same top-level and ``msg`` keys as the fixture of the same kind."""
    messages = await collect_everything(sim, http, key_pair)

    def same(sim_msg: dict[str, Any], name: str) -> None:
        fx = fixture(name)
        assert set(sim_msg) == set(fx), (name, set(sim_msg) ^ set(fx))
        if isinstance(fx.get("msg"), dict):
            assert set(sim_msg["msg"]) == set(fx["msg"]), (name, set(sim_msg["msg"]) ^ set(fx["msg"]))

    two_sided = first(messages, lambda m: m["type"] == "orderbook_snapshot" and "id" not in m
                      and "yes_dollars_fp" in m["msg"] and "no_dollars_fp" in m["msg"])
    same(two_sided, "ws_orderbook_snapshot.json")
    same(first(messages, lambda m: m["type"] == "orderbook_delta"), "ws_orderbook_delta.json")
    same(first(messages, lambda m: m["type"] == "ticker"), "ws_ticker.json")
    same(first(messages, lambda m: m["type"] == "trade"), "ws_trade.json")
    same(first(messages, lambda m: m["type"] == "subscribed"), "ws_resp_subscribed.json")
    same(first(messages, lambda m: m["type"] == "ok" and isinstance(m["msg"], dict)),
         "ws_resp_ok_update_subscription.json")
    listing = first(messages, lambda m: m["type"] == "ok" and isinstance(m["msg"], list))
    assert set(listing) == set(fixture("ws_resp_list_subscriptions.json"))
    assert {frozenset(x) for x in listing["msg"]} == {frozenset({"channel", "sid"})}
    same(first(messages, lambda m: m["type"] == "unsubscribed"), "ws_resp_unsubscribed.json")
    same(first(messages, lambda m: m["type"] == "error" and m["msg"]["code"] == 8), "ws_resp_error.json")
    same(first(messages, lambda m: m["type"] == "error" and m["msg"]["code"] == 14),
         "ws_resp_error_market_ticker_required.json")
    same(first(messages, lambda m: m["type"] == "event_lifecycle"), "ws_event_lifecycle.json")
    for event_type in ("created", "determined", "settled"):
        got = first(messages, lambda m, e=event_type: m["type"] == "market_lifecycle_v2" and m["msg"]["event_type"] == e
                    and ("-B" in m["msg"]["market_ticker"] or e != "created"))
        same(got, f"ws_market_lifecycle_v2_{event_type}.json")
        if event_type == "created":
            fx_meta = fixture("ws_market_lifecycle_v2_created.json")["msg"]["additional_metadata"]
            assert set(got["msg"]["additional_metadata"]) == set(fx_meta)


async def test_fixture_messages_validate() -> None:
    """The schema file and the fixtures agree with each other (guards this test's own footing)."""
    for path in sorted((need_reference() / "fixtures").glob("ws_*.json")):
        body = json.loads(path.read_text())
        if "cmd" in body:
            jsonschema.validators.validator_for(schemas()["command"])(schemas()["command"]).validate(body)
        else:
            check(body)
