"""Following the whole exchange against the simulator with Kalshi's limits enforced: every open
market is found, spread over several connections (each subscription under the per-subscription
market limit, error 26 never seen), books built; new markets picked up, settled ones dropped; a
category filter follows only its category."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.sim.wshub import WsLimits
from tests.live.simrun import collector_config

pytestmark = pytest.mark.slow

PER_CONNECTION = 150


def _sim_config(tmp_path, **kw) -> SimConfig:  # noqa: ANN001
    return SimConfig(seed=5, series=("KXHIGHCHI",), universe_markets=500, history_days=0,
                     history_trades_per_market=0, message_rate=300, busy_markets=30,
                     ws_limits=WsLimits(max_markets_per_subscription=PER_CONNECTION),
                     state_dir=tmp_path / "sim", **kw)


def _subscribed(collector: Collector) -> dict[str, int]:
    """Market -> lane, from what the exchange granted (the ok/subscribed replies)."""
    out: dict[str, int] = {}
    for lane in collector.lanes:
        subs = lane.handler.conn.subs
        sid = subs.sid("orderbook_delta")
        for t in subs.markets(sid) if sid is not None else ():
            assert t not in out, f"{t} subscribed on two connections"
            out[t] = lane.number
    return out


async def _until(check, seconds: float) -> None:  # noqa: ANN001
    for _ in range(int(seconds * 10)):
        if check():
            return
        await asyncio.sleep(0.1)


async def test_follow_all_spreads_the_exchange_over_connections(tmp_path) -> None:
    async with SimExchange(_sim_config(tmp_path)) as sim:
        cfg = collector_config(sim, tmp_path / "data", follow_all=True, markets_per_connection=PER_CONNECTION,
                               subscribe_batch=40, discovery_interval_seconds=600)
        c = Collector(cfg, options=CollectorOptions(stats_interval=60, nudge_coalesce_seconds=0.5))
        run = asyncio.create_task(c.run(duration=30))
        open_now = {m.ticker for m in sim.model.active}
        await _until(lambda: set(_subscribed(c)) == open_now and c.books.valid_count() == len(open_now), 20)
        granted = _subscribed(c)
        assert set(c.markets) == open_now and set(granted) == open_now
        assert len(c.lanes) == -(-len(open_now) // PER_CONNECTION) and len(sim.hub.conns) == len(c.lanes)
        assert c.books.valid_count() == len(open_now)
        assert c.counters.ws_errors == 0  # no subscription ever went past the limit (error 26)
        channels = c.view().subscribed_channels
        assert "market_lifecycle_v2" in channels and "orderbook_delta" in channels
        before = set(c.markets)
        sim.advance_day()  # the oldest events settle, the next day's open
        open_after = {m.ticker for m in sim.model.active}
        await _until(lambda: set(_subscribed(c)) == open_after and c.books.valid_count() == len(open_after), 15)
        c.stop()
        await run
    assert open_after != before
    assert set(c.markets) == open_after, "new markets picked up and settled ones dropped"
    assert set(_subscribed(c)) == open_after or not c.stream.connected


async def test_follow_categories_follows_only_those(tmp_path) -> None:
    async with SimExchange(_sim_config(tmp_path)) as sim:
        cfg = collector_config(sim, tmp_path / "data", follow_categories=["Crypto"],
                               markets_per_connection=PER_CONNECTION, discovery_interval_seconds=600)
        cfg = msgspec.structs.replace(cfg, event_series=[])
        c = Collector(cfg, options=CollectorOptions(stats_interval=60))
        crypto = {m.ticker for m in sim.model.active if m.event.series.category == "Crypto"}
        run = asyncio.create_task(c.run(duration=20))
        await _until(lambda: c.books.valid_count() == len(crypto) and set(_subscribed(c)) == crypto, 15)
        c.stop()
        await run
    assert crypto and set(c.markets) == crypto
