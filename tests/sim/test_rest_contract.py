"""Every REST endpoint's answers validate against Kalshi's OpenAPI spec and match the fixtures.

Validation uses openapi-schema-validator's OAS30Validator with the spec's own components. Where
the saved spec (OAS 3.13, April 2026) lags the SDK 3.34 models that API.md treats as current,
the exception is listed in ``OAS_LAGS`` with the API.md reference, and applied to a copy of the
spec: nothing is hidden, and every other rule of the spec is enforced.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from .conftest import get_json, need_reference

# schema -> required fields OAS 3.13 has that SDK 3.34 dropped (API.md 5.1 and 5.4)
OAS_LAGS: dict[str, tuple[str, ...]] = {
    # API.md 5.4: "Fields present in OAS 3.13 but absent from 3.34: fractional_trading_enabled,
    # liquidity_dollars, tick_size, response_price_units. A collector must not require them."
    "Market": ("liquidity_dollars", "fractional_trading_enabled"),
    # API.md 5.1: "OAS 3.13 also had required available_on_brokers/product_metadata; gone/optional by 3.34."
    "EventData": ("available_on_brokers", "product_metadata"),
}
# Fields newer than OAS 3.13 that the sim sends (SDK 3.34): the spec allows extra properties,
# listed here only so the reader knows they are intentional.
NEWER_THAN_OAS = {"Trade": ("taker_outcome_side", "taker_book_side", "is_block_trade"),
                  "Market": ("settlement_bounds_type",)}
LEGACY_FIELDS = {"yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "volume", "volume_24h", "open_interest",
                 "liquidity", "notional_value", "previous_yes_bid", "previous_yes_ask", "previous_price",
                 "settlement_value", "count", "price", "yes_price", "no_price", "orderbook"}
DOLLARS = re.compile(r"^-?\d+\.\d{4}$")
FP = re.compile(r"^-?\d+\.\d{2}$")
HIST_PRICE_KEYS = ("open", "low", "high", "close", "mean", "previous", "start", "end", "step")


# Spec defect, not a lag: the candle price fields are written ``$ref`` + ``nullable: true``
# (PriceDistribution) or ``allOf: [$ref]`` + ``nullable: true`` (PriceDistributionHistorical).
# OAS 3.0 ignores siblings of ``$ref`` and the validator checks null against the referenced
# string type inside ``allOf``, so the spec rejects its own documented nulls ("null when no
# trade in the period", API.md 5.7) - Kalshi's fixtures fail the same way
# (test_candle_price_patch_is_needed). Patched by inlining the referenced type (a string) with
# ``nullable: true``; nothing else about those fields changes.
NULLABLE_REF_SCHEMAS = ("PriceDistribution", "PriceDistributionHistorical")


@cache
def raw_spec() -> dict[str, Any]:
    return yaml.safe_load((need_reference() / "openapi.yaml").read_text())


@cache
def spec() -> dict[str, Any]:
    patched = copy.deepcopy(raw_spec())
    schemas = patched["components"]["schemas"]
    for name, fields in OAS_LAGS.items():
        required = schemas[name]["required"]
        for f in fields:
            assert f in required, f"OAS_LAGS out of date: {name}.{f} is no longer required by the spec"
            required.remove(f)
    for name in NULLABLE_REF_SCHEMAS:
        for prop in schemas[name]["properties"].values():
            ref = prop.pop("$ref", None) or (prop.pop("allOf", [{}])[0].get("$ref"))
            if ref and prop.get("nullable"):
                target = schemas[ref.rsplit("/", 1)[1]]
                prop["type"] = target["type"]
    return patched


def validate(body: Any, schema_name: str, document: dict[str, Any] | None = None) -> None:
    components = (document or spec())["components"]
    validator = OAS30Validator({"components": components, "$ref": f"#/components/schemas/{schema_name}"})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    check_numbers(body)


def check_numbers(node: Any, key: str = "") -> None:
    """*_dollars are 4-dp dollar strings, *_fp 2-dp count strings; no legacy integer fields anywhere
    (the 2026-03-12 hard cut removed every integer price/count: API.md 6)."""
    if isinstance(node, dict):
        for k, v in node.items():
            assert k != "liquidity_dollars", "liquidity_dollars was dropped by SDK 3.34"
            is_number = isinstance(v, int | float) and not isinstance(v, bool)
            assert not (k in LEGACY_FIELDS and is_number), f"legacy integer field {k!r} present"
            check_numbers(v, k)
    elif isinstance(node, list):
        if key in ("yes_dollars", "no_dollars"):
            for price, count in node:
                assert DOLLARS.match(price) and FP.match(count), (price, count)
            return
        for v in node:
            check_numbers(v, key)
    elif isinstance(node, str):
        if key.endswith("_dollars") or key in HIST_PRICE_KEYS:
            assert DOLLARS.match(node), (key, node)
        elif key.endswith("_fp") or key in ("volume", "open_interest"):
            assert FP.match(node), (key, node)


def fixture(name: str) -> Any:
    return json.loads((need_reference() / "fixtures" / name).read_text())


def response_schema(path: str, status: int) -> str | None:
    """The component schema name the spec gives for ``path`` + ``status`` (None if none)."""
    op = spec()["paths"][path]["get"]
    resp = op["responses"].get(str(status))
    if resp is None:
        return None
    if "$ref" in resp:
        resp = spec()["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
    content = resp.get("content", {}).get("application/json")
    return content["schema"]["$ref"].rsplit("/", 1)[1] if content else None


CASES: list[tuple[str, str, dict[str, Any], int]] = [
    # (spec path, concrete path template, params, expected status)
    ("/exchange/status", "/exchange/status", {}, 200),
    ("/series", "/series", {}, 200),
    ("/series", "/series", {"include_volume": "true"}, 200),
    ("/series/{series_ticker}", "/series/KXHIGHCHI", {"include_volume": "true"}, 200),
    ("/events", "/events", {}, 200),
    ("/events", "/events", {"limit": "2", "with_nested_markets": "true", "status": "open"}, 200),
    ("/events", "/events", {"series_ticker": "KXHIGHNY", "status": "settled", "with_milestones": "true"}, 200),
    ("/events", "/events", {"limit": "0"}, 400),
    ("/events/{event_ticker}", "/events/{event}", {}, 200),
    ("/events/{event_ticker}", "/events/{event}", {"with_nested_markets": "true"}, 200),
    ("/events/{event_ticker}", "/events/NOPE-26FEB11", {}, 404),
    ("/markets", "/markets", {}, 200),
    ("/markets", "/markets", {"status": "open", "series_ticker": "KXHIGHCHI", "limit": "3"}, 200),
    ("/markets", "/markets", {"status": "unopened"}, 200),
    ("/markets", "/markets", {"status": "settled", "min_settled_ts": "0"}, 200),
    ("/markets", "/markets", {"tickers": "{market},{market2}"}, 200),
    ("/markets", "/markets", {"event_ticker": "{event}"}, 200),
    ("/markets", "/markets", {"status": "open", "min_close_ts": "0"}, 400),
    ("/markets", "/markets", {"status": "bogus"}, 400),
    ("/markets/{ticker}", "/markets/{market}", {}, 200),
    ("/markets/{ticker}", "/markets/NOPE", {}, 404),
    ("/markets/{ticker}/orderbook", "/markets/{market}/orderbook", {}, 200),
    ("/markets/{ticker}/orderbook", "/markets/{market}/orderbook", {"depth": "2"}, 200),
    ("/markets/{ticker}/orderbook", "/markets/{market}/orderbook", {"depth": "101"}, 400),
    ("/markets/{ticker}/orderbook", "/markets/NOPE/orderbook", {}, 404),
    ("/markets/orderbooks", "/markets/orderbooks", {"tickers": ["{market}", "{market2}"]}, 200),
    ("/markets/orderbooks", "/markets/orderbooks", {}, 400),
    ("/series/{series_ticker}/markets/{ticker}/candlesticks", "/series/KXHIGHCHI/markets/{market}/candlesticks",
     {"start_ts": "{day_start}", "end_ts": "{day_end}", "period_interval": "60"}, 200),
    ("/series/{series_ticker}/markets/{ticker}/candlesticks", "/series/KXHIGHCHI/markets/{market}/candlesticks",
     {"start_ts": "{day_start}", "end_ts": "{day_end}", "period_interval": "1", "include_latest_before_start": "true"},
     200),
    ("/series/{series_ticker}/markets/{ticker}/candlesticks", "/series/KXHIGHCHI/markets/{market}/candlesticks",
     {"start_ts": "{day_start}", "end_ts": "{day_end}", "period_interval": "5"}, 400),
    ("/series/{series_ticker}/markets/{ticker}/candlesticks", "/series/KXHIGHCHI/markets/{market}/candlesticks",
     {"start_ts": "0", "end_ts": "{day_end}", "period_interval": "1"}, 400),
    ("/series/{series_ticker}/events/{ticker}/candlesticks", "/series/KXHIGHCHI/events/{event}/candlesticks",
     {"start_ts": "{day_start}", "end_ts": "{day_end}", "period_interval": "60"}, 200),
    ("/markets/candlesticks", "/markets/candlesticks",
     {"market_tickers": "{market},{market2}", "start_ts": "{day_start}", "end_ts": "{day_end}",
      "period_interval": "1440"}, 200),
    ("/markets/candlesticks", "/markets/candlesticks",
     {"market_tickers": "{market}", "start_ts": "{day_start}", "end_ts": "{day_end}"}, 400),
    ("/markets/trades", "/markets/trades", {}, 200),
    ("/markets/trades", "/markets/trades", {"ticker": "{market}", "limit": "5", "min_ts": "{day_start}"}, 200),
    ("/markets/trades", "/markets/trades", {"limit": "1001"}, 400),
    ("/historical/cutoff", "/historical/cutoff", {}, 200),
    ("/historical/markets", "/historical/markets", {"limit": "3"}, 200),
    ("/historical/markets", "/historical/markets", {"series_ticker": "KXHIGHNY"}, 200),
    ("/historical/markets", "/historical/markets", {"series_ticker": "KXHIGHNY", "event_ticker": "{event}"}, 400),
    ("/historical/markets/{ticker}", "/historical/markets/{old}", {}, 200),
    ("/historical/markets/{ticker}", "/historical/markets/{market}", {}, 404),
    ("/historical/markets/{ticker}/candlesticks", "/historical/markets/{old}/candlesticks",
     {"start_ts": "{old_start}", "end_ts": "{old_end}", "period_interval": "60"}, 200),
    ("/historical/trades", "/historical/trades", {"limit": "20"}, 200),
    ("/historical/trades", "/historical/trades", {"ticker": "{old}"}, 200),
]


def _fill(text: str, names: dict[str, str]) -> str:
    for k, v in names.items():
        text = text.replace("{" + k + "}", v)
    return text


@pytest.fixture
def names(sim) -> dict[str, str]:  # noqa: ANN001 - pytest fixture
    live = [m for m in sim.model.active if m.series_ticker == "KXHIGHCHI"]
    old = next(m for m in sim.model.markets if sim.model.is_historical(m))
    return {
        "market": live[2].ticker, "market2": live[3].ticker, "event": live[0].event.ticker,
        "old": old.ticker, "day_start": str(live[0].open_ms // 1000), "day_end": str(live[0].close_ms // 1000),
        "old_start": str(old.open_ms // 1000), "old_end": str(old.close_ms // 1000),
    }


@pytest.mark.parametrize(("spec_path", "path", "params", "status"), CASES,
                         ids=[f"{c[1]}?{'&'.join(c[2])}->{c[3]}" for c in CASES])
async def test_endpoint_validates(sim, http, names, spec_path, path, params, status) -> None:  # noqa: ANN001
    sim.step(300)
    query: list[tuple[str, str]] = []
    for k, v in params.items():
        for item in v if isinstance(v, list) else [v]:
            query.append((k, _fill(item, names)))
    async with http.get(sim.rest_url + _fill(path, names), params=query) as r:
        body = json.loads(await r.text())
        assert r.status == status, body
    if status == 200:
        schema = response_schema(spec_path, 200)
        assert schema is not None
        validate(body, schema)
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        # ErrorResponse has no required fields, so the wrapped body validates trivially; the
        # wrapped form is what the fixture (rest_error_404.json, API.md 3) documents.
        schema = response_schema(spec_path, status)
        if schema is not None:
            validate(body, schema)


def keyset(d: dict[str, Any]) -> set[str]:
    return set(d)


async def test_rest_shapes_match_fixtures(sim, http, names) -> None:  # noqa: ANN001
    """Same key sets as the fixtures for the same kind of object (live bracket, settled market...)."""
    sim.step(500)
    _, market = await get_json(http, sim, f"/markets/{names['market']}")
    assert keyset(market["market"]) == keyset(fixture("rest_get_market.json")["market"])
    _, old = await get_json(http, sim, f"/historical/markets/{names['old']}")
    old_fixture = fixture("rest_get_historical_market.json")["market"]
    expected = keyset(old_fixture) - {"floor_strike", "cap_strike"}
    got = keyset(old["market"]) - {"floor_strike", "cap_strike"}
    assert got == expected
    _, event = await get_json(http, sim, f"/events/{names['event']}", with_nested_markets="true")
    assert keyset(event) == keyset(fixture("rest_get_event_with_nested_markets.json"))
    assert keyset(event["event"]) == keyset(fixture("rest_get_event_with_nested_markets.json")["event"])
    assert event["markets"] == event["event"]["markets"]
    _, events = await get_json(http, sim, "/events", limit="1")
    assert keyset(events["events"][0]) == keyset(fixture("rest_get_events.json")["events"][0])
    _, trades = await get_json(http, sim, "/markets/trades", limit="3")
    assert keyset(trades) == {"trades", "cursor"}
    assert keyset(trades["trades"][0]) == keyset(fixture("rest_get_trades.json")["trades"][0])
    for name in ("rest_get_historical_cutoff.json", "rest_get_series.json", "rest_get_exchange_status.json"):
        path = {"rest_get_historical_cutoff.json": "/historical/cutoff", "rest_get_series.json": "/series/KXHIGHCHI",
                "rest_get_exchange_status.json": "/exchange/status"}[name]
        _, body = await get_json(http, sim, path)
        assert keyset(body) == keyset(fixture(name))
    _, book = await get_json(http, sim, f"/markets/{names['market']}/orderbook", depth="2")
    assert keyset(book["orderbook_fp"]) == keyset(fixture("rest_get_market_orderbook_depth2.json")["orderbook_fp"])
    assert all(len(side) <= 2 for side in book["orderbook_fp"].values())
    _, candles = await get_json(http, sim, f"/historical/markets/{names['old']}/candlesticks",
                                start_ts=names["old_start"], end_ts=names["old_end"], period_interval="1440")
    hist_fixture = fixture("rest_get_historical_market_candlesticks.json")["candlesticks"][1]
    row = candles["candlesticks"][-1]
    assert keyset(row) == keyset(hist_fixture)
    assert keyset(row["price"]) == keyset(hist_fixture["price"])
    assert keyset(row["yes_bid"]) == keyset(hist_fixture["yes_bid"])
    _, live = await get_json(http, sim, f"/series/KXHIGHCHI/markets/{names['market']}/candlesticks",
                             start_ts=names["day_start"], end_ts=names["day_end"], period_interval="1")
    live_fixture = fixture("rest_get_market_candlesticks.json")["candlesticks"]
    traded = next(c for c in live["candlesticks"] if c["price"]["close_dollars"] is not None)
    quiet = next(c for c in live["candlesticks"] if c["price"]["close_dollars"] is None)
    assert keyset(traded["price"]) == keyset(live_fixture[0]["price"])
    assert keyset(quiet["price"]) == keyset(live_fixture[1]["price"])
    assert keyset(traded) == keyset(live_fixture[0])
    async with http.get(sim.rest_url + "/nope") as r:
        assert r.status == 404 and keyset(await r.json()) == keyset(fixture("rest_error_404.json"))


def test_candle_price_patch_is_needed() -> None:
    """The unpatched spec rejects Kalshi's own no-trade candle fixtures; the patched one accepts them."""
    for name, schema in (("rest_get_market_candlesticks.json", "GetMarketCandlesticksResponse"),
                         ("rest_get_historical_market_candlesticks.json", "GetMarketCandlesticksHistoricalResponse")):
        body = fixture(name)
        with pytest.raises(AssertionError, match="None"):
            validate(body, schema, raw_spec())
        validate(body, schema)


def test_fixtures_validate_against_patched_spec() -> None:
    """The patches are no looser than needed for the reference fixtures themselves."""
    pairs = {"rest_get_market.json": "GetMarketResponse", "rest_get_markets.json": "GetMarketsResponse",
             "rest_get_event.json": "GetEventResponse", "rest_get_events.json": "GetEventsResponse",
             "rest_get_trades.json": "GetTradesResponse", "rest_get_series.json": "GetSeriesResponse",
             "rest_get_market_orderbook.json": "GetMarketOrderbookResponse",
             "rest_get_market_orderbooks.json": "GetMarketOrderbooksResponse",
             "rest_batch_get_market_candlesticks.json": "BatchGetMarketCandlesticksResponse",
             "rest_get_event_candlesticks.json": "GetEventCandlesticksResponse",
             "rest_get_historical_market_candlesticks.json": "GetMarketCandlesticksHistoricalResponse",
             "rest_get_historical_cutoff.json": "GetHistoricalCutoffResponse"}
    for name, schema in pairs.items():
        validate(fixture(name), schema)
