"""A trade the exchange sends twice (the simulator's duplicate fault) is stored once in trades_live."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage
from tests.live.simrun import collector_config


async def test_a_duplicated_websocket_trade_is_stored_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sim_config = SimConfig(seed=4, message_rate=400, faults=FaultPlan(duplicate_every=3), state_dir=tmp_path / "sim")
    async with SimExchange(sim_config) as sim:
        collector = Collector(collector_config(sim, data), options=CollectorOptions(stats_interval=60))
        await collector.run(duration=4.0)
    raw = pa.concat_tables([pq.read_table(p) for p in sorted(data.glob("trades_live/**/part-*.parquet"))])
    raw_ids = raw.column("trade_id").to_pylist()
    assert len(raw_ids) > len(set(raw_ids)) > 0, "the fault should have put repeated trades on the tape"
    stored = ParquetStorage(data).read_parquets("trades_live")
    assert len(stored) == len(set(raw_ids)) and not stored["trade_id"].duplicated().any()
    assert collector.counters.seq_breaks, "the duplicates were seen as such on the stream"
