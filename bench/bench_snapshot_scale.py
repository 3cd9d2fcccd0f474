"""Benchmark: one snapshot of 20,000 markets at full depth, on a live event loop, into a real LiveStore.

Targets (issue 13, item 4): the snapshot stalls the read loop by at most 5 ms, is complete within
250 ms, and a day of 60 s snapshots of 20,000 markets stays <= 4 bytes per stored level.

Books: 20,000 markets, most quiet (1-15 levels a side), 1.5 % busy (40-98 levels a side): about
355,000 levels in all. While the snapshot runs the loop keeps applying ``orderbook_delta``
messages at about 20,000 a second (so the copy-on-write capture works for real), a probe task
measures the loop's lag (how late a 0.2 ms timer fires), and the store's journal thread syncs every
0.2 s; after the hand-off the store flushes in a worker thread, as ``StoreUpkeep`` does.

Printed beside a baseline measured in the same run: the previous hand-off (``SnapshotBuilder.build``
in one go, then the levels as row tuples into ``LiveStore.extend``) against the collector's path now
(``SnapshotCycle.run``: chunks of ~1 ms, levels handed over as one Arrow table). The figures:
time until the snapshot is in the store (the 250 ms target), the loop's longest stall while
building and handing over (the 5 ms target; in wall time, and in the loop thread's CPU time, which
leaves out the machine's other load), and the longest stall until the store has journaled and
flushed it (the threads' GIL time). A first row measures the probe with no snapshot at all: the
noise floor. (The baseline's market rows come from the Arrow table now, ~10 ms more than the
tuples the old builder made directly: the baseline is slightly pessimistic.)

Bytes per level: the same kind of books, ``BENCH_SNAPSHOT_SCALE_SNAPS`` (default 12) consecutive
60 s snapshots of all 20,000 markets (levels change between snapshots: 1 % of a quiet market's,
30 % of a busy market's), compacted by our compaction, beside pandas' default ``to_parquet``. A day
file is sorted by snapshot_ts first, so a page never spans two snapshots of 20,000 markets: the
bytes per level of a few snapshots is that of a whole day (printed: the market-first orders too).

Run: ``.venv/bin/python -m bench snapshot_scale``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import gc
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from kalshi_collector.book import BookStore
from kalshi_collector.config import CollectionConfig
from kalshi_collector.kalshi.messages import OrderbookDelta, OrderbookSnapshot, decode
from kalshi_collector.live.counters import Counters, SnapshotTrigger
from kalshi_collector.live.snapshot_cycle import SnapshotCycle
from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.catalog import ORDERBOOK_SNAPSHOTS
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import PartName

MARKETS = int(os.environ.get("BENCH_SNAPSHOT_SCALE_MARKETS", "20000"))
SNAPS = int(os.environ.get("BENCH_SNAPSHOT_SCALE_SNAPS", "12"))
ROUNDS = 5
DELTAS_PER_S = 20_000
PROBE_S = 0.0002
STALL_TARGET_MS, DONE_TARGET_MS, BYTES_TARGET = 5.0, 250.0, 4.0
NOW = 1_770_834_600.0  # 2026-02-11T18:30:00Z
DAY = dt.date(2026, 2, 11)


@dataclasses.dataclass(frozen=True)
class Market:
    event_ticker: str
    subtitle: str


def ticker_of(i: int) -> str:
    return f"KXMKT{i // 20:05d}-26FEB11-B{i % 20}"


def level_counts(rng: np.random.Generator, markets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levels per side (yes, no) and which markets are busy."""
    busy = rng.random(markets) < 0.015
    yes = np.where(busy, rng.integers(40, 99, markets), rng.integers(1, 16, markets))
    no = np.where(busy, rng.integers(40, 99, markets), rng.integers(1, 16, markets))
    return yes, no, busy


def make_books(seed: int = 5) -> tuple[BookStore, dict[str, Market], list[OrderbookDelta]]:
    """The books (from decoded snapshot messages) and a stream of deltas that keep them valid."""
    rng = np.random.default_rng(seed)
    yes_n, no_n, _ = level_counts(rng, MARKETS)
    books, markets, deltas = BookStore(), {}, []
    for i in range(MARKETS):
        ticker = ticker_of(i)
        best = int(rng.integers(45, 60))  # yes bids best..down, no bids (98-best)..down: never crossed
        yes = [[f"0.{best - k:02d}00", f"{int(rng.integers(1, 3000))}.00"] for k in range(min(yes_n[i], best - 1))]
        no = [[f"0.{98 - best - k:02d}00", f"{int(rng.integers(1, 3000))}.00"]
              for k in range(min(no_n[i], 97 - best))]
        msg = decode(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": i + 1, "msg": {
            "market_ticker": ticker, "market_id": "m", "yes_dollars_fp": yes, "no_dollars_fp": no}}))
        assert isinstance(msg, OrderbookSnapshot)
        books.apply_snapshot(msg)
        markets[ticker] = Market(ticker.rsplit("-", 1)[0], f"bucket {i % 20}")
        if len(deltas) < 40_000 and yes:
            for sign in ("", "-"):  # +1 then -1 contract at its best level: the book stays as it was
                delta = decode(json.dumps({"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {
                    "market_ticker": ticker, "price_dollars": yes[0][0], "delta_fp": f"{sign}1.00", "side": "yes"}}))
                assert isinstance(delta, OrderbookDelta)
                deltas.append(delta)
    return books, markets, deltas


def old_take(cycle: SnapshotCycle, store: LiveStore) -> None:
    """The hand-off before chunks and tables: build in one go, levels as tuples into the row path."""
    snap = cycle.builder.build(cycle._books, int(NOW * 1e6), "periodic")  # noqa: SLF001 - the old take()
    store.extend("market_snapshots", snap.market_rows)
    store.extend("orderbook_snapshots", snap.orderbook_rows())


@dataclasses.dataclass
class Round:
    stored_ms: float  # snapshot start -> in the store
    build_stall_ms: float  # longest loop stall until then
    flush_stall_ms: float  # longest loop stall until journaled and flushed
    flushed_ms: float
    levels: int
    stall_cpu_ms: float  # the same in the loop thread's CPU time (without the machine's other load)


async def one_round(books: BookStore, markets: dict[str, Market], deltas: list[OrderbookDelta],
                    root: Path, chunked: bool | None) -> Round:
    store = LiveStore(root, journal_sync_interval=0.2)
    cycle = SnapshotCycle(books, store, Counters(), CollectionConfig(interval_seconds=60))
    cycle.set_markets(markets)
    # A running collector set its market list at discovery, long before: its lists are old objects
    # by now, not young ones for the collector's next passes to traverse.
    gc.collect()
    lags: list[tuple[float, float, float]] = []  # (when, lag, CPU the loop thread spent meanwhile)
    running = True

    async def probe() -> None:
        while running:
            t, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(PROBE_S)
            now = time.perf_counter()
            lags.append((now, now - t - PROBE_S, time.thread_time() - cpu))

    async def feed() -> None:
        apply, n, per_ms = books.apply_delta, 0, DELTAS_PER_S // 1000
        while running:
            await asyncio.sleep(0.001)
            for _ in range(per_ms):
                apply(deltas[n % len(deltas)])
                n += 1

    tasks = [asyncio.ensure_future(probe()), asyncio.ensure_future(feed())]
    await asyncio.sleep(0.3)  # probe and feed under way, journal thread ticking
    started = time.perf_counter()
    if chunked is None:  # no snapshot: the loop's own lag on this machine (the noise floor)
        await asyncio.sleep(0.15)
    elif chunked:
        await cycle.run(SnapshotTrigger.PERIODIC, NOW)
    else:
        old_take(cycle, store)
    stored = time.perf_counter()
    while store.unsynced_rows:
        await asyncio.sleep(0.01)
    await asyncio.to_thread(store.flush)
    flushed = time.perf_counter()
    await asyncio.sleep(0.05)
    running = False
    await asyncio.gather(*tasks)
    levels = store.stats["rows_written"]["orderbook_snapshots"]
    store.close()
    # a stall shows as the lag of the first probe after it: count lags seen up to 20 ms past a phase
    during = [(lag, cpu) for when, lag, cpu in lags if started <= when <= stored + 0.02]
    after = [lag for when, lag, _ in lags if started <= when <= flushed + 0.02]
    return Round((stored - started) * 1e3, max(lag for lag, _ in during) * 1e3, max(after) * 1e3,
                 (flushed - started) * 1e3, levels, max(cpu for _, cpu in during) * 1e3)


def stall_figures() -> None:
    books, markets, deltas = make_books()
    results: dict[bool | None, list[Round]] = {None: [], False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for chunked in (False, True):  # warm-up: first calls of the Arrow kernels, the store's first segment
            asyncio.run(one_round(books, markets, deltas, Path(tmp) / f"warm-{chunked}", chunked))
        for n in range(ROUNDS):
            for chunked in (None, False, True):
                gc.collect()
                results[chunked].append(asyncio.run(one_round(books, markets, deltas,
                                                              Path(tmp) / f"{n}-{chunked}", chunked)))
    levels = results[True][0].levels
    assert all(r.levels == levels for c in (False, True) for r in results[c]), "both ways store every level"
    print(f"one snapshot of {MARKETS:,} markets, full depth ({levels:,} levels), deltas at "
          f"{DELTAS_PER_S:,}/s meanwhile; median of {ROUNDS} (worst stall in brackets)")
    print(f"  {'':32}{'in the store':>13}{'loop stall (worst)':>21}{'stall in CPU time':>19}"
          f"{'stall to flushed':>18}{'flushed':>9}")
    for chunked, label in ((None, "no snapshot (noise floor)"), (False, "one go + row tuples (baseline)"),
                           (True, "chunks + Arrow tables (now)")):
        rs = results[chunked]
        med = {f: statistics.median(getattr(r, f) for r in rs)
               for f in ("stored_ms", "build_stall_ms", "flush_stall_ms", "flushed_ms", "stall_cpu_ms")}
        worst = max(r.build_stall_ms for r in rs)
        print(f"  {label:32}{med['stored_ms']:10.1f} ms{med['build_stall_ms']:11.1f} ms ({worst:5.1f})"
              f"{med['stall_cpu_ms']:16.1f} ms{med['flush_stall_ms']:15.1f} ms{med['flushed_ms']:7.0f} ms")
    now = results[True]
    stall = statistics.median(r.build_stall_ms for r in now)
    stall_cpu = statistics.median(r.stall_cpu_ms for r in now)
    done = statistics.median(r.stored_ms for r in now)
    print(f"  targets: loop stall <= {STALL_TARGET_MS:.0f} ms: {'met' if stall <= STALL_TARGET_MS else 'NOT met'}"
          f" ({stall:.1f} ms wall, {stall_cpu:.1f} ms CPU, medians); complete <= {DONE_TARGET_MS:.0f} ms: "
          f"{'met' if done <= DONE_TARGET_MS else 'NOT met'} ({done:.0f} ms)")


def snapshots_table(snaps: int, seed: int = 7) -> pa.Table:
    """``snaps`` consecutive 60 s snapshots of all markets; a few levels change between them."""
    rng = np.random.default_rng(seed)
    yes_n, no_n, busy = level_counts(rng, MARKETS)
    n = yes_n + no_n
    total = int(n.sum())
    market = np.repeat(np.arange(MARKETS), n)
    offset = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    is_yes = offset < np.repeat(yes_n, n)
    best = rng.integers(45, 60, MARKETS)
    price = np.where(is_yes, np.repeat(best, n) - offset, np.repeat(98 - best, n) - (offset - np.repeat(yes_n, n)))
    price = np.clip(price, 1, 99).astype(np.float64)
    qty = np.maximum(1, rng.lognormal(4, 1.5, total).round())
    change = np.repeat(np.where(busy, 0.3, 0.01), n)
    ts, quantity = [], []
    for s in range(snaps):
        moved = rng.random(total) < change
        qty = np.where(moved, np.maximum(1, qty + rng.integers(-50, 50, total)), qty)
        ts.append(np.full(total, int(NOW * 1e6) - 3_600_000_000 + s * 60_000_000, np.int64))
        quantity.append(qty)
    names = pa.array([ticker_of(i) for i in range(MARKETS)])
    return pa.Table.from_arrays(
        [pa.array(np.concatenate(ts)).cast(ORDERBOOK_SNAPSHOTS.schema.field(0).type),
         names.take(pa.array(np.tile(market, snaps))), pa.array(np.tile(np.where(is_yes, "yes", "no"), snaps)),
         pa.array(np.tile(price, snaps)), pa.array(np.concatenate(quantity))],
        schema=ORDERBOOK_SNAPSHOTS.schema)


def compacted_bytes_per_level(table: pa.Table, sort_keys: tuple[str, ...]) -> float:
    spec = dataclasses.replace(ORDERBOOK_SNAPSHOTS, sort_keys=sort_keys)
    with tempfile.TemporaryDirectory() as tmp:
        root, fs = Path(tmp), LocalFS()
        fs.write_parquet(spec.layout.part_file(root, DAY, PartName("bench", 1, 2, 3)), table)
        compact_day(fs, root, spec, DAY, "bench")
        return Path(spec.layout.day_file(root, DAY, "bench")).stat().st_size / table.num_rows


def bytes_figures() -> None:
    table = snapshots_table(SNAPS)
    buf = io.BytesIO()
    table.to_pandas().to_parquet(buf)
    naive = buf.tell() / table.num_rows
    ours = compacted_bytes_per_level(table, ORDERBOOK_SNAPSHOTS.sort_keys)
    print(f"{SNAPS} snapshots x {MARKETS:,} markets, 60 s apart ({table.num_rows:,} levels), compacted:")
    print(f"  pandas to_parquet (default)           {naive:6.2f} B/level  baseline")
    print(f"  our day file ({', '.join(ORDERBOOK_SNAPSHOTS.sort_keys)})  {ours:6.2f} B/level  "
          f"(target <= {BYTES_TARGET:.0f}: {'met' if ours <= BYTES_TARGET else 'NOT met'})")
    for keys in (("market_ticker", "snapshot_ts", "side", "price_cents"),
                 ("market_ticker", "side", "price_cents", "snapshot_ts")):
        print(f"  sorted {', '.join(keys)} instead    {compacted_bytes_per_level(table, keys):6.2f} B/level")


def main() -> None:
    stall_figures()
    bytes_figures()


if __name__ == "__main__":
    main()
