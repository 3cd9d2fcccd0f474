"""Discovery follows the series: tomorrow's event is picked up, settled ones are dropped."""

from __future__ import annotations

import asyncio

import pytest

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import SimConfig, SimExchange
from tests.live.simrun import collector_config, read_tables

pytestmark = pytest.mark.slow


async def test_a_new_day_opens_and_the_old_event_is_dropped(tmp_path) -> None:
    async with SimExchange(SimConfig(seed=21, series=("KXHIGHCHI",), message_rate=200, state_dir=tmp_path / "sim")) as sim:
        # a long periodic re-listing: the switch must come from market_lifecycle_v2 messages
        cfg = collector_config(sim, tmp_path / "data", discovery_interval_seconds=600)
        collector = Collector(cfg, options=CollectorOptions(stats_interval=60))
        run = asyncio.create_task(collector.run(duration=15))
        await asyncio.sleep(4)
        before = set(collector.markets)
        old_events = {m.event_ticker for m in collector.markets.values()}
        # Two days: whether tomorrow's event is already open at start depends on the wall clock
        # (its open time); after two, a day that was still initialized at start has opened.
        sim.advance_day()
        await asyncio.sleep(3)
        sim.advance_day()
        await asyncio.sleep(5)
        after = set(collector.markets)
        await run
    assert before and after and before != after
    new_events = {m.event_ticker for m in collector.markets.values()}
    assert new_events - old_events, "the newly opened day's event was not picked up"
    settled = {m["ticker"] for m in sim.truth.markets() if m["status"] in ("determined", "finalized")}
    assert settled & before, "the test expects one of the tracked events to settle"
    assert not (settled & after), "settled markets must be dropped"
    t = read_tables(tmp_path / "data")
    last = t.market[t.market["snapshot_ts"] == t.market["snapshot_ts"].max()]
    assert set(last["market_ticker"]) == after
    assert last["book_valid"].all(), "the new markets were subscribed and their books built"
