"""Benchmark: book states of one market from a day of tape, beside the least a replay can do.

A day of tape is written through the real ``LiveStore`` (one busy market among 20, as a collector
writes it). Ours: ``open_data(...).books(ticker, start, end)``, every change (a typed ``BookState``
with its sorted levels per change) and once a second. Baseline, in the same run: read the same day
with ``read_parquets``, keep the market's rows, and apply them to a ``{price: size}`` dict in a
plain loop that hands out nothing (no exact units, no validity, no states). The ratio says what
the records and checks cost over reading alone.

Run: ``.venv/bin/python -m bench.bench_replay``.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from kalshi_collector.research import open_data
from kalshi_collector.storage import LiveStore, ParquetStorage

DAY = dt.date(2026, 2, 12)
MARKETS = 20
DELTAS = 100_000  # of the busy market; the others get a tenth each
TICKER = "KXHIGHCHI-26FEB12-B34.5"


def _tape(start_us: int) -> list[tuple]:
    rng = random.Random(7)
    rows: list[tuple] = []
    tickers = [TICKER] + [f"KXHIGHCHI-26FEB12-B{36 + 2 * i}.5" for i in range(MARKETS - 1)]
    for seq, t in enumerate(tickers):
        rows += [(start_us, None, 1, seq, t, "snapshot", side, float(p), 100.0, 1)
                 for side, prices in (("yes", range(20, 40)), ("no", range(50, 70))) for p in prices]
    books = {t: {("yes", p): 100.0 for p in range(20, 40)} | {("no", p): 100.0 for p in range(50, 70)} for t in tickers}
    seq = len(tickers)
    weights = [10] + [1] * (MARKETS - 1)
    for i in range(int(DELTAS * (1 + (MARKETS - 1) / 10))):
        t = rng.choices(tickers, weights)[0]
        side = rng.choice(("yes", "no"))
        price = rng.randrange(20, 40) if side == "yes" else rng.randrange(50, 70)
        have = books[t].get((side, price), 0.0)
        change = float(rng.choice((-1, 1)) * rng.randint(1, 5)) if have > 5 else float(rng.randint(1, 5))
        books[t][(side, price)] = have + change
        seq += 1
        ts = start_us + 1000 + i * 700
        rows.append((ts, ts - 30_000, 1, seq, t, "delta", side, float(price), change, 1))
    return rows


def _baseline(folder: Path) -> int:
    tape = ParquetStorage(folder).read_parquets("orderbook_deltas", DAY, DAY)
    rows = tape[tape["market_ticker"] == TICKER]
    book: dict[tuple[str, float], float] = {}
    n = 0
    for kind, side, price, qty in zip(rows["kind"], rows["side"], rows["price_cents"], rows["quantity"], strict=True):
        key = (side, price)
        book[key] = qty if kind == "snapshot" else book.get(key, 0.0) + qty
        n += 1
    return n


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        start = dt.datetime.combine(DAY, dt.time(), dt.UTC)
        start_us = int(start.timestamp() * 1_000_000)
        rows = _tape(start_us)
        with LiveStore(folder, journal_sync_interval=None) as store:
            store.extend("orderbook_deltas", rows)
            store.flush()
        end = start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        data = open_data(folder)
        t0 = time.perf_counter()
        applied = _baseline(folder)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        states = sum(1 for _ in data.books(TICKER, start, end))
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        samples = sum(1 for _ in data.books(TICKER, start, start + dt.timedelta(seconds=len(rows) * 0.0007),
                                            every=1))
        sampled = time.perf_counter() - t0
    print(f"tape: {len(rows):,} rows, {MARKETS} markets; the replayed market: {applied:,} rows")
    print(f"baseline (read_parquets + dict loop, no records): {base:6.2f} s = {applied / base:>9,.0f} rows/s")
    print(f"ours, every change:  {states:>7,} BookStates in {ours:6.2f} s = {states / ours:>9,.0f} states/s "
          f"({ours / base:.2f}x the baseline's time)")
    print(f"ours, every second:  {samples:>7,} BookStates in {sampled:6.2f} s = {samples / sampled:>9,.0f} states/s")


if __name__ == "__main__":
    main()
