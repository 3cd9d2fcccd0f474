"""Every fault kind happens when asked (plan or one-shot), is visible to a client, and is logged."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from kalshi_collector.sim import FaultPlan, SimExchange

from .conftest import active_tickers, make_config, sign_headers


async def raw_frames(ws: aiohttp.ClientWebSocketResponse, quiet: float = 0.3) -> tuple[list[str], str]:
    """Text frames until no text came for ``quiet`` seconds, plus how the read ended ("quiet" or
    the closing message type). Pings do not count as activity."""
    frames: list[str] = []
    last_text = time.monotonic()
    while True:
        left = last_text + quiet - time.monotonic()
        if left <= 0:
            return frames, "quiet"
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            return frames, "quiet"
        if msg.type == aiohttp.WSMsgType.TEXT:
            frames.append(msg.data)
            last_text = time.monotonic()
        elif msg.type == aiohttp.WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR,
                          aiohttp.WSMsgType.CLOSING):
            return frames, msg.type.name


def parsed(frames: list[str]) -> list[dict]:
    out = []
    for f in frames:
        try:
            m = json.loads(f)
        except ValueError:
            continue
        if isinstance(m, dict) and m.get("type") != "sim_unknown_message":
            out.append(m)
    return out


class BookStream:
    """A raw WebSocket subscribed to orderbook_delta; ``frames`` keeps every text frame received."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[str] = []

    async def read(self, quiet: float = 0.3) -> str:
        frames, ended = await raw_frames(self.ws, quiet)
        self.frames += frames
        return ended

    async def close(self) -> None:
        await self.ws.close()


async def open_book_stream(sim: SimExchange, http: aiohttp.ClientSession, key_pair, n_markets: int = 3,
                           **kw) -> BookStream:  # noqa: ANN001
    ws = await http.ws_connect(sim.ws_url, headers=sign_headers(key_pair, "GET", "/trade-api/ws/v2"), **kw)
    await ws.send_json({"id": 1, "cmd": "subscribe",
                        "params": {"channels": ["orderbook_delta"], "market_tickers": active_tickers(sim)[:n_markets]}})
    stream = BookStream(ws)
    await stream.read(0.15)
    return stream


def book_seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages if m.get("sid") == 1 and "seq" in m]


@pytest.mark.parametrize("one_shot", [False, True], ids=["plan", "inject"])
async def test_gap_duplicate_reorder(key_pair, http, one_shot: bool) -> None:  # noqa: ANN001
    plan = FaultPlan() if one_shot else FaultPlan(gap_every=13, duplicate_every=17, reorder_every=19)
    async with SimExchange(make_config(key_pair, faults=plan)) as sim:
        ws = await open_book_stream(sim, http, key_pair)
        if one_shot:
            for kind in ("gap", "duplicate", "reorder"):
                sim.inject(kind)
                sim.step(40)
        else:
            sim.step(400)
        await ws.read()
        frames = ws.frames
        seqs = book_seqs(parsed(frames))
        log = {k: [e for e in sim.fault_log if e["kind"] == k] for k in ("gap", "duplicate", "reorder")}
        assert all(log.values()), log
        received = set(seqs)
        for e in log["gap"]:
            assert e["seq"] not in received and e["conn"] == 1 and e["sid"] == 1 and e["ticker"]
        for e in log["duplicate"]:
            assert seqs.count(e["seq"]) == 2
        for e in log["reorder"]:
            i = seqs.index(e["seq"])
            assert i > 0 and seqs[i - 1] > e["seq"]  # sent after the next message on its sid
        assert set(range(1, max(seqs) + 1)) - received == {e["seq"] for e in log["gap"]}
        if one_shot:
            assert [len(v) for v in log.values()] == [1, 1, 1]
        await ws.close()


async def test_gap_leaves_the_truth_alone(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair, faults=FaultPlan(gap_every=3))) as sim:
        ws = await open_book_stream(sim, http, key_pair, n_markets=1)
        sim.step(300)
        await ws.read()
        ticker = active_tickers(sim)[0]
        async with http.get(f"{sim.rest_url}/markets/{ticker}/orderbook") as r:
            book = (await r.json())["orderbook_fp"]
        assert {round(float(p) * 100): float(q) for p, q in book["yes_dollars"]} == sim.truth.book(ticker)["yes"]
        await ws.close()


@pytest.mark.parametrize("one_shot", [False, True], ids=["plan", "inject"])
async def test_malformed_frames(key_pair, http, one_shot: bool) -> None:  # noqa: ANN001
    plan = FaultPlan() if one_shot else FaultPlan(malformed_every=10)
    async with SimExchange(make_config(key_pair, faults=plan)) as sim:
        ws = await open_book_stream(sim, http, key_pair)
        if one_shot:
            sim.inject("malformed")
        sim.step(200)
        await ws.read()
        frames = ws.frames
        broken = []
        for f in frames:
            try:
                m = json.loads(f)
            except ValueError:
                broken.append("not json")
                continue
            if m.get("type") == "sim_unknown_message":
                broken.append("unknown type")
        logged = [e for e in sim.fault_log if e["kind"] == "malformed"]
        assert len(broken) == len(logged) >= 1
        if not one_shot:
            assert {"not json", "unknown type"} <= set(broken)
        seqs = book_seqs(parsed(frames))
        assert seqs == list(range(1, len(seqs) + 1))  # garbage is extra: nothing real is lost
        await ws.close()


@pytest.mark.parametrize("one_shot", [False, True], ids=["plan", "inject"])
async def test_drop_closes_abruptly(key_pair, http, one_shot: bool) -> None:  # noqa: ANN001
    plan = FaultPlan() if one_shot else FaultPlan(drop_every=25)
    async with SimExchange(make_config(key_pair, faults=plan)) as sim:
        ws = await open_book_stream(sim, http, key_pair)
        if one_shot:
            sim.step(10)
            sim.inject("drop")
        sim.step(300)
        ended = await ws.read(quiet=2.0)
        assert ended != "quiet"
        assert ws.ws.close_code != 1000  # no orderly close frame from the server
        data = [m for m in parsed(ws.frames) if m["type"] == "orderbook_delta"]
        (entry,) = [e for e in sim.fault_log if e["kind"] == "drop"]
        assert data[-1]["seq"] == entry["seq"]
        if not one_shot:
            assert len(data) == 25  # data messages: the deltas (snapshots answer the subscribe)


async def test_stall_silences_everything_then_resumes(key_pair, http) -> None:  # noqa: ANN001
    plan = FaultPlan(stall_after=30, stall_seconds=0.8)
    async with SimExchange(make_config(key_pair, faults=plan, ping_interval=0.1)) as sim:
        stream = await open_book_stream(sim, http, key_pair, autoping=False)
        ws = stream.ws
        sim.step(200)
        got = 0
        last = time.monotonic()
        longest_silence = 0.0
        pings_during = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                msg = await ws.receive(timeout=1.5)
            except TimeoutError:
                break
            now = time.monotonic()
            longest_silence = max(longest_silence, now - last)
            last = now
            if msg.type == aiohttp.WSMsgType.TEXT:
                got += 1
            elif msg.type == aiohttp.WSMsgType.PING:
                await ws.pong(msg.data)
                pings_during += 1
        assert longest_silence >= 0.7  # neither data nor pings while stalled
        assert got > 30  # and everything comes through afterwards
        assert [e["kind"] for e in sim.fault_log] == ["stall"]
        assert pings_during > 0
        await ws.close()


async def test_stall_one_shot(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair)) as sim:
        ws = await open_book_stream(sim, http, key_pair)
        sim.inject("stall", seconds=0.6)
        start = time.monotonic()
        sim.step(50)
        await ws.read(quiet=1.5)
        assert time.monotonic() - start >= 0.6 and ws.frames
        assert [e["kind"] for e in sim.fault_log] == ["stall"]
        await ws.close()


async def test_rest_faults_from_the_plan(key_pair, http) -> None:  # noqa: ANN001
    plan = FaultPlan(rest_429_every=10, rest_429_burst=2, rest_5xx_every=7, rest_slow_every=9,
                     rest_slow_seconds=0.25, rest_truncate_every=8)
    async with SimExchange(make_config(key_pair, faults=plan)) as sim:
        seen = []
        for _ in range(30):
            start = time.monotonic()
            async with http.get(sim.rest_url + "/markets", params={"limit": "5"}) as r:
                body = await r.read()
                elapsed = time.monotonic() - start
                if r.status == 429:
                    assert json.loads(body) == {"error": "too many requests"} and "Retry-After" not in r.headers
                    seen.append("429")
                elif r.status >= 500:
                    seen.append(str(r.status))
                else:
                    try:
                        json.loads(body)
                        seen.append("slow" if elapsed >= 0.25 else "ok")
                    except ValueError:
                        seen.append("truncated")
        assert seen[9] == seen[10] == "429" and seen[19] == seen[20] == "429"  # bursts of two
        assert {"500", "502", "503"} <= set(seen)
        assert "slow" in seen and "truncated" in seen
        kinds = [e["kind"] for e in sim.fault_log]
        assert kinds.count("429") == seen.count("429")
        assert kinds.count("truncate") == seen.count("truncated")
        assert all(e["path"] == "/trade-api/v2/markets" for e in sim.fault_log)


async def test_rest_one_shots(sim, http) -> None:  # noqa: ANN001
    for kind, check in (("429", lambda s, b: s == 429), ("5xx", lambda s, b: s >= 500),
                        ("truncate", lambda s, b: s == 200 and not _is_json(b))):
        sim.inject(kind)
        async with http.get(sim.rest_url + "/exchange/status") as r:
            assert check(r.status, await r.read()), kind
        async with http.get(sim.rest_url + "/exchange/status") as r:
            assert r.status == 200  # one-shot: the next request is clean
    sim.inject("slow", seconds=0.3)
    start = time.monotonic()
    async with http.get(sim.rest_url + "/exchange/status") as r:
        assert r.status == 200
    assert time.monotonic() - start >= 0.3
    assert [e["kind"] for e in sim.fault_log] == ["429", "5xx", "truncate", "slow"]
    with pytest.raises(ValueError):
        sim.inject("meteor")


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
        return True
    except ValueError:
        return False


async def test_fault_plan_parse() -> None:
    plan = FaultPlan.parse("gap_every=500, drop_every=5000,stall_seconds=2.5")
    assert plan == FaultPlan(gap_every=500, drop_every=5000, stall_seconds=2.5)
    for bad in ("gap_every", "nope=1", "gap_every=x", "gap_every=0"):
        with pytest.raises(ValueError):
            FaultPlan.parse(bad)
    await asyncio.sleep(0)


async def test_variance_sends_real_world_variants_with_consistent_numbering(key_pair, http) -> None:  # noqa: ANN001
    from kalshi_collector.sim.variance import UNKNOWN_TYPE

    async with SimExchange(make_config(key_pair, faults=FaultPlan(variance_every=5))) as sim:
        ws = await open_book_stream(sim, http, key_pair)
        sim.step(400)
        await ws.read()
        msgs = [json.loads(f) for f in ws.frames]
        on_sid = [m for m in msgs if m.get("sid") == 1]
        seqs = [int(m["seq"]) for m in on_sid]
        assert seqs == list(range(1, len(seqs) + 1)), "every variant keeps the numbering (unknown types included)"
        deltas = [m for m in on_sid if m["type"] == "orderbook_delta"]
        assert any(isinstance(m["seq"], str) for m in deltas)
        assert any(isinstance(m["msg"].get("price_dollars"), float) for m in deltas)  # a bare number
        assert any("sim_new_field" in m["msg"] for m in deltas)
        assert any(m["type"] == UNKNOWN_TYPE for m in on_sid)
        undecodable = [m for m in deltas if m["msg"].get("price_dollars", "") is None]
        logged = [e for e in sim.fault_log if e["kind"] == "undecodable"]
        assert len(undecodable) == len(logged) >= 1
        assert {(e["sid"], e["seq"]) for e in logged} == {(1, int(m["seq"])) for m in undecodable}
        await ws.close()
        # a bare number keeps its digits on the wire
        assert any(b'"price_dollars":0.' in f.encode() and b'00,' in f.encode() for f in ws.frames)


async def test_variance_in_rest_listings_keeps_every_real_item(key_pair, http) -> None:  # noqa: ANN001
    from kalshi_collector.sim.variance import UNDECODABLE_ITEM

    async with SimExchange(make_config(key_pair, faults=FaultPlan(variance_every=3))) as plain_sim:
        async with http.get(plain_sim.rest_url + "/markets", params={"limit": "12"}) as r:
            body = await r.json()
    items = body["markets"]
    assert items[-1] == UNDECODABLE_ITEM and len(items) == 13
    real = items[:-1]
    assert all(isinstance(m["ticker"], str) for m in real)
    assert any(m.get("yes_bid_dollars") == "" for m in real) or any("sim_new_field" in m for m in real)
    assert any(isinstance(m.get("volume_fp"), float) for m in real)
