"""Determinism (same seed + same commands -> same bytes), the pure model, the rate limiter, the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import date
from itertools import pairwise
from pathlib import Path

import aiohttp

from kalshi_collector.sim import SimExchange
from kalshi_collector.sim.model import ExchangeModel, event_ticker_for
from kalshi_collector.sim.ratelimit import RateLimiter, TokenBucket

from .conftest import active_tickers, connect, make_config

FIXED_NOW = 1_770_834_581_512  # 2026-02-11T18:29:41.512Z
CLI = str(Path(sys.executable).with_name("kalshi-collector"))  # the installed entry point, as users run it


async def scripted_session(key_pair, http) -> tuple[list[str], bytes]:  # noqa: ANN001
    """One scripted run: subscriptions, flow, a day change. Returns every frame and a REST page."""
    async with SimExchange(make_config(key_pair, clock=lambda: FIXED_NOW)) as sim:
        c = await connect(http, sim, key_pair)
        chi = active_tickers(sim)
        await c.call("subscribe", channels=["orderbook_delta"], market_tickers=chi[:3], use_yes_price=True)
        await c.call("subscribe", channels=["ticker", "trade", "market_lifecycle_v2"])
        sim.step(700)
        await c.call("update_subscription", sid=1, action="add_markets", market_tickers=[chi[4]])
        sim.advance_day()
        sim.step(300)
        await c.drain()
        async with http.get(sim.rest_url + "/markets/trades", params={"limit": "200"}) as r:
            rest = await r.read()
        await c.ws.close()
        return c.frames, rest


async def test_same_seed_same_commands_same_bytes(key_pair, http) -> None:  # noqa: ANN001
    first_frames, first_rest = await scripted_session(key_pair, http)
    second_frames, second_rest = await scripted_session(key_pair, http)
    assert len(first_frames) > 500
    assert first_frames == second_frames
    assert first_rest == second_rest


def build(**kw) -> ExchangeModel:  # noqa: ANN003
    values = dict(seed=3, series=("KXHIGHCHI", "KXHIGHNY"), brackets_per_event=6, history_days=4, cutoff_days=2,
                  history_trades_per_market=50, today=date(2026, 2, 11), now_ms=FIXED_NOW)
    values.update(kw)
    return ExchangeModel(**values)


def test_tickers_and_strikes_follow_kalshi_forms() -> None:
    model = build()
    assert event_ticker_for("KXHIGHCHI", date(2026, 2, 11)) == "KXHIGHCHI-26FEB11"
    event = model.event_by_ticker["KXHIGHCHI-26FEB11"]
    less, *between, greater = event.markets
    assert less.strike_type == "less" and less.ticker.endswith(f"-T{less.cap_strike}") and less.floor_strike is None
    assert less.yes_sub_title == f"{less.cap_strike - 1}° or below"
    assert greater.strike_type == "greater" and greater.ticker.endswith(f"-T{greater.floor_strike}")
    assert greater.yes_sub_title == f"{greater.floor_strike + 1}° or above"
    assert len(between) == 4
    for lo_market, hi_market in pairwise(between):
        assert hi_market.floor_strike == lo_market.floor_strike + 2
    for b in between:
        assert b.ticker.endswith(f"-B{b.floor_strike}.5") and b.cap_strike == b.floor_strike + 1
        assert b.yes_sub_title == f"{b.floor_strike}° to {b.cap_strike}°"
    assert between[0].floor_strike == less.cap_strike and greater.floor_strike == between[-1].cap_strike
    # times: close one minute before local-standard midnight (Chicago: UTC-6)
    assert less.close_ms == FIXED_NOW - FIXED_NOW % 86_400_000 + 86_400_000 + 6 * 3_600_000 - 60_000
    # realistic temperatures: a Chicago February bracket set sits near the normal high
    assert 10 < less.cap_strike < 60


def test_one_bracket_wins_each_settled_event() -> None:
    model = build(history_days=8)
    settled = [e for e in model.events if all(m.status == "finalized" for m in e.markets)]
    assert len(settled) >= 14
    for e in settled:
        assert [m.result for m in e.markets].count("yes") == 1


def test_live_flow_keeps_books_sane_and_timestamps_strict() -> None:
    model = build()
    outs = model.step(20_000, FIXED_NOW)
    assert outs
    fractional_seen = False
    for m in model.active:
        assert all(q > 0 for q in m.yes.values()) and all(q > 0 for q in m.no.values())
        if m.yes and m.no:
            assert max(m.yes) + max(m.no) <= 99  # never crossed
        ts = list(m.log_ts)
        assert all(b > a for a, b in pairwise(ts))
        fractional_seen |= any(q % 100 for q in m.yes.values())
        assert model.book_at(m, ts[-1]) == (m.yes, m.no)
    assert fractional_seen  # some markets trade fractional contracts


def test_a_million_history_trades_build_and_page() -> None:
    model = build(series=("KXHIGHCHI", "KXHIGHNY", "KXHIGHMIA", "KXHIGHAUS"), brackets_per_event=8,
                  history_days=30, history_trades_per_market=1100)
    assert model.gseq >= 1_000_000
    page = list(zip(range(1000), model.trade_indices(model.markets, min_ms=None, max_ms=None, before_gseq=None,
                                                      block=None), strict=False))
    gseqs = [m.t_gseq[i] for _, (m, i) in page]
    assert gseqs == sorted(gseqs, reverse=True) and gseqs[0] == model.gseq - 1


def test_token_bucket_and_limiter() -> None:
    bucket = TokenBucket(rate=100.0, capacity=200.0)
    assert sum(bucket.take(10, 0.0) for _ in range(25)) == 20  # 2 s of budget
    assert not bucket.take(10, 0.05) and bucket.take(10, 0.1)  # refills at 100 tokens/s
    limiter = RateLimiter(requests_per_s=5)
    assert sum(limiter.allow("key-a", 0.0) for _ in range(20)) == 10
    assert limiter.allow("key-b", 0.0)  # buckets are per caller


async def test_rest_rate_limit_answers_429(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair, rest_rate_limit=5.0)) as sim:
        statuses = []
        for _ in range(14):
            async with http.get(sim.rest_url + "/exchange/status") as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert await r.json() == {"error": "too many requests"}
                    assert "Retry-After" not in r.headers
        assert statuses[:10] == [200] * 10 and 429 in statuses[10:]


async def test_cli_prints_what_a_client_needs_and_stops_on_sigterm(tmp_path) -> None:  # noqa: ANN001
    proc = subprocess.Popen(
        [CLI, "sim", "--port", "0", "--series", "KXHIGHCHI",
         "--history-days", "2", "--state-dir", str(tmp_path), "--rate", "50", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        info = {}
        for _ in range(4):
            name, _, value = proc.stdout.readline().strip().partition(": ")
            info[name] = value
        assert set(info) == {"REST URL", "WS URL", "API key id", "private key"}
        assert info["private key"].startswith(str(tmp_path))
        async with aiohttp.ClientSession() as http:
            async with http.get(info["REST URL"] + "/exchange/status") as r:
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert proc.returncode == 0
    bad = subprocess.run([CLI, "sim", "--faults", "gap_every=abc"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--faults" in bad.stderr


async def test_pinned_today_runs_exchange_time_on_that_day(key_pair) -> None:  # noqa: ANN001
    config = make_config(key_pair)  # today = 2026-02-11, no clock: wall time shifted to that date
    async with SimExchange(config) as sim:
        assert time.strftime("%Y-%m-%d", time.gmtime(sim.now_ms() / 1000)) == "2026-02-11"
        sim.step(500)
        for m in sim.model.active:
            assert m.open_ms <= m.last_ts
        trades = [t for t in sim.truth.trades() if t["created_ms"] >= sim.now_ms() - 60_000]
        assert trades and all(
            sim.model.market_by_ticker[t["ticker"]].open_ms <= t["created_ms"] for t in trades)
