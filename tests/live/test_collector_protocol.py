"""Protocol corner cases, driven by a scripted WebSocket server on loopback.

The simulator produces realistic flow; this server instead plays an exact script of frames, so each
corner of API.md section 7 can be pinned: control replies that consume a seq, unknown types on our
sids, a book the exchange reports crossed, a terminal subscription error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kalshi_collector.book import BookStatus
from kalshi_collector.config import config_from_dict
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.sequence import SeqStatus

EVENT = "KXHIGHCHI-26FEB11"
M1, M2 = "KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11-B36.5"


def snapshot(sid: int, seq: int, ticker: str, yes: list, no: list) -> dict:
    msg: dict[str, Any] = {"market_ticker": ticker, "market_id": "00000000-0000-0000-0000-000000000000"}
    if yes:
        msg["yes_dollars_fp"] = yes
    if no:
        msg["no_dollars_fp"] = no
    return {"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg}


def delta(sid: int, seq: int, ticker: str, side: str, price: str, d: str, ts_ms: int = 1770834581512) -> dict:
    return {"type": "orderbook_delta", "sid": sid, "seq": seq,
            "msg": {"market_ticker": ticker, "market_id": "x", "price_dollars": price, "delta_fp": d,
                    "side": side, "ts_ms": ts_ms}}


Script = Callable[[int, list[dict]], list[Any]]


class ScriptedExchange:
    """REST event listing from the reference fixture + a WebSocket that plays ``script``.

    ``script(connection_number, commands_so_far)`` returns the frames to send after the subscribe:
    dicts (sent as JSON), strings (sent raw), floats (pause), or "CLOSE".
    """

    def __init__(self, fixtures: Path, script: Script) -> None:
        self.fixtures = fixtures
        self.script = script
        self.commands: list[dict] = []
        self.connections = 0

    async def rest_event(self, request: web.Request) -> web.Response:
        return web.Response(body=(self.fixtures / "rest_get_event_with_nested_markets.json").read_bytes(),
                            content_type="application/json")

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        conn = self.connections
        async for msg in ws:
            cmd = json.loads(msg.data)
            self.commands.append(cmd)
            if cmd["cmd"] == "subscribe":
                channels = cmd["params"]["channels"]
                for ch in channels:
                    sid = {"orderbook_delta": 1, "ticker": 2, "trade": 3, "market_lifecycle_v2": 4}[ch]
                    await ws.send_json({"id": cmd["id"], "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
                if "orderbook_delta" in channels:
                    asyncio.get_running_loop().create_task(self._play(ws, conn))
        return ws

    async def _play(self, ws: web.WebSocketResponse, conn: int) -> None:
        for item in self.script(conn, self.commands):
            if ws.closed:
                return
            if isinstance(item, float):
                await asyncio.sleep(item)
            elif item == "CLOSE":
                await ws.close()
                return
            elif isinstance(item, str):
                await ws.send_str(item)
            else:
                await ws.send_json(item)


@pytest.fixture()
async def scripted(kalshi_fixtures: Path) -> AsyncIterator[Callable]:
    runners = []

    async def start(script: Script) -> tuple[ScriptedExchange, str]:
        ex = ScriptedExchange(kalshi_fixtures, script)
        app = web.Application()
        app.router.add_get(f"/trade-api/v2/events/{EVENT}", ex.rest_event)
        app.router.add_get("/trade-api/ws/v2", ex.ws)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return ex, f"127.0.0.1:{port}"

    yield start
    for r in runners:
        await r.cleanup()


async def run_collector(host: str, key_file: Path, data: Path, seconds: float) -> Collector:
    cfg = config_from_dict({
        "kalshi": {"api_key_id": "k", "private_key_path": str(key_file), "base_url": f"http://{host}/trade-api/v2",
                   "ws_url": f"ws://{host}/trade-api/ws/v2", "requests_per_second": 0},
        "events": [EVENT],
        "collection": {"interval_seconds": 60, "spike_threshold_cents": 0, "rest_check_interval_seconds": 0,
                       "stall_timeout_seconds": 5},
        "storage": {"data_dir": str(data), "flush_interval_seconds": 60},
        "metrics": {"port": 0},
    }, env={})
    c = Collector(cfg, options=CollectorOptions(stats_interval=60, resync_retry_seconds=60))
    await c.run(duration=seconds)
    return c


def _book_sides(c: Collector, ticker: str) -> tuple[dict, dict]:
    book = c.books.get(ticker)
    assert book is not None
    return {p: q for p, q in book.levels("yes")}, {p: q for p, q in book.levels("no")}


async def test_ok_replies_and_unknown_types_consume_seq_without_reading_as_gaps(scripted, key_file, tmp_path) -> None:
    def script(conn: int, commands: list[dict]) -> list[Any]:
        return [
            snapshot(1, 1, M1, [["0.3000", "10.00"]], [["0.6500", "5.00"]]),
            snapshot(1, 2, M2, [["0.2000", "1.00"]], []),
            delta(1, 3, M1, "yes", "0.3100", "2.00"),
            {"id": 99, "sid": 1, "seq": 4, "type": "ok", "msg": {"market_tickers": [M1, M2]}},
            {"type": "event_fee_update", "sid": 1, "seq": 5, "msg": {}},  # unknown type on our sid
            delta(1, 6, M1, "yes", "0.3000", "-10.00"),
            "{not json",
        ]

    ex, host = await scripted(script)
    c = await run_collector(host, key_file, tmp_path / "data", 2.0)
    assert c.counters.seq_breaks[SeqStatus.GAP] == 0 and c.counters.seq_breaks[SeqStatus.DUPLICATE] == 0
    assert c.counters.unknown_type == 1 and c.counters.malformed == 1
    assert c.valid_at_stop == 2
    subscribe = next(cmd for cmd in ex.commands if cmd["cmd"] == "subscribe" and "orderbook_delta" in cmd["params"]["channels"])
    assert subscribe["params"]["use_yes_price"] is False, "use_yes_price must be pinned explicitly"
    assert sorted(subscribe["params"]["market_tickers"]) == sorted(
        f"{EVENT}-{s}" for s in ("T30", "B30.5", "B32.5", "B34.5", "B36.5", "T37"))
    assert not [cmd for cmd in ex.commands if cmd["cmd"] == "update_subscription"], "no resync was needed"


async def test_a_gap_invalidates_every_book_of_the_sid_and_asks_for_their_snapshots(scripted, key_file, tmp_path) -> None:
    def script(conn: int, commands: list[dict]) -> list[Any]:
        return [
            snapshot(1, 1, M1, [["0.3000", "10.00"]], []),
            snapshot(1, 2, M2, [["0.2000", "1.00"]], []),
            delta(1, 4, M2, "yes", "0.2100", "1.00"),  # seq 3 never sent
            0.3,
            snapshot(1, 5, M1, [["0.3000", "11.00"]], []),  # the answers to get_snapshot
            snapshot(1, 6, M2, [["0.2000", "1.00"], ["0.2100", "1.00"]], []),
        ]

    ex, host = await scripted(script)
    c = await run_collector(host, key_file, tmp_path / "data", 2.0)
    assert c.counters.seq_breaks[SeqStatus.GAP] == 1
    resync = [cmd for cmd in ex.commands if cmd["cmd"] == "update_subscription"]
    assert len(resync) == 1 and resync[0]["params"]["action"] == "get_snapshot"
    assert resync[0]["params"]["sid"] == 1
    subscribed = next(cmd for cmd in ex.commands if cmd["cmd"] == "subscribe" and "orderbook_delta" in cmd["params"]["channels"])
    assert set(resync[0]["params"]["market_tickers"]) == set(subscribed["params"]["market_tickers"]), \
        "every market of the sid, not just the ones seen"
    assert c.valid_at_stop == 2 and c.counters.recovered == 2
    assert _book_sides(c, M1)[0] == {30.0: 11.0}


async def test_a_crossed_book_is_never_valid_and_resyncs_are_rate_limited(scripted, key_file, tmp_path) -> None:
    def script(conn: int, commands: list[dict]) -> list[Any]:
        crossed = []
        for i in range(20):  # the exchange keeps answering with a crossed book
            crossed += [snapshot(1, 1 + i, M1, [["0.6000", "1.00"]], [["0.5000", "1.00"]]), 0.05]
        return crossed

    ex, host = await scripted(script)
    c = await run_collector(host, key_file, tmp_path / "data", 2.0)
    assert c.counters.bad_books[BookStatus.CROSSED] == 20
    assert not c.books.is_valid(M1)
    asks = [cmd for cmd in ex.commands if cmd["cmd"] == "update_subscription"]
    assert 1 <= len(asks) <= 3, f"{len(asks)} snapshot requests in ~1 s: must be rate-limited"


async def test_a_terminal_subscription_error_reconnects_and_resubscribes(scripted, key_file, tmp_path) -> None:
    def script(conn: int, commands: list[dict]) -> list[Any]:
        if conn == 1:
            return [snapshot(1, 1, M1, [["0.3000", "10.00"]], []),
                    {"type": "error", "sid": 1, "seq": 2, "msg": {"code": 25, "msg": "subscription buffer overflow"}}]
        return [snapshot(1, 1, M1, [["0.3000", "12.00"]], [])]

    ex, host = await scripted(script)
    c = await run_collector(host, key_file, tmp_path / "data", 2.5)
    assert ex.connections == 2
    assert c.counters.ws_errors == 1 and c.counters.connects == 2
    assert c.books.is_valid(M1) or c.valid_at_stop >= 1
    assert _book_sides(c, M1)[0] == {30.0: 12.0}
