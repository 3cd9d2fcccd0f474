"""The whole exchange on one machine: 20,000 markets followed at ~20,000 msg/s.

The simulator runs as its own process (``kalshi-collector sim --markets 20000``: made-up series
across categories, 300 busy markets taking 90 % of the flow, Kalshi's per-subscription market
limit enforced at 5,000). Two consumers read it in turn:

* baseline — a bare aiohttp client on one connection (subscriptions of 5,000 markets) that
  only receives and ``json.loads`` each frame; then the same on one connection per 5,000 markets,
  as the collector's lanes are (the simulator writes to as many sockets; both ratios are printed);
  and, when the collector rediscovers within its window, the same on five connections while
  another client lists the exchange as often per second (:func:`list_exchange`): the simulator is
  one process, and what a listing costs its feed is part of the collector's floor;
* ours — the real :class:`Collector` with ``collection.follow_all: true`` (discovery over REST,
  one connection per 5,000 markets, books, tape, journal, snapshots every
  ``BENCH_SCALE_SNAPSHOT_S`` seconds of every market at full depth, flushes).

Printed (issue 13 targets in brackets): exchange-ts -> applied p50/p99 beside the baseline's
exchange-ts -> parsed [p99 <= 5 ms], frame -> applied p99, event-loop stall max (a 1 ms probe's
overshoot) and the longest snapshot hand-off [<= 5 ms], the duration of one 20,000-market
full-depth snapshot [<= 250 ms], RSS at start / end of the measured window [<= 1 GB, flat], CPU
share of one core, bytes written, and bytes per stored snapshot level after compaction [<= 4 B].
Warm-up (until every book is valid, then until the first full snapshot and the first flush are
done, the start-up burst; both durations printed) is excluded from the latency figures.

Knobs: ``BENCH_SCALE_SECONDS`` (45), ``BENCH_SCALE_MARKETS`` (20000), ``BENCH_SCALE_RATE`` (sim
events/s, 14000 = about 20,000 messages/s), ``BENCH_SCALE_SNAPSHOT_S`` (10),
``BENCH_SCALE_DISCOVERY_S`` (20: the whole exchange listed again, 17 pages of 2 MB; following the
exchange, lifecycle news makes it list that often),
``BENCH_SCALE_BURST_RATE`` (0; e.g. 36000 events/s = bursts to ~50,000 msg/s, 2 s every 15 s),
``BENCH_SCALE_TICK_MS`` (1: the simulator's order-flow step, ``sim --flow-tick``; each step sends
what fell due since the last, so every consumer's latency has it as a floor: at the simulator's
default 5 ms the bare consumer's own p99 was 5-10 ms, above the 5 ms target, which then could not
be measured; at 1 ms it is 2-3 ms, at a cost of the simulator's CPU, 35-55 % of a core instead of 30-45 %).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.bench_live import _free_port, rss_mb, sim_info
from kalshi_collector.config import config_from_dict
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi import numbers
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.lane import Lane

SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "45"))
BASELINE_SECONDS = min(15.0, SECONDS)
MARKETS = int(os.environ.get("BENCH_SCALE_MARKETS", "20000"))
RATE = float(os.environ.get("BENCH_SCALE_RATE", "14000"))
SNAPSHOT_S = float(os.environ.get("BENCH_SCALE_SNAPSHOT_S", "10"))
DISCOVERY_S = float(os.environ.get("BENCH_SCALE_DISCOVERY_S", "20"))  # following the exchange lists it often
BURST_RATE = float(os.environ.get("BENCH_SCALE_BURST_RATE", "0"))  # e.g. 36000 events/s = ~50k msg/s
TICK_MS = float(os.environ.get("BENCH_SCALE_TICK_MS", "1"))  # the simulator's flow tick: every consumer's floor
BURST_EVERY_S, BURST_SECONDS = 15.0, 2.0
PER_CONNECTION = 5_000


def start_sim(state: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_collector.cli", "sim", "--port", str(_free_port()), "--seed", "1",
         "--rate", str(RATE), "--series", "KXHIGHCHI", "--markets", str(MARKETS), "--history-days", "0",
         "--history-trades", "0", "--busy-markets", "300", "--ws-max-markets-per-sub", str(PER_CONNECTION),
         "--state-dir", str(state), "--log-level", "WARNING", "--flow-tick", str(TICK_MS),
         *(("--burst-rate", str(BURST_RATE), "--burst-every", str(BURST_EVERY_S), "--burst-seconds",
            str(BURST_SECONDS)) if BURST_RATE else ())],
        stdout=subprocess.PIPE, text=True,
    )
    return proc, sim_info(proc)


async def open_tickers(rest_url: str) -> list[str]:
    out: list[str] = []
    async with aiohttp.ClientSession() as s:
        cursor = ""
        while True:
            async with s.get(f"{rest_url}/markets", params={"status": "open", "limit": "1000", "cursor": cursor}) as r:
                page = await r.json()
            out += [m["ticker"] for m in page["markets"]]
            cursor = page["cursor"]
            if not cursor:
                return out


async def list_exchange(rest_url: str, every: float, until: float) -> int:
    """The exchange listed the way discovery lists it (open events with their markets, pages of
    200 events, 2 MB each at 20,000 markets), every ``every`` seconds until ``until`` (monotonic);
    bodies read and dropped. Beside the bare consumer it measures what listing costs the
    *simulator* (one process: a page it renders holds up its feed), part of the collector's floor."""
    listings = 0
    async with aiohttp.ClientSession() as s:
        while time.monotonic() + every < until:
            await asyncio.sleep(every)
            cursor = ""
            while True:
                params = {"status": "open", "with_nested_markets": "true", "limit": "200", "cursor": cursor}
                async with s.get(f"{rest_url}/events", params=params) as r:
                    cursor = _cursor_of(await r.read())
                if not cursor:
                    break
            listings += 1
    return listings


_CURSOR = re.compile(rb'"cursor":\s*"([^"]*)"')


def _cursor_of(body: bytes) -> str:
    """The page's cursor, read from the body's end (it follows the events): parsing the 2 MB
    would hold up the bare consumer that shares this loop, which is not the simulator's cost."""
    found = _CURSOR.search(body, max(0, body.rfind(b'"cursor"') - 1))
    return found.group(1).decode() if found else ""


@dataclass
class _Bare:
    """What the bare consumer's connections record together."""

    warm_until: float
    end: float
    lat: array = field(default_factory=lambda: array("d"))
    n: int = 0
    per_second: dict[int, int] = field(default_factory=dict)
    sim_cpu0: float | None = None


async def _bare_receive(ws: aiohttp.ClientWebSocketResponse, bare: _Bare, sim_pid: int) -> None:
    """Receive + json.loads until the window ends; deltas' exchange->parsed latencies recorded."""
    while time.monotonic() < bare.end:
        msg = await ws.receive(timeout=5)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            continue
        obj = json.loads(msg.data)
        if time.monotonic() < bare.warm_until:
            continue
        if bare.sim_cpu0 is None:
            bare.sim_cpu0 = proc_cpu(sim_pid)
        bare.n += 1
        sec = int(time.monotonic())
        bare.per_second[sec] = bare.per_second.get(sec, 0) + 1
        if obj.get("type") == "orderbook_delta":
            bare.lat.append(time.time() - obj["msg"]["ts_ms"] / 1000)


async def baseline(info: dict[str, str], seconds: float, sim_pid: int, *, split: bool = False,
                   list_every: float = 0.0) -> dict[str, float]:
    """A bare consumer: receive + json.loads, nothing else; every market on one connection, or
    (``split``) on one connection per ``PER_CONNECTION`` markets, as the collector's lanes are:
    the simulator then writes to as many sockets, which is part of the floor the collector meets.
    ``list_every``: the exchange also listed that often by another client (:func:`list_exchange`)."""
    signer = KalshiSigner.from_files(info["API key id"], info["private key"])
    tickers = await open_tickers(info["REST URL"])
    size = PER_CONNECTION if split else len(tickers)
    groups = [tickers[i:i + size] for i in range(0, len(tickers), size)]
    async with aiohttp.ClientSession() as s, contextlib.AsyncExitStack() as stack:
        sockets = []
        for group in groups:
            ws = await stack.enter_async_context(
                s.ws_connect(info["WS URL"], headers=signer.ws_headers(info["WS URL"]), max_msg_size=0))
            for i in range(0, len(group), PER_CONNECTION):
                piece = group[i:i + PER_CONNECTION]
                await ws.send_str(wm.subscribe(i + 1, ["orderbook_delta", "ticker", "trade"], piece).decode())
            sockets.append(ws)
        warm_until = time.monotonic() + 5.0  # the 20,000 subscription snapshots first
        bare = _Bare(warm_until, warm_until + seconds)
        lister = [list_exchange(info["REST URL"], list_every, bare.end)] if list_every else []
        await asyncio.gather(*(_bare_receive(ws, bare, sim_pid) for ws in sockets), *lister)
    a = np.array(bare.lat) * 1000
    sim_share = (proc_cpu(sim_pid) - (bare.sim_cpu0 or 0.0)) / seconds
    return {"markets": len(tickers), "connections": len(sockets), "msgs_per_s": bare.n / seconds,
            "sim_cpu": sim_share, "peak_per_s": max(bare.per_second.values(), default=0),
            "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


@dataclass
class Probe:
    """What the measured collector records (compact arrays: a list of floats would weigh RSS)."""

    warm: bool = False
    exch: array = field(default_factory=lambda: array("d"))
    recv: array = field(default_factory=lambda: array("d"))
    take: array = field(default_factory=lambda: array("d"))  # SnapshotCycle._hand_over: loop blocked
    build: array = field(default_factory=lambda: array("d"))  # SnapshotCycle.run: first step to stored
    levels: int = 0
    snapshots_taken: int = 0  # the whole run, warm-up included (for bytes per snapshot)


class MeasuredCollector(Collector):
    """The real collector; every lane's delta handler is wrapped (its dispatch table is meant for
    that) and the snapshot cycle's hand-off and build are timed."""

    def __init__(self, *a, **kw) -> None:  # noqa: ANN002, ANN003
        self.probe = Probe()
        super().__init__(*a, **kw)
        cycle, probe = self.snapshots, self.probe
        run, hand_over = cycle.run, cycle._hand_over

        async def timed_run(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
            t0 = time.perf_counter()  # the whole chunked snapshot, first step to stored
            await run(*args, **kwargs)
            probe.snapshots_taken += 1
            if probe.warm:
                probe.build.append(time.perf_counter() - t0)

        def timed_hand_over(snap) -> None:  # noqa: ANN001
            t0 = time.perf_counter()  # the one turn that hands the tables to the store
            hand_over(snap)
            probe.levels = snap.orderbook.num_rows
            if probe.warm:
                probe.take.append(time.perf_counter() - t0)

        cycle.run = timed_run  # type: ignore[method-assign]
        cycle._hand_over = timed_hand_over  # type: ignore[method-assign]

    def _new_lane(self, number: int, lane: Lane) -> None:
        on_delta = lane.handler.dispatch[wm.OrderbookDelta]
        probe, clock = self.probe, time.time
        exch, recv = probe.exch.append, probe.recv.append

        def measured(recv_ts: float, msg: wm.OrderbookDelta) -> None:
            on_delta(recv_ts, msg)
            if probe.warm:
                now = clock()
                if msg.msg.ts_ms:
                    exch(now - msg.msg.ts_ms / 1000)
                recv(now - recv_ts)

        lane.handler.dispatch[wm.OrderbookDelta] = measured


async def _loop_probe(stalls: array, stop: asyncio.Event) -> None:
    """Overshoot of a 1 ms sleep: how long the event loop was kept from the read path."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.001)
        stalls.append(loop.time() - t0 - 0.001)


async def _settled(c: MeasuredCollector) -> float:
    """Seconds from every book valid until the start-up burst is digested: the first full snapshot
    and the first flush after it are done, then one more second (the 20,000 subscription
    snapshots make that flush the biggest of the run). Excluded from the steady-state figures and
    printed on its own."""
    t0, snaps, flushes = time.monotonic(), c.probe.snapshots_taken, c.store.stats["flushes"]
    while c.probe.snapshots_taken <= snaps or c.store.stats["flushes"] <= flushes:
        await asyncio.sleep(0.1)
        if time.monotonic() - t0 > 120:
            break
    await asyncio.sleep(1.0)
    return time.monotonic() - t0


async def ours(info: dict[str, str], data_dir: Path, seconds: float, sim_pid: int) -> dict[str, object]:
    cfg = config_from_dict({
        "kalshi": {"api_key_id": info["API key id"], "private_key_path": info["private key"],
                   "base_url": info["REST URL"], "ws_url": info["WS URL"], "requests_per_second": 0},
        "collection": {"follow_all": True, "markets_per_connection": PER_CONNECTION,
                       "interval_seconds": SNAPSHOT_S, "spike_threshold_cents": 0,
                       "rest_check_interval_seconds": 5, "discovery_interval_seconds": DISCOVERY_S},
        "storage": {"data_dir": str(data_dir)},
        "metrics": {"port": 0},
    }, env={})
    rss_before = rss_mb()
    c = MeasuredCollector(cfg, options=CollectorOptions(stats_interval=600))
    run = asyncio.create_task(c.run(duration=seconds + 120))
    t_start = time.monotonic()
    while not c.books.all_valid(c.markets):
        await asyncio.sleep(0.2)
        if time.monotonic() - t_start > 120:
            raise RuntimeError(f"books not valid after 120 s: {c.books.valid_count()}/{len(c.markets)}")
    warm_s = time.monotonic() - t_start
    settle_s = await _settled(c)
    stalls, stop = array("d"), asyncio.Event()
    prober = asyncio.create_task(_loop_probe(stalls, stop))
    rss_start, n0, cpu0, t0 = rss_mb(), c.counters.messages, _cpu(), time.monotonic()
    sim_cpu0 = proc_cpu(sim_pid)
    c.probe.warm = True
    rss_series, buffered_series, probe_series, peak, last_n = [], [], [], 0, n0
    memory_series: list[MemorySample] = []
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(1.0)
        rss_series.append(rss_mb())
        if len(rss_series) % 60 == 0:
            memory_series.append(MemorySample.take(c))
        buffered_series.append(c.store.buffered_rows)
        probe_series.append((len(c.probe.exch) + len(c.probe.recv)) * 8 / 1e6)  # the bench's own arrays
        peak, last_n = max(peak, c.counters.messages - last_n), c.counters.messages
    c.probe.warm = False
    elapsed, cpu = time.monotonic() - t0, _cpu() - cpu0
    sim_share = (proc_cpu(sim_pid) - sim_cpu0) / elapsed
    msgs, rss_end = c.counters.messages - n0, rss_mb()
    stop.set()
    await prober
    lanes = len(c.lanes)
    c.stop()
    await run
    ex, rv = np.array(c.probe.exch) * 1000, np.array(c.probe.recv) * 1000
    return {
        "markets": len(c.markets), "lanes": lanes, "warm_s": warm_s, "settle_s": settle_s, "msgs_per_s": msgs / elapsed,
        "deltas": len(ex), "p50_ms": float(np.percentile(ex, 50)), "p99_ms": float(np.percentile(ex, 99)),
        "recv_p99_ms": float(np.percentile(rv, 99)), "stall_max_ms": max(stalls, default=0) * 1000,
        "stall_p99_ms": float(np.percentile(np.array(stalls), 99)) * 1000 if stalls else 0.0,
        "take_max_ms": max(c.probe.take, default=0) * 1000, "build_ms": float(np.median(c.probe.build)) * 1000
        if c.probe.build else float("nan"), "snapshots": len(c.probe.take), "levels": c.probe.levels,
        "rss_before": rss_before, "rss_start": rss_start, "rss_end": rss_end, "rss_max": max(rss_series), "rss_series": list(rss_series),
        "buffered_series": buffered_series, "probe_series": probe_series, "memory_series": memory_series,
        "cpu_share": cpu / elapsed, "sim_cpu": sim_share, "elapsed": elapsed, "valid_at_stop": c.valid_at_stop,
        "messages_total": c.counters.messages, "snapshots_total": c.probe.snapshots_taken, "peak_per_s": peak,
    }


@dataclass(frozen=True)
class MemorySample:
    """Where the process's memory is, once a minute in a long run: is growth Python objects, Arrow
    buffers, freed-but-kept heap (fragmentation) or the books themselves?"""

    python_blocks: int  # live Python allocator blocks (objects and their buffers)
    arrow_mb: float  # pyarrow's default memory pool, bytes allocated
    heap_used_mb: float  # glibc malloc: bytes in use / free but kept by the process
    heap_free_mb: float
    book_levels: int
    memo_entries: int  # the number converters' memo tables (bounded: numbers.MEMO_LIMIT each)

    @classmethod
    def take(cls, c: Collector) -> MemorySample:
        used, free = _mallinfo()
        memos = (numbers.PRICE_CENTS_MEMO, numbers.PRICE_MICROS_MEMO, numbers.CENTI_MEMO, numbers._cache,
                 numbers._count_cache)
        return cls(sys.getallocatedblocks(), pa.total_allocated_bytes() / 1e6, used, free,
                   sum(len(b.yes_bids) + len(b.no_bids) for b in c.books), sum(map(len, memos)))


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mallinfo() -> tuple[float, float]:
    """glibc's heap in use and free-but-kept, in MB (``mallinfo2``; NaN where there is none)."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return float("nan"), float("nan")
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 1e6, info.fordblks / 1e6


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far: the simulator shares this
    machine's cores with the collector, so its share says how much room the collector had."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stored_sizes(data_dir: Path) -> dict[str, float]:
    """Bytes on disk before and after compacting today, and bytes per stored snapshot level."""
    from kalshi_collector.storage import LiveStore

    before = _folder_bytes(data_dir)
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with LiveStore(data_dir, collector_id="c0", journal_sync_interval=None) as store:
        store.compact(tomorrow)
    files = list((data_dir / "orderbook_snapshots").glob("*.parquet"))
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    size = sum(f.stat().st_size for f in files)
    tables = {p.name: _folder_bytes(p) for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("_")}
    return {"before": before, "after": _folder_bytes(data_dir), "levels": rows,
            "bytes_per_level": size / max(rows, 1), "tables": tables}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        sim, info = start_sim(tmpd / "sim")
        try:
            b = asyncio.run(baseline(info, BASELINE_SECONDS, sim.pid))
            b5 = asyncio.run(baseline(info, BASELINE_SECONDS, sim.pid, split=True))
            # as many listings per second of the window as the collector's discovery makes
            list_every = DISCOVERY_S * BASELINE_SECONDS / SECONDS if DISCOVERY_S < SECONDS else 0.0
            bl = asyncio.run(baseline(info, BASELINE_SECONDS, sim.pid, split=True, list_every=list_every)) \
                if list_every else None
            bursts = (f", bursts of {BURST_RATE:,.0f} events/s for {BURST_SECONDS:.0f} s every {BURST_EVERY_S:.0f} s"
                      if BURST_RATE else "")
            print(f"simulator: {b['markets']:,} open markets, {RATE:,.0f} order-flow events/s (300 busy markets){bursts}, "
                  f"sent every {TICK_MS:g} ms (BENCH_SCALE_TICK_MS: the floor of every consumer's latency)")
            print(f"baseline (receive + json.loads only, one connection, {BASELINE_SECONDS:.0f} s): "
                  f"{b['msgs_per_s']:,.0f} msg/s (peak second {b['peak_per_s']:,}), exchange->parsed p50 {b['p50_ms']:.2f} ms p99 {b['p99_ms']:.2f} ms; "
                  f"simulator CPU {b['sim_cpu']:.0%} of one core")
            print(f"baseline on {b5['connections']} connections ({PER_CONNECTION:,} markets each, as the collector's lanes): "
                  f"{b5['msgs_per_s']:,.0f} msg/s, exchange->parsed p50 {b5['p50_ms']:.2f} ms p99 {b5['p99_ms']:.2f} ms")
            if bl is not None:
                print(f"baseline on {bl['connections']} connections while another client lists the exchange every "
                      f"{list_every:.1f} s (the collector's listings per second of its window: "
                      f"BENCH_SCALE_DISCOVERY_S): exchange->parsed p50 {bl['p50_ms']:.2f} ms p99 {bl['p99_ms']:.2f} ms")
            r = asyncio.run(ours(info, tmpd / "data", SECONDS, sim.pid))
        finally:
            sim.terminate()
            sim.wait(10)
        d = stored_sizes(tmpd / "data")
    print(f"collector, follow_all: {r['markets']:,} markets on {r['lanes']} connections, every book valid after "
          f"{r['warm_s']:.1f} s, start-up burst digested {r['settle_s']:.1f} s later (first snapshot and flush; "
          f"excluded); measured {r['elapsed']:.0f} s: {r['msgs_per_s']:,.0f} msg/s (peak second "
          f"{r['peak_per_s']:,}), {r['deltas']:,} deltas")
    print(f"  exchange->applied p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms (target <= 5 ms; baseline p99 "
          f"{b['p99_ms']:.2f} ms, ratio {r['p99_ms'] / max(b['p99_ms'], 1e-9):.1f}x; on {b5['connections']} connections "
          f"{b5['p99_ms']:.2f} ms, ratio {r['p99_ms'] / max(b5['p99_ms'], 1e-9):.1f}x); frame->applied p99 "
          f"{r['recv_p99_ms']:.3f} ms"
          + (f"; beside the baseline listed as often {bl['p99_ms']:.2f} ms, ratio "
             f"{r['p99_ms'] / max(bl['p99_ms'], 1e-9):.1f}x" if bl is not None else ""))
    print(f"  event-loop stall (1 ms probe overshoot) max {r['stall_max_ms']:.1f} ms, p99 {r['stall_p99_ms']:.2f} ms; "
          f"snapshot hand-off max {r['take_max_ms']:.1f} ms over {r['snapshots']} snapshots (target stall <= 5 ms)")
    print(f"  one snapshot of {r['markets']:,} markets, full depth ({r['levels']:,} levels): "
          f"{r['build_ms']:.0f} ms from its first step to stored, in chunks (median; target <= 250 ms)")
    print(f"  RSS {r['rss_start']:.0f} MB at the start of the window, {r['rss_end']:.0f} MB at its end "
          f"(max {r['rss_max']:.0f}; {r['rss_before']:.0f} MB before the collector; target <= 1 GB, flat); "
          f"CPU {r['cpu_share']:.0%} of one core (this process; the simulator, in its own, {r['sim_cpu']:.0%})")
    series = r.get("rss_series") or []
    if len(series) >= 120:  # a long run: is memory flat after warm-up? one sample a minute
        minutes = series[59::60]
        half = minutes[len(minutes) // 2:]
        print(f"  RSS by minute (MB): {', '.join(f'{m:.0f}' for m in minutes)}; second half grew "
              f"{half[-1] - half[0]:+.0f} MB")
        own = [rss - probe for rss, probe in zip(series, r["probe_series"], strict=True)][59::60]
        print(f"  the same less the bench's own latency arrays (16 B per delta): "
              f"{', '.join(f'{m:.0f}' for m in own)}; second half grew {own[-1] - own[len(own) // 2]:+.0f} MB")
        for label, pick in (("Python blocks (k)", lambda m: f"{m.python_blocks / 1e3:.0f}"),
                            ("Arrow pool (MB)", lambda m: f"{m.arrow_mb:.0f}"),
                            ("malloc in use / kept free (MB)", lambda m: f"{m.heap_used_mb:.0f}/{m.heap_free_mb:.0f}"),
                            ("book levels (k)", lambda m: f"{m.book_levels / 1e3:.0f}"),
                            ("number memo entries (k)", lambda m: f"{m.memo_entries / 1e3:.0f}")):
            print(f"  {label} by minute: {', '.join(pick(m) for m in r['memory_series'])}")
        buffered = r["buffered_series"]
        print(f"  rows buffered (not yet in a part), most in each minute: "
              f"{', '.join(f'{max(buffered[i:i + 60]):,}' for i in range(0, len(buffered), 60))}")
    tables = d["tables"]
    snap_bytes = tables.get("orderbook_snapshots", 0) + tables.get("market_snapshots", 0)
    tape_bytes = sum(v for k, v in tables.items() if k not in ("orderbook_snapshots", "market_snapshots"))
    per_msg = tape_bytes / max(r["messages_total"], 1)
    per_snapshot = snap_bytes / max(r["snapshots_total"], 1)
    day = per_msg * r["msgs_per_s"] * 86_400 + per_snapshot * 1_440
    print(f"  disk: {d['before'] / 1e6:.1f} MB in the run (parts + journal), {d['after'] / 1e6:.1f} MB after "
          f"compaction: tape {per_msg:.1f} B/message, {per_snapshot / 1e6:.2f} MB per {r['markets']:,}-market "
          f"snapshot -> ~{day / 1e9:.1f} GB/day at {r['msgs_per_s']:,.0f} msg/s with 60 s snapshots")
    print(f"  stored snapshot levels: {d['levels']:,}, {d['bytes_per_level']:.2f} bytes/level after compaction "
          f"(target <= 4 B/level for a day of 60 s snapshots); per table: "
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(d["tables"].items())))


if __name__ == "__main__":
    main()
