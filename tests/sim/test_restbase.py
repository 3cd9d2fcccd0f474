"""What the simulator's REST route groups share: query parsing, cursors, paging, tier lookups."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from kalshi_collector.sim import SimExchange
from kalshi_collector.sim.restbase import (
    BadRequest,
    NotFound,
    Routes,
    decode_cursor,
    encode_cursor,
    q_bool,
    q_int,
    q_list,
)


def _req(query: str):  # type: ignore[no-untyped-def]
    return make_mocked_request("GET", f"/x?{query}")


def test_query_values_are_checked_like_kalshi() -> None:
    r = _req("limit=50&flag=TRUE&off=0&tickers=A,,B%20,&empty=")
    assert q_int(r, "limit", lo=1, hi=100) == 50 and q_int(r, "missing", 7) == 7 and q_int(r, "empty", 3) == 3
    assert q_bool(r, "flag") is True and q_bool(r, "off") is False and q_bool(r, "missing", True) is True
    assert q_list(r, "tickers") == ["A", "B"] and q_list(r, "empty") is None
    for bad in (lambda: q_int(r, "limit", hi=10), lambda: q_int(r, "missing", required=True),
                lambda: q_int(_req("limit=ten"), "limit"), lambda: q_bool(_req("flag=yes"), "flag")):
        with pytest.raises(BadRequest):
            bad()


def test_a_cursor_names_its_listing() -> None:
    cursor = encode_cursor("m", 41)
    assert decode_cursor(_req(f"cursor={cursor}"), "m") == 41
    assert decode_cursor(_req(""), "m") is None
    with pytest.raises(BadRequest, match="invalid cursor"):
        decode_cursor(_req(f"cursor={cursor}"), "e")  # a markets cursor handed to the events listing
    with pytest.raises(BadRequest, match="invalid cursor"):
        decode_cursor(_req("cursor=%%%"), "m")


async def test_routes_find_markets_on_their_tier_and_page(sim: SimExchange) -> None:
    routes = Routes(sim.model, sim.now_ms)
    old = next(m for m in sim.model.markets if sim.model.is_historical(m))
    new = next(m for m in sim.model.markets if not sim.model.is_historical(m))
    assert routes.historical_market(old.ticker) is old and routes.live_market(new.ticker) is new
    for lookup, ticker in ((routes.live_market, old.ticker), (routes.historical_market, new.ticker),
                           (routes.live_market, "NOPE")):
        with pytest.raises(NotFound):
            lookup(ticker)
    assert routes.page([1, 2, 3], 2, "n", lambda x: x) == ([1, 2], encode_cursor("n", 2))
    assert routes.page([1, 2], 2, "n", lambda x: x) == ([1, 2], "")
