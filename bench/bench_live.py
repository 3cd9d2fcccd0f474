"""Live collector under load: (c) sustained message rate, latency, memory; (d) stored bytes per row.

The simulator runs as its own process (so it does not share our CPU time slice) and pushes a
high order-flow rate. Two consumers read the same kind of stream in turn:

* baseline — a bare aiohttp client that only ``json.loads`` each frame (no book, no storage);
* ours — the real :class:`Collector` (decode, seq check, tape, book, snapshots every second,
  journal, flushes).

Printed: messages/s, p50/p99 latency from the exchange's ``ts_ms`` to "applied" (and from the
frame leaving aiohttp to applied), the aiohttp receive-queue depth over time (flat = keeping up),
peak RSS; then bytes per stored row of ``orderbook_snapshots`` and ``orderbook_deltas`` after
compaction, beside pandas' default ``to_parquet`` of the same rows.

Environment knobs: ``BENCH_LIVE_SECONDS`` (default 60), ``BENCH_LIVE_RATE`` (sim events/s, default 14000 = about 20,000 messages/s).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import numpy as np

from kalshi_collector.config import config_from_dict
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.storage import ParquetStorage

SECONDS = float(os.environ.get("BENCH_LIVE_SECONDS", "60"))
BASELINE_SECONDS = min(15.0, SECONDS)
RATE = float(os.environ.get("BENCH_LIVE_RATE", "14000"))
SERIES = ["KXHIGHCHI", "KXHIGHNY", "KXHIGHMIA", "KXHIGHAUS", "KXHIGHDEN", "KXHIGHLAX", "KXHIGHPHIL"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sim_info(proc: subprocess.Popen) -> dict[str, str]:
    """What a started ``kalshi-collector sim`` prints: its URLs and the key it made."""
    info: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"^(REST URL|WS URL|API key id|private key): (.+)$", line.strip())
        if m:
            info[m.group(1)] = m.group(2)
        if len(info) == 4:
            break
    return info


def start_sim(state: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_collector.cli", "sim", "--port", str(port), "--seed", "1",
         "--rate", str(RATE), "--brackets", "12", "--history-days", "1", "--history-trades", "5",
         "--state-dir", str(state), "--log-level", "WARNING", "--series", *SERIES],
        stdout=subprocess.PIPE, text=True,
    )
    return proc, sim_info(proc)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def open_tickers(rest_url: str) -> list[str]:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{rest_url}/markets", params={"status": "open", "limit": "1000"}) as r:
            return [m["ticker"] for m in (await r.json())["markets"]]


async def baseline(info: dict[str, str], seconds: float) -> dict[str, float]:
    """A bare consumer: receive + json.loads, nothing else."""
    signer = KalshiSigner.from_files(info["API key id"], info["private key"])
    tickers = await open_tickers(info["REST URL"])
    lat: list[float] = []
    n = 0
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(info["WS URL"], headers=signer.ws_headers(info["WS URL"]), max_msg_size=0) as ws:
            await ws.send_str(wm.subscribe(1, ["orderbook_delta", "ticker", "trade"], tickers).decode())
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                msg = await ws.receive(timeout=5)
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                obj = json.loads(msg.data)
                n += 1
                ts = obj.get("msg", {}).get("ts_ms") if obj.get("type") == "orderbook_delta" else None
                if ts:
                    lat.append(time.time() - ts / 1000)
    a = np.array(lat) * 1000
    return {"msgs_per_s": n / seconds, "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


class MeasuredCollector(Collector):
    """The real collector, timing each delta from the exchange's ts_ms (and from frame receipt) to
    applied: the frame handler's entry for deltas is wrapped (its dispatch table is meant for that)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        # compact float arrays: a list of a million Python floats would itself weigh ~30 MB of RSS
        self.exch_to_applied = array("d")
        self.recv_to_applied = array("d")
        on_delta = self.handler.dispatch[wm.OrderbookDelta]
        exch, recv, clock = self.exch_to_applied.append, self.recv_to_applied.append, time.time

        def measured(recv_ts: float, msg: wm.OrderbookDelta) -> None:
            on_delta(recv_ts, msg)
            now = clock()
            if msg.msg.ts_ms:
                exch(now - msg.msg.ts_ms / 1000)
            recv(now - recv_ts)

        self.handler.dispatch[wm.OrderbookDelta] = measured


async def ours(info: dict[str, str], data_dir: Path, seconds: float, *, raw_tape: bool = True,
               max_buffered_rows: int | None = None) -> dict[str, object]:
    storage: dict[str, object] = {"data_dir": str(data_dir)}  # default flush rules: 60 s or 100,000 rows
    if max_buffered_rows is not None:
        storage["max_buffered_rows"] = max_buffered_rows
    cfg = config_from_dict(
        {
            "kalshi": {"api_key_id": info["API key id"], "private_key_path": info["private key"],
                       "base_url": info["REST URL"], "ws_url": info["WS URL"], "requests_per_second": 0},
            "event_series": SERIES,
            "collection": {"interval_seconds": 1, "spike_threshold_cents": 0, "rest_check_interval_seconds": 5,
                           "raw_tape": raw_tape},
            "storage": storage,
            "metrics": {"port": 0},
        },
        env={},
    )
    rss_before = rss_mb()
    c = MeasuredCollector(cfg, options=CollectorOptions(stats_interval=10))
    samples: list[tuple[float, int, int, float]] = []
    peak_rss = 0.0

    async def sample() -> None:
        nonlocal peak_rss
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            depth = 0
            if c.stream.conn is not None:
                reader = getattr(c.stream.conn._ws, "_reader", None)
                depth = len(getattr(reader, "_buffer", ()) or ())
            rss = rss_mb()
            peak_rss = max(peak_rss, rss)
            samples.append((time.monotonic() - t0, depth, c.store.buffered_rows, rss))

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    await c.run(duration=seconds)
    elapsed = time.monotonic() - started
    sampler.cancel()
    ex = np.array(c.exch_to_applied) * 1000
    rv = np.array(c.recv_to_applied) * 1000
    depths = [d for _, d, _, _ in samples]
    half = len(depths) // 2
    return {
        "msgs_per_s": c.counters.messages / elapsed,
        "deltas": len(ex),
        "p50_ms": float(np.percentile(ex, 50)),
        "p99_ms": float(np.percentile(ex, 99)),
        "recv_p99_ms": float(np.percentile(rv, 99)),
        "queue_first_half": float(np.mean(depths[:half])) if half else 0.0,
        "queue_second_half": float(np.mean(depths[half:])) if depths else 0.0,
        "queue_max": max(depths) if depths else 0,
        "peak_rss_mb": max(peak_rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_sampled_mb": peak_rss,  # this run's own peak (ru_maxrss is the process's, over every run)
        "rss_before_mb": rss_before,
        "valid_at_stop": c.valid_at_stop,
        "markets": len(c.markets),
    }


def bytes_per_row(data_dir: Path) -> None:
    from kalshi_collector.storage import LiveStore

    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with LiveStore(data_dir, collector_id="c0", journal_sync_interval=None) as store:
        store.compact(tomorrow)  # compact today's parts as if the day were over
    ps = ParquetStorage(data_dir)
    for table, kind in (("orderbook_snapshots", "orderbook"), ("orderbook_deltas", "orderbook_deltas")):
        files = list((data_dir / table).glob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        df = ps.read_parquets(kind)
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "baseline.parquet"
            df.to_parquet(base)  # pandas defaults: snappy, no sorting
            base_size = base.stat().st_size
        ours_b, base_b = size / max(len(df), 1), base_size / max(len(df), 1)
        print(f"(d) {table:<20} {len(df):>10,} rows  {ours_b:6.2f} bytes/row   "
              f"pandas default to_parquet {base_b:6.2f} bytes/row   ratio {base_b / ours_b:4.2f}x smaller")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        sim, info = start_sim(tmpd / "sim")
        try:
            print(f"simulator: {RATE:.0f} order-flow events/s over {len(SERIES)} series x 12 brackets")
            b = asyncio.run(baseline(info, BASELINE_SECONDS))
            print(f"baseline (receive + json.loads only, {BASELINE_SECONDS:.0f} s): {b['msgs_per_s']:,.0f} msg/s, "
                  f"exchange->parsed p50 {b['p50_ms']:.2f} ms p99 {b['p99_ms']:.2f} ms")
            r = asyncio.run(ours(info, tmpd / "data", SECONDS))
            print(f"(c) collector ({SECONDS:.0f} s, {r['markets']} markets): {r['msgs_per_s']:,.0f} msg/s "
                  f"({r['msgs_per_s'] / b['msgs_per_s']:.2f}x the bare consumer's rate), {r['deltas']:,} deltas")
            print(f"    exchange->applied p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms "
                  f"(baseline p99 {b['p99_ms']:.2f} ms, ratio {r['p99_ms'] / max(b['p99_ms'], 1e-9):.2f}); "
                  f"frame->applied p99 {r['recv_p99_ms']:.3f} ms (target <= 5 ms)")
            print(f"    aiohttp receive queue: mean {r['queue_first_half']:.1f} frames in the first half, "
                  f"{r['queue_second_half']:.1f} in the second (max {r['queue_max']}); books valid at stop "
                  f"{r['valid_at_stop']}/{r['markets']}")
            print(f"    peak RSS {r['peak_rss_mb']:.0f} MB (target <= 300 MB), of which {r['rss_before_mb']:.0f} MB were "
                  f"there before the collector started (interpreter, pandas/pyarrow, the baseline run)")
        finally:
            sim.terminate()
            sim.wait(10)
        bytes_per_row(tmpd / "data")


if __name__ == "__main__":
    main()
