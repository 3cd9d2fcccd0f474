"""GET /portfolio/balance: the account endpoint a client calls to learn whether its key is accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from kalshi_collector.sim import SimExchange
from kalshi_collector.sim.restapi import BASE

from .conftest import sign_headers
from .test_rest_contract import validate

PATH = BASE + "/portfolio/balance"


async def test_balance_needs_a_valid_signature_even_when_public_endpoints_do_not(
    sim: SimExchange, http: aiohttp.ClientSession, key_pair: tuple[str, Path, Any]
) -> None:
    url = f"http://{sim.host}:{sim.port}{PATH}"
    async with http.get(url) as r:
        assert r.status == 401 and "authentication required" in await r.text()
    async with http.get(f"http://{sim.host}:{sim.port}{BASE}/exchange/status") as r:
        assert r.status == 200  # the public side stays open
    headers = sign_headers(key_pair, "GET", PATH)
    async with http.get(url, headers={**headers, "KALSHI-ACCESS-KEY": "no-such-key"}) as r:
        assert r.status == 401 and "unknown API key" in await r.text()
    async with http.get(url, headers={**headers, "KALSHI-ACCESS-SIGNATURE": headers["KALSHI-ACCESS-SIGNATURE"][::-1]}) as r:
        assert r.status == 401 and "bad signature" in await r.text()
    async with http.get(url, headers=sign_headers(key_pair, "GET", PATH)) as r:
        assert r.status == 200
        body = await r.json()
    validate(body, "GetBalanceResponse")
    assert body["balance"] == 0 and body["portfolio_value"] == 0
