"""Crash safety of the real daemon process: kill -9 loses nothing older than a second; SIGTERM flushes all."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.storage.journal import read_segment
from tests.live.simrun import read_tables, write_config_file

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


async def _start_collector(config: Path, log: Path, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("KALSHI_API_KEY_ID", None)
    env.pop("KALSHI_PRIVATE_KEY_PATH", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kalshi_collector.cli", "collect", "--config", str(config), *extra,
        stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT, env=env, cwd=str(REPO),
    )


async def _wait_for_rows(data_dir: Path, timeout: float = 20.0) -> None:
    """Wait until the collector is live (its journal has content)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        journal = data_dir / "_journal"
        # segments are preallocated: their size says nothing, the end of their data does
        if journal.exists() and sum(read_segment(p).data_end for p in journal.glob("*.wal")) > 20_000:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("collector produced no journal data in time")


def _every_parquet_readable(data_dir: Path) -> int:
    files = [p for p in data_dir.rglob("*.parquet") if "_rejected" not in p.parts]
    for p in files:
        pq.read_table(p)  # raises on a torn file
    assert not [p for p in data_dir.rglob("*.tmp")], "temporary files left behind"
    return len(files)


def _tracked(sim: SimExchange) -> list[str]:
    return [m["ticker"] for m in sim.truth.markets() if m["status"] == "active"]


async def test_kill_9_mid_run_loses_nothing_received_more_than_a_second_before(tmp_path: Path) -> None:
    async with SimExchange(SimConfig(seed=5, message_rate=400, state_dir=tmp_path / "sim")) as sim:
        data = tmp_path / "data"
        cfg = write_config_file(tmp_path / "config.yaml", sim, data)
        log = tmp_path / "collector.log"
        proc = await _start_collector(cfg, log)
        await _wait_for_rows(data)
        await asyncio.sleep(3.0)
        killed_ms = sim.now_ms()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert list((data / "_journal").glob("*.wal")), "the kill left an unflushed journal to recover"
        # restart: the journal is replayed, then collection goes on
        proc = await _start_collector(cfg, log, "--duration", "3")
        assert await asyncio.wait_for(proc.wait(), 60) == 0, log.read_text()[-3000:]
        assert "recovered rows from the journal" in log.read_text()

        assert _every_parquet_readable(data) > 0
        t = read_tables(data)
        first_ms = int(t.tape["recv_ts"].min().value // 1_000_000)
        window = (first_ms + 1000, killed_ms - 1000)
        # every trade of the tracked markets in the window reached disk exactly once
        expected = {
            tr["trade_id"] for m in _tracked(sim) for tr in sim.truth.trades(m)
            if window[0] <= tr["created_ms"] <= window[1]
        }
        assert len(expected) > 10
        stored = t.trades["trade_id"]
        assert expected <= set(stored), f"{len(expected - set(stored))} trades lost"
        assert not stored.duplicated().any(), "journal replay duplicated trades"
        # and every book change in the window is on the tape
        tape_ts = {(m, int(ts.value // 1_000_000)) for m, ts in
                   zip(t.tape["market_ticker"], t.tape["exchange_ts"], strict=True) if ts is not None and ts == ts}
        changes = [(m, ts) for m in _tracked(sim) for ts in sim.truth.book_ts(m) if window[0] <= ts <= window[1]]
        assert len(changes) > 150
        lost = [c for c in changes if c not in tape_ts]
        assert not lost, f"{len(lost)} book changes lost, e.g. {lost[:3]}"
        deltas = t.tape[t.tape["kind"] == "delta"]
        assert not deltas.duplicated(["conn", "sid", "seq"]).any(), "journal replay duplicated tape rows"
        _check_raw_tape(data, expected)


def _check_raw_tape(data: Path, trade_ids: set[str]) -> None:
    """The raw tape survived the kill like the derived tables: every trade frame of the window is
    in raw_ws exactly once, and each of the two runs is one unbroken range of n (the killed run
    may only have lost its unsynced tail)."""
    raw = ParquetStorage(data).read_parquets("raw_ws").sort_values("n")
    assert not raw["n"].duplicated().any(), "journal replay duplicated raw records"
    jumps = raw["n"].diff().dropna()
    assert (jumps != 1).sum() == 1, "two runs, each a contiguous range of n"
    frames = [json.loads(d) for d in raw.loc[raw["kind"] == "in", "data"]]
    seen = [f["msg"]["trade_id"] for f in frames if f.get("type") == "trade"]
    assert trade_ids <= set(seen), f"{len(trade_ids - set(seen))} trade frames lost from the raw tape"
    assert len(seen) == len(set(seen)), "a trade frame recorded twice"


async def test_sigterm_flushes_everything_received(tmp_path: Path) -> None:
    async with SimExchange(SimConfig(seed=6, message_rate=300, state_dir=tmp_path / "sim")) as sim:
        data = tmp_path / "data"
        # the flow is paused before the stop: a quiet stream must not read as a stall here
        cfg = write_config_file(tmp_path / "config.yaml", sim, data, rest_check_interval_seconds=0.5,
                                stall_timeout_seconds=30)
        log = tmp_path / "collector.log"
        proc = await _start_collector(cfg, log)
        await _wait_for_rows(data)
        await asyncio.sleep(4.0)
        sim.pause_flow()  # nothing new after this point: the stored data can be compared exactly
        await asyncio.sleep(2.5)  # at least one snapshot cycle (1 s) after the last delta landed
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, log.read_text()[-3000:]
        text = log.read_text()
        assert "SIGTERM received" in text and "Traceback" not in text
        assert not list((data / "_journal").glob("*.wal")) or all(
            p.stat().st_size < 64 for p in (data / "_journal").glob("*.wal")
        ), "a clean stop leaves no journal rows behind"
        _every_parquet_readable(data)
        t = read_tables(data)
        first_ms = int(t.tape["recv_ts"].min().value // 1_000_000)
        expected = {
            tr["trade_id"] for m in _tracked(sim) for tr in sim.truth.trades(m) if tr["created_ms"] >= first_ms + 1000
        }
        assert expected and expected <= set(t.trades["trade_id"])
        # a clean run: every valid book agreed with REST whenever it was cross-checked
        assert not (t.events["action"] == "rest_mismatch").any()
        # the last snapshot of every market matches the (now frozen) true book
        last = t.market[t.market["snapshot_ts"] == t.market["snapshot_ts"].max()]
        assert last["book_valid"].all()
        for m in last["market_ticker"]:
            rows = t.orderbook[(t.orderbook["snapshot_ts"] == last["snapshot_ts"].iloc[0]) & (t.orderbook["market_ticker"] == m)]
            ours = {s: {float(p): float(q) for p, q in zip(g["price_cents"], g["quantity"], strict=True)}
                    for s, g in rows.groupby("side")}
            truth = {s: {float(p): q for p, q in lv.items()} for s, lv in sim.truth.book(m).items() if lv}
            assert ours == truth, m
