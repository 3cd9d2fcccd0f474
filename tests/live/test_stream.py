"""The stream against a real WebSocket server on loopback: signed connect, subscribe callable, frames
handed on in order, reconnect with backoff after a drop, a refused handshake, a bug in a callable,
and a stop that reports "stopping"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

from kalshi_collector.kalshi.auth import HEADER_KEY, HEADER_SIG, KalshiSigner
from kalshi_collector.kalshi.ws import Backoff, WsConnection
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.stream import Stream


class Server:
    """Per connection: wait for one command, answer ``frames`` (numbered) and then close, or keep
    the socket open when ``close_after`` is False. ``refuse`` answers the upgrade with 401."""

    def __init__(self, frames: int = 3) -> None:
        self.frames = frames
        self.close_after = True
        self.refuse = False
        self.connections = 0
        self.commands: list[dict] = []
        self.headers: list[dict[str, str]] = []

    async def ws(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            return web.Response(status=401, text="bad signature")
        self.headers.append(dict(request.headers))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        conn = self.connections
        async for msg in ws:
            self.commands.append(json.loads(msg.data))
            for i in range(self.frames):
                await ws.send_str(json.dumps({"conn": conn, "n": i}))
            if self.close_after:
                await ws.close()
        return ws


@pytest.fixture()
async def server() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    app = web.Application()
    app.router.add_get("/trade-api/ws/v2", srv.ws)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield srv, f"ws://127.0.0.1:{port}/trade-api/ws/v2"
    await runner.cleanup()


class Recorder:
    def __init__(self) -> None:
        self.frames: list[dict] = []
        self.events: list[str] = []
        self.connected_seen: list[bool] = []
        self.stream: Stream | None = None
        self.ready_answers: list[bool] = []

    async def ready(self) -> bool:
        return self.ready_answers.pop(0) if self.ready_answers else True

    async def on_connected(self, conn: WsConnection) -> None:
        self.events.append(f"connected {conn.number}")
        await conn.send(b'{"id": 1, "cmd": "subscribe"}')

    def on_frame(self, recv_ts: float, frame: str | bytes) -> None:
        assert self.stream is not None
        self.connected_seen.append(self.stream.connected)
        self.frames.append(json.loads(frame))

    def on_disconnected(self, why: str) -> None:
        self.events.append(why)


def make_stream(url: str, rec: Recorder, counters: Counters, signer: KalshiSigner | None = None,
                **kw: object) -> Stream:
    stream = Stream(url, signer, counters, ready=rec.ready, on_connected=rec.on_connected, on_frame=rec.on_frame,
                    on_disconnected=rec.on_disconnected, backoff=Backoff(initial=0.02, cap=0.05), **kw)  # type: ignore[arg-type]
    rec.stream = stream
    return stream


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_frames_are_handed_on_and_a_drop_reconnects(server: tuple[Server, str], key_file: Path) -> None:
    srv, url = server
    rec, counters = Recorder(), Counters()
    stream = make_stream(url, rec, counters, KalshiSigner.from_files("key-id", key_file))
    task = asyncio.create_task(stream.run())
    await _until(lambda: len(rec.frames) >= 6)
    stream.stop()
    await task
    assert rec.frames[:6] == [{"conn": c, "n": n} for c in (1, 2) for n in range(3)], "in order, per connection"
    assert all(rec.connected_seen)
    assert rec.events[:2] == [rec.events[0], "lost"] and rec.events[0].startswith("connected ")
    assert counters.connects >= 2 and counters.disconnects >= 1
    assert srv.commands[0] == {"id": 1, "cmd": "subscribe"}
    assert srv.headers[0][HEADER_KEY] == "key-id" and srv.headers[0][HEADER_SIG]
    assert not stream.connected and stream.conn is None


async def test_stop_while_connected_says_stopping(server: tuple[Server, str]) -> None:
    srv, url = server
    srv.close_after = False
    rec, counters = Recorder(), Counters()
    stream = make_stream(url, rec, counters)
    task = asyncio.create_task(stream.run())
    await _until(lambda: len(rec.frames) == 3)
    assert stream.connected
    assert stream.send_soon(b'{"id": 2, "cmd": "list_subscriptions"}')
    await _until(lambda: len(srv.commands) == 2)
    stream.stop()
    task.cancel()  # what the collector does on the way out
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.events[-1] == "stopping" and counters.disconnects == 0


async def test_a_terminal_drop_closes_the_connection_and_the_stream_comes_back(server: tuple[Server, str]) -> None:
    srv, url = server
    srv.close_after = False
    rec, counters = Recorder(), Counters()
    stream = make_stream(url, rec, counters, healthy_after=0.0)
    task = asyncio.create_task(stream.run())
    await _until(lambda: len(rec.frames) == 3)
    stream.drop()
    await _until(lambda: len(rec.frames) == 6)
    assert stream.backoff.attempt == 0, "a healthy connection resets the backoff"
    stream.stop()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert srv.connections == 2 and rec.events[1:] == ["lost", rec.events[2], "stopping"]


async def test_a_refused_handshake_is_counted_and_retried(server: tuple[Server, str]) -> None:
    srv, url = server
    srv.refuse = True
    rec, counters = Recorder(), Counters()
    stream = make_stream(url, rec, counters)
    task = asyncio.create_task(stream.run())
    await _until(lambda: counters.handshake_refused >= 2)
    stream.stop()
    await task
    assert rec.events == [] and counters.connects == 0, "never connected: nothing to report lost"


@pytest.mark.parametrize(("path", "names", "not_named"), [
    ("/trade-api/ws/v9", "check kalshi.ws_url", "api_key_id"),  # 404: a wrong path, not a key problem
    ("/trade-api/ws/v2", "check kalshi.api_key_id and kalshi.private_key_path", "ws_url"),  # 401
])
async def test_a_refused_handshake_names_the_setting(server: tuple[Server, str], caplog: pytest.LogCaptureFixture,
                                                     path: str, names: str, not_named: str) -> None:
    srv, url = server
    srv.refuse = True
    rec, counters = Recorder(), Counters()
    stream = make_stream(url.replace("/trade-api/ws/v2", path), rec, counters)
    task = asyncio.create_task(stream.run())
    await _until(lambda: counters.handshake_refused >= 1)
    stream.stop()
    await task
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors and names in errors[0] and not_named not in errors[0], errors


async def test_a_bug_in_a_callable_costs_a_reconnect(server: tuple[Server, str]) -> None:
    srv, url = server
    rec, counters = Recorder(), Counters()

    def broken(recv_ts: float, frame: str | bytes) -> None:
        raise RuntimeError("bug")

    stream = make_stream(url, rec, counters)
    stream.on_frame = broken
    task = asyncio.create_task(stream.run())
    await _until(lambda: counters.stream_errors >= 2)
    stream.stop()
    await task
    assert counters.disconnects >= 2 and srv.connections >= 2


async def test_nothing_to_subscribe_means_no_connection_yet(server: tuple[Server, str]) -> None:
    srv, url = server
    rec, counters = Recorder(), Counters()
    rec.ready_answers = [False, False]
    stream = make_stream(url, rec, counters)
    task = asyncio.create_task(stream.run())
    await _until(lambda: len(rec.frames) >= 3)
    stream.stop()
    await task
    assert rec.ready_answers == [] and srv.connections >= 1
    assert not stream.send_soon(b"{}"), "not connected: nothing sent"
