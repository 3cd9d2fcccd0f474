"""Book states of a folder a real collector wrote against the simulator (gaps injected): every
valid state, change by change, is a true book of the exchange at that moment, and sampling every
N seconds gives the same books as asking at each instant."""

from __future__ import annotations

import pandas as pd
import pytest

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.research import open_data
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from tests.live.simrun import candidate_truths, collector_config, read_tables

pytestmark = pytest.mark.slow


def _floats(state) -> dict:  # type: ignore[no-untyped-def]
    return {side: {float(lv.price): float(lv.size) for lv in state.levels(side)} for side in ("yes", "no")}


async def test_replayed_states_are_true_books(tmp_path) -> None:
    async with SimExchange(SimConfig(seed=5, faults=FaultPlan(gap_every=300), message_rate=300,
                                     state_dir=tmp_path / "sim")) as sim:
        collector = Collector(collector_config(sim, tmp_path / "data"), options=CollectorOptions(stats_interval=5))
        await collector.run(duration=6)
        t = read_tables(tmp_path / "data")
        data = open_data(tmp_path / "data")
        tape = t.tape.sort_values(["recv_ts", "conn", "seq"], kind="stable")
        start, end = tape["recv_ts"].min(), tape["recv_ts"].max()
        checked = invalid = 0
        for market in sorted(tape["market_ticker"].unique())[:8]:
            tape_m = tape[tape["market_ticker"] == market]
            states = list(data.books(market, start, end))
            assert len(states) >= len(tape_m[tape_m["kind"] == "delta"]) // 2
            for state in states[1::2]:
                if not state.valid:
                    invalid += 1
                    continue
                assert _floats(state) in candidate_truths(sim, market, tape_m, pd.Timestamp(state.ts)), (market, state.ts)
                checked += 1
            step = (end - start) / 10
            sampled = list(data.books(market, start, end, every=step.to_pytimedelta()))
            for state in sampled[::3]:
                at = data.book_at(market, state.ts)
                assert (at.as_dict(), at.valid) == (state.as_dict(), state.valid)
        assert checked >= 100, checked
        assert invalid >= 1, "the injected gaps make some states not valid"
        assert collector.counters.messages > 0
