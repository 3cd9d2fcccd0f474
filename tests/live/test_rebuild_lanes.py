"""``rebuild`` of a run over several connections at once (lanes): every lane records into the one
raw tape, and the replay keeps each connection's numbering, sequence and resync apart, so the
derived rows come out the same, table by table, under stream faults on every lane."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage
from tests.live.simrun import collector_config
from tests.live.test_rebuild import assert_rebuild_equals_live

pytestmark = pytest.mark.slow

PER_CONNECTION = 3


async def _record(tmp_path: Path, seconds: float) -> tuple[Path, Collector]:
    faults = FaultPlan(gap_every=150, duplicate_every=350, reorder_every=450, malformed_every=120)
    async with SimExchange(SimConfig(seed=23, faults=faults, message_rate=300, state_dir=tmp_path / "sim")) as sim:
        cfg = collector_config(sim, tmp_path / "data", rest_check_interval_seconds=0.3,
                               markets_per_connection=PER_CONNECTION, subscribe_batch=2)
        collector = Collector(cfg, options=CollectorOptions(stats_interval=5, resync_retry_seconds=1.0))

        async def inject() -> None:
            for after, kind in ((3, "drop"), (1, "advance_day"), (1, "drop"), (2, "drop")):
                await asyncio.sleep(after)
                if kind == "advance_day":  # markets settle and open: every lane's markets move
                    sim.advance_day()
                else:  # lands on whichever connection sends next
                    sim.inject(kind)

        injector = asyncio.create_task(inject())
        await collector.run(duration=seconds)
        injector.cancel()
    return tmp_path / "data", collector


def _overlapping_connections(raw: pd.DataFrame) -> int:
    """The most connections open at one moment of the tape."""
    open_now, most = set(), 0
    for conn, kind in zip(raw["conn"], raw["kind"], strict=True):
        if kind == "open":
            open_now.add(conn)
        elif kind == "close":
            open_now.discard(conn)
        most = max(most, len(open_now))
    return most


async def test_rebuild_of_a_run_over_several_lanes_gives_the_rows_the_live_run_wrote(tmp_path: Path) -> None:
    data, collector = await _record(tmp_path, 12)
    assert len(collector.lanes) >= 2 and collector.counters.disconnects >= 2, (len(collector.lanes), collector.counters)
    live = ParquetStorage(data)
    raw = live.read_parquets("raw_ws").sort_values("n")
    assert _overlapping_connections(raw) >= 2
    lanes_opened = {msgspec.json.decode(d)["lane"] for d, k in zip(raw["data"], raw["kind"], strict=True)
                    if k == "open"}
    assert lanes_opened == set(range(len(collector.lanes)))
    markets = [msgspec.json.decode(d) for d, k in zip(raw["data"], raw["kind"], strict=True) if k == "markets"]
    assert len(markets[-1]["lanes"]) == len(collector.lanes) and any(m["forget"] for m in markets)
    checks = [msgspec.json.decode(d) for d, k in zip(raw["data"], raw["kind"], strict=True) if k == "crosscheck"]
    assert {c["lane"] for c in checks} - {0}, "cross-checks routed to the lane that owns the market"
    assert_rebuild_equals_live(data, tmp_path / "out", live, records=len(raw))
    events = live.read_parquets("book_events")
    assert {"gap", "recovered", "disconnect", "resync_requested"} <= set(events["action"])
    # the same sid number on two connections is two subscriptions
    deltas = live.read_parquets("orderbook_deltas")
    assert deltas.groupby("sid")["conn"].nunique().max() >= 2
