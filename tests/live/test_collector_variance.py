"""The live collector against a simulator that speaks the real-world payload variance
(``FaultPlan.variance_every``, sim/variance.py): numbers as text and text as numbers, ``""``, unknown
fields and types, trades without ``ts_ms``, lifecycle without ``seq``, ``ok`` with top-level
``market_tickers``, undecodable bodies, and odd or unreadable items in REST listings.

Nothing is lost that a correct client can read (tape complete against the ground truth, every trade
recorded), what cannot be read is in ``rejects`` with its bytes, and the variance causes no sequence
break (no false gap, no needless resync).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.discovery import LIVE_STATUSES
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.sim.variance import UNDECODABLE_ITEM, UNKNOWN_TYPE
from tests.live.simrun import (
    check_tape_complete,
    check_valid_snapshots_match_truth,
    collector_config,
    read_tables,
)

pytestmark = pytest.mark.slow

SECONDS = 15
MARGIN_MS = 1500  # trades this close to the run's edges may be in flight at start or stop


async def _run(tmp_path):
    plan = FaultPlan(variance_every=25)
    async with SimExchange(SimConfig(seed=5, faults=plan, message_rate=400, state_dir=tmp_path / "sim")) as sim:
        collector = Collector(collector_config(sim, tmp_path / "data"), options=CollectorOptions(stats_interval=5))
        collector.handler.CENSUS_EVERY = 7  # sample more often than in production (a short run)
        await collector.run(duration=SECONDS)
        return sim, collector, read_tables(tmp_path / "data")


def _frame_numbers(raw: bytes) -> tuple[int, int]:
    obj = json.loads(raw)
    return int(obj["sid"]), int(obj["seq"])


def _open_markets(sim: SimExchange, series: list[str]) -> set[str]:
    """What discovery must find: the live markets of every open event of the followed series."""
    markets = [m for m in sim.truth.markets() if not m["historical"] and m["event_ticker"].split("-")[0] in series]
    open_events = {m["event_ticker"] for m in markets if m["status"] == "active"}
    return {m["ticker"] for m in markets if m["event_ticker"] in open_events and m["status"] in LIVE_STATUSES}


def _check_trades(sim: SimExchange, t, undecodable: set[tuple[str, int]]) -> int:
    """Every true trade of a recorded market inside the run is in trades_live, unless sent undecodable."""
    got = set(t.trades["trade_id"])
    lo = int(t.tape["recv_ts"].min().value // 1_000_000) + MARGIN_MS
    hi = int(t.tape["recv_ts"].max().value // 1_000_000) - MARGIN_MS
    missing, checked = [], 0
    for ticker in t.tape["market_ticker"].unique():
        for tr in sim.truth.trades(ticker):
            if lo < tr["created_ms"] < hi and (ticker, tr["created_ms"]) not in undecodable:
                checked += 1
                if tr["trade_id"] not in got:
                    missing.append(tr["trade_id"])
    assert not missing, f"{len(missing)} of {checked} trades missing, e.g. {missing[:3]}"
    return checked


async def test_variance_loses_nothing_keeps_rejects_raw_and_causes_no_false_resync(tmp_path) -> None:
    sim, collector, t = await _run(tmp_path)
    log = sim.fault_log
    kinds = {f["kind"] for f in log}
    assert {"variance", "undecodable", "rest_variance"} <= kinds, kinds
    c = collector.counters

    # no false gap, no needless resync: the variance causes no sequence break at all
    assert sum(c.seq_breaks.values()) == 0, c.seq_breaks
    assert not t.events["action"].isin(["gap", "duplicate", "out_of_order"]).any()

    # what cannot be read is in rejects, with the bytes as sent
    ws = t.rejects[t.rejects["source"] == "ws"]
    sent_bad = {(f["sid"], f["seq"]) for f in log if f["kind"] == "undecodable"}
    kept = {_frame_numbers(raw) for raw in ws["raw"]}
    assert kept and kept <= sent_bad, (kept - sent_bad)
    assert len(sent_bad - kept) <= 2, "only the last ones may be in flight at stop"
    assert ws["error"].str.startswith("bad ").all() and ws["conn"].notna().all()
    rest = t.rejects[t.rejects["source"].str.startswith("rest:")]
    assert len(rest) >= 1 and all(json.loads(raw) == UNDECODABLE_ITEM for raw in rest["raw"])
    assert c.rejects["ws"] == len(ws) and sum(v for k, v in c.rejects.items() if k != "ws") == len(rest)

    # every variant that can be read was read: repairs and unknown types counted, nothing else lost
    repaired = {(r.record, r.repair.value) for r in c.field_repairs}
    assert {("orderbook_delta", "number_from_text"), ("orderbook_delta", "text_from_number")} <= repaired, repaired
    assert c.unknown_types.get(UNKNOWN_TYPE, 0) >= 1
    assert {f.field for f in c.unknown_fields} >= {"sim_envelope_note", "msg.sim_new_field"}, c.unknown_fields
    assert c.handler_errors == 0
    undecodable = {(f["ticker"], f["ts_ms"]) for f in log if f["kind"] == "undecodable"}
    assert check_tape_complete(sim, t, skipped_kinds=("gap", "undecodable")) > 1000
    assert _check_trades(sim, t, undecodable) > 20
    assert check_valid_snapshots_match_truth(sim, t, min_checked=100) >= 100
    # discovery kept every real market of the varied listings (the unreadable extra item alone was left out)
    assert set(collector.markets) == _open_markets(sim, collector.config.event_series)
    # a trade sent with `ts` seconds only got its exchange time from it
    assert (t.trades["exchange_ts"].dt.microsecond == 0).any()
    assert not t.trades["exchange_ts"].isna().any()
    assert (pd.Series(t.rejects["raw"].map(len)) > 0).all()
