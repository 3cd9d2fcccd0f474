"""Shared pieces for the simulator tests: one RSA key per session, a signed client, a WS reader.

Everything talks to a real simulator on 127.0.0.1 (no mocks). The signing here is written from
API.md section 2 on purpose, not imported from the client package, so these tests check the
simulator against the documented contract only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_collector.sim import SimConfig, SimExchange

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
KALSHI_REF = REFERENCE / "kalshi"
TODAY = date(2026, 2, 11)
SERIES = ("KXHIGHCHI", "KXHIGHNY")


def need_reference() -> Path:
    if not KALSHI_REF.is_dir():
        pytest.skip(f"reference contracts not found at {KALSHI_REF.resolve()} (contract tests need ../shared/reference)")
    return KALSHI_REF


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, rsa.RSAPrivateKey]:
    """One RSA key for the whole session: key generation is the slowest part of starting a sim."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    folder = tmp_path_factory.mktemp("keys")
    private = folder / "private.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public = folder / "public.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return "6a3b9f1e-1111-4c2d-9e8f-000000000001", public, key


def noon_clock(day: date = TODAY) -> Any:
    """Exchange time from noon UTC of ``day`` on, at the wall clock's pace: the simulator's
    statuses at start follow the clock's hour (the next day's event opens at 15:00 UTC), so without
    this a test's markets, and the share of the order flow each gets, depend on when it runs."""
    start_ms = int(datetime.combine(day, dt_time(12), tzinfo=UTC).timestamp() * 1000)
    t0 = time.monotonic()
    return lambda: start_ms + int((time.monotonic() - t0) * 1000)


def make_config(key_pair: tuple[str, Path, Any], **overrides: Any) -> SimConfig:
    key_id, public, _ = key_pair
    values: dict[str, Any] = dict(seed=7, series=SERIES, today=TODAY, history_days=6, cutoff_days=3,
                                  history_trades_per_market=60, message_rate=0.0, api_key_id=key_id,
                                  public_key_path=public, ping_interval=30.0, clock=noon_clock())
    values.update(overrides)
    return SimConfig(**values)


def sign_headers(key_pair: tuple[str, Path, rsa.RSAPrivateKey], method: str, path: str,
                 ts_ms: int | None = None) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers: RSA-PSS SHA-256, MGF1 SHA-256, salt 32, over ts+METHOD+path."""
    key_id, _, key = key_pair
    ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    sig = key.sign(f"{ts}{method}{path}".encode(),
                   padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return {"KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode()}


@pytest.fixture
async def sim(key_pair: tuple[str, Path, Any]) -> AsyncIterator[SimExchange]:
    """A started simulator with the live flow off (tests drive it with ``sim.step``)."""
    async with SimExchange(make_config(key_pair)) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_json(http: aiohttp.ClientSession, sim: SimExchange, path: str, **params: Any) -> tuple[int, Any]:
    async with http.get(sim.rest_url + path, params=params or None) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


class WsClient:
    """A thin JSON reader over a real WebSocket connection (what a collector would see)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._next_id = 1
        self.frames: list[str] = []

    async def send(self, cmd: str, **params: Any) -> int:
        cmd_id = self._next_id
        self._next_id += 1
        body: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
        if params:
            body["params"] = params
        await self.ws.send_str(json.dumps(body))
        return cmd_id

    async def recv(self, timeout: float = 2.0) -> dict[str, Any] | None:
        """Next JSON message; None when nothing arrives within ``timeout``."""
        try:
            msg = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            return None
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        self.frames.append(msg.data)
        return json.loads(msg.data)

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives until the line has been quiet for ``quiet`` seconds."""
        out = []
        while (m := await self.recv(quiet)) is not None:
            out.append(m)
        return out

    async def call(self, cmd: str, **params: Any) -> list[dict[str, Any]]:
        """Send a command, wait for its replies (one per channel for ``subscribe``), then collect
        what follows them (snapshots). The server has handled the command when this returns, so a
        following ``sim.step`` is seen by the new subscription - even on a loaded machine."""
        cmd_id = await self.send(cmd, **params)
        expected = len(params.get("channels", [])) if cmd == "subscribe" else 1
        replies = 0
        out: list[dict[str, Any]] = []
        while replies < expected:
            m = await self.recv(10.0)
            if m is None:
                raise AssertionError(f"no reply to {cmd} (id {cmd_id})")
            out.append(m)
            if m.get("id") == cmd_id:
                replies += 1
                if m["type"] == "error" and cmd == "subscribe":
                    break
        return out + await self.drain(0.05)

    async def until(self, predicate: Any, timeout: float = 3.0) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"condition not met within {timeout}s; got {out[-5:]}")
            m = await self.recv(left)
            if m is None:
                continue
            out.append(m)
            if predicate(m):
                return out


async def connect(http: aiohttp.ClientSession, sim: SimExchange, key_pair: Any, **kw: Any) -> WsClient:
    headers = sign_headers(key_pair, "GET", "/trade-api/ws/v2")
    ws = await http.ws_connect(sim.ws_url, headers=headers, **kw)
    return WsClient(ws)


def active_tickers(sim: SimExchange, series: str = "KXHIGHCHI") -> list[str]:
    return [m.ticker for m in sim.model.active if m.series_ticker == series]
