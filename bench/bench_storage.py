"""Benchmark: stored bytes per row of the compacted live tables, and the live store's throughput.

Figures are printed beside a baseline measured in the same run, as a ratio:

- bytes/row of ``orderbook_snapshots`` and ``orderbook_deltas`` day files written by our compaction
  vs the same rows written by pandas' default ``DataFrame.to_parquet`` (target: <= 4 bytes/row for
  order-book snapshots);
- rows/s through ``LiveStore`` append + sync (every ~0.2 s of data) + flush vs a plain Python
  ``list.append`` loop plus one pandas ``to_parquet`` (no journal, no fsync: the cost of durability).

Data: 200 markets x 2 sides x 30 levels every 10 s for an hour; each level changes with a small
probability per snapshot, best prices drift by a cent now and then; deltas arrive ~150/s at prices
near each market's mid, with millisecond exchange times. Seeded, so runs compare.

Run: ``.venv/bin/python -m bench.bench_storage`` (or ``make bench``).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from kalshi_collector.storage import TABLES, LiveStore
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import PartName, day_file
from kalshi_collector.storage.rows import rows_to_table

MARKETS, LEVELS, SNAPSHOT_EVERY_S, HOUR_S = 200, 30, 10, 3600
DELTAS_PER_S = 150
TARGET_BYTES_PER_ROW = 4.0
DAY = dt.date(2026, 2, 11)
T0_US = int(dt.datetime(2026, 2, 11, 14, 0, tzinfo=dt.UTC).timestamp() * 1_000_000)
TICKERS = [f"KXHIGH{city}-26FEB11-B{30 + i // 2}.{5 * (i % 2)}"
           for city in ("CHI", "NY", "MIA", "AUS", "DEN", "LAX", "PHIL", "SFO") for i in range(25)][:MARKETS]


def orderbook_snapshots(rng: np.random.Generator) -> pa.Table:
    snaps = HOUR_S // SNAPSHOT_EVERY_S
    best = rng.integers(35, 65, size=MARKETS)  # best yes bid; best no bid is 100 - best - spread
    spread = rng.integers(1, 4, size=MARKETS)
    qty = np.maximum(1, rng.lognormal(5, 1.2, size=(MARKETS, 2, LEVELS)).round())
    ts, tk, side, price, quantity = [], [], [], [], []
    slot = np.arange(LEVELS)
    side_col = np.repeat(np.array(["yes", "no"]), LEVELS)
    for s in range(snaps):
        change = rng.random(qty.shape) < 0.05
        qty = np.where(change, np.maximum(1, qty + rng.integers(-100, 100, size=qty.shape)), qty)
        odd = change & (rng.random(qty.shape) < 0.1)
        qty = np.where(odd, qty + 0.37, qty)  # fractional contracts exist
        drift = rng.random(MARKETS) < 0.02
        best = np.clip(best + np.where(drift, rng.choice([-1, 1], size=MARKETS), 0), 31, 68)
        yes_prices = best[:, None] - slot[None, :]
        no_prices = (100 - best - spread)[:, None] - slot[None, :]
        prices = np.stack([yes_prices, no_prices], axis=1).astype(np.float64)
        ts.append(np.full(MARKETS * 2 * LEVELS, T0_US + s * SNAPSHOT_EVERY_S * 1_000_000, dtype=np.int64))
        tk.append(np.repeat(np.arange(MARKETS), 2 * LEVELS))
        side.append(np.tile(side_col, MARKETS))
        price.append(prices.reshape(-1))
        quantity.append(qty.reshape(-1))
    names = pa.array(TICKERS)
    return pa.Table.from_arrays(
        [pa.array(np.concatenate(ts)).cast(TABLES["orderbook_snapshots"].schema.field(0).type),
         names.take(pa.array(np.concatenate(tk))), pa.array(np.concatenate(side)),
         pa.array(np.concatenate(price)), pa.array(np.concatenate(quantity))],
        schema=TABLES["orderbook_snapshots"].schema,
    )


def delta_rows(rng: np.random.Generator, n: int) -> list[tuple]:
    recv = T0_US + np.cumsum(rng.exponential(1_000_000 / DELTAS_PER_S, size=n)).astype(np.int64)
    exch = (recv // 1000 - rng.integers(5, 40, size=n)) * 1000  # ts_ms, a few ms earlier
    weights = 1.0 / np.arange(1, MARKETS + 1)
    market = rng.choice(MARKETS, size=n, p=weights / weights.sum())
    mids = rng.integers(35, 65, size=MARKETS)
    sides = rng.random(n) < 0.5
    price = np.clip(np.where(sides, mids[market], 100 - mids[market]) - rng.integers(0, 15, size=n), 1, 99)
    qty = rng.integers(1, 300, size=n) * np.where(rng.random(n) < 0.5, -1, 1)
    rows = []
    for i in range(n):
        rows.append((int(recv[i]), int(exch[i]), 1, i + 1, TICKERS[market[i]], "delta",
                     "yes" if sides[i] else "no", float(price[i]), float(qty[i]), 1))
    return rows


def stored_bytes_per_row(root: Path, table_name: str, table: pa.Table) -> tuple[float, float]:
    """(our compacted day file, pandas default to_parquet) bytes per row for the same rows."""
    fs = LocalFS()
    fs.write_parquet(TABLES[table_name].layout.part_file(root, DAY, PartName("c0", 1, 2, 3)), table)
    compact_day(fs, root, TABLES[table_name], DAY)  # the default collector's parts into its day file
    ours = day_file(root, table_name, DAY).stat().st_size / table.num_rows
    buf = io.BytesIO()
    table.to_pandas().to_parquet(buf)
    return ours, buf.tell() / table.num_rows


def throughput(root: Path, rows: list[tuple]) -> tuple[float, float]:
    """(LiveStore append + background sync every 0.2 s + flush rows/s, list.append + to_parquet rows/s)."""
    store = LiveStore(root / "live", journal_sync_interval=0.2)
    started = time.perf_counter()
    append = store.append
    for row in rows:
        append("orderbook_deltas", row)
    store.sync()
    store.flush()
    ours = len(rows) / (time.perf_counter() - started)
    store.close()

    started = time.perf_counter()
    plain: list[tuple] = []
    for row in rows:
        plain.append(row)
    pd.DataFrame(plain, columns=TABLES["orderbook_deltas"].schema.names).to_parquet(root / "plain.parquet")
    return ours, len(rows) / (time.perf_counter() - started)


def append_cost(root: Path, rows: list[tuple]) -> tuple[float, float]:
    """ns per row: LiveStore.append alone vs list.append (the hot path's floor)."""
    store = LiveStore(root / "append", journal_sync_interval=None)
    started = time.perf_counter()
    append = store.append
    for row in rows:
        append("orderbook_deltas", row)
    ours = (time.perf_counter() - started) / len(rows) * 1e9
    plain: list[tuple] = []
    started = time.perf_counter()
    add = plain.append
    for row in rows:
        add(row)
    base = (time.perf_counter() - started) / len(rows) * 1e9
    store.close()
    return ours, base


def main() -> None:
    rng = np.random.default_rng(20260211)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        book = orderbook_snapshots(rng)
        ours, pandas_default = stored_bytes_per_row(root, "orderbook_snapshots", book)
        print(f"orderbook_snapshots: {book.num_rows:,} rows ({MARKETS} markets x 2 sides x {LEVELS} levels "
              f"every {SNAPSHOT_EVERY_S} s for 1 h)")
        print(f"  compacted day file  {ours:6.2f} bytes/row   (target <= {TARGET_BYTES_PER_ROW:.0f}: "
              f"{'met' if ours <= TARGET_BYTES_PER_ROW else 'MISSED'})")
        print(f"  pandas to_parquet   {pandas_default:6.2f} bytes/row   -> {pandas_default / ours:.2f}x smaller")

        rows = delta_rows(rng, DELTAS_PER_S * HOUR_S)
        deltas, _ = rows_to_table(TABLES["orderbook_deltas"], rows)
        ours, pandas_default = stored_bytes_per_row(root, "orderbook_deltas", deltas)
        print(f"orderbook_deltas: {deltas.num_rows:,} rows (~{DELTAS_PER_S}/s for 1 h)")
        print(f"  compacted day file  {ours:6.2f} bytes/row")
        print(f"  pandas to_parquet   {pandas_default:6.2f} bytes/row   -> {pandas_default / ours:.2f}x smaller")

        ours, base = throughput(root, rows)
        print(f"LiveStore append (sync thread every 0.2 s) + final sync + flush: {ours:,.0f} rows/s")
        print(f"  list.append + pandas to_parquet (no journal, no fsync): {base:,.0f} rows/s "
              f"-> durable path at {ours / base:.2f}x of it")
        ours, base = append_cost(root, rows)
        print(f"LiveStore.append {ours:.0f} ns/row vs list.append {base:.0f} ns/row -> {ours / base:.1f}x")


if __name__ == "__main__":
    main()
