"""Smoke version of bench/bench_scale.py: a 20,000-market exchange followed whole for a few
seconds. Every open market must be granted on exactly one connection (within the simulator's
per-subscription limit) and every book built and valid; no exchange error."""

from __future__ import annotations

import asyncio
import time

import pytest

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.sim.wshub import WsLimits
from tests.live.simrun import collector_config

pytestmark = pytest.mark.slow

MARKETS = 20_000
PER_CONNECTION = 5_000


async def test_twenty_thousand_markets_subscribed_and_valid(tmp_path) -> None:
    cfg = SimConfig(seed=3, series=("KXHIGHCHI",), universe_markets=MARKETS, history_days=0,
                    history_trades_per_market=0, message_rate=2_000, busy_markets=300,
                    ws_limits=WsLimits(max_markets_per_subscription=PER_CONNECTION, commands_per_second=100),
                    state_dir=tmp_path / "sim")
    async with SimExchange(cfg) as sim:
        settings = collector_config(sim, tmp_path / "data", follow_all=True, markets_per_connection=PER_CONNECTION,
                                    discovery_interval_seconds=600, rest_check_interval_seconds=0)
        c = Collector(settings, options=CollectorOptions(stats_interval=600))
        open_now = {m.ticker for m in sim.model.active}
        assert len(open_now) >= MARKETS
        run = asyncio.create_task(c.run(duration=120))
        deadline = time.monotonic() + 90
        granted: dict[str, int] = {}
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            granted = {}
            for lane in c.lanes:
                subs = lane.handler.conn.subs
                sid = subs.sid("orderbook_delta")
                granted.update({t: lane.number for t in (subs.markets(sid) if sid is not None else ())})
            if set(granted) == open_now and c.books.valid_count() == len(open_now):
                break
        valid = c.books.valid_count()
        c.stop()
        await run
    assert set(c.markets) == open_now
    assert set(granted) == open_now, f"{len(open_now - set(granted))} markets not subscribed"
    assert valid == len(open_now)
    assert all(not b.crossed for b in c.books)
    assert len(c.lanes) == -(-len(open_now) // PER_CONNECTION)
    assert c.counters.ws_errors == 0
