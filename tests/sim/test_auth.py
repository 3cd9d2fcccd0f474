"""Authentication: RSA-PSS signatures over ts+METHOD+path, as Kalshi documents them (API.md 2)."""

from __future__ import annotations

import base64
import os
import stat
import time
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kalshi_collector.sim import SimConfig, SimExchange

from .conftest import make_config, sign_headers


async def test_signed_rest_request_accepted_tampered_refused(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair, require_auth=True)) as sim:
        path = "/trade-api/v2/markets"
        headers = sign_headers(key_pair, "GET", path)
        async with http.get(sim.rest_url + "/markets", params={"limit": "2"}, headers=headers) as r:
            assert r.status == 200  # the query string is not part of the signed text
        tampered = dict(headers)
        sig = bytearray(tampered["KALSHI-ACCESS-SIGNATURE"].encode())
        sig[10] = ord("A") if sig[10] != ord("A") else ord("B")
        tampered["KALSHI-ACCESS-SIGNATURE"] = sig.decode()
        async with http.get(sim.rest_url + "/markets", headers=tampered) as r:
            assert r.status == 401
            assert set((await r.json())["error"]) == {"code", "message"}
        # signed for another path, another method, or with a stale timestamp: refused
        for bad in (sign_headers(key_pair, "GET", "/trade-api/v2/events"),
                    sign_headers(key_pair, "POST", path),
                    sign_headers(key_pair, "GET", path, ts_ms=int(time.time() * 1000) - 3_600_000),
                    {**headers, "KALSHI-ACCESS-KEY": "someone-else"}):
            async with http.get(sim.rest_url + "/markets", headers=bad) as r:
                assert r.status == 401
        async with http.get(sim.rest_url + "/markets") as r:
            assert r.status == 401  # require_auth: unsigned refused too


async def test_unsigned_public_requests_allowed_by_default(sim, http) -> None:  # noqa: ANN001
    async with http.get(sim.rest_url + "/exchange/status") as r:
        assert r.status == 200
    bad = {"KALSHI-ACCESS-KEY": sim.api_key_id, "KALSHI-ACCESS-TIMESTAMP": str(int(time.time() * 1000)),
           "KALSHI-ACCESS-SIGNATURE": "bm90IGEgc2lnbmF0dXJl"}
    async with http.get(sim.rest_url + "/exchange/status", headers=bad) as r:
        assert r.status == 401  # headers present but wrong: always refused


async def test_salt_length_other_than_32_is_refused(sim, http, key_pair) -> None:  # noqa: ANN001
    _, _, key = key_pair
    ts = str(int(time.time() * 1000))
    sig = key.sign(f"{ts}GET/trade-api/v2/markets".encode(),
                   padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
    headers = {"KALSHI-ACCESS-KEY": sim.api_key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
               "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}
    async with http.get(sim.rest_url + "/markets", headers=headers) as r:
        assert r.status == 401


async def test_websocket_upgrade_needs_a_valid_signature(sim, http, key_pair) -> None:  # noqa: ANN001
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(sim.ws_url)
    assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as wrong_path:
        await http.ws_connect(sim.ws_url, headers=sign_headers(key_pair, "GET", "/trade-api/v2/markets"))
    assert wrong_path.value.status == 401
    ws = await http.ws_connect(sim.ws_url, headers=sign_headers(key_pair, "GET", "/trade-api/ws/v2"))
    await ws.close()


async def test_generated_key_pair_is_usable(tmp_path: Path, http) -> None:  # noqa: ANN001
    """Without a registered key the sim writes a private key (0600) and a UUID key id to use."""
    async with SimExchange(SimConfig(series=("KXHIGHCHI",), history_days=1, message_rate=0, state_dir=tmp_path)) as sim:
        assert sim.private_key_path is not None and sim.private_key_path.parent == tmp_path
        assert stat.S_IMODE(os.stat(sim.private_key_path).st_mode) == 0o600
        assert len(sim.api_key_id) == 36 and sim.api_key_id.count("-") == 4
        key = serialization.load_pem_private_key(sim.private_key_path.read_bytes(), None)
        pair = (sim.api_key_id, None, key)
        ws = await http.ws_connect(sim.ws_url, headers=sign_headers(pair, "GET", "/trade-api/ws/v2"))
        await ws.close()
