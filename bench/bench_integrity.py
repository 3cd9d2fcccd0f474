"""Benchmark: what the integrity checks cost, each beside the same work without them.

- writing a part with page checksums (``PARQUET_OPTIONS``) vs without: time and bytes/row;
- reading it back through ``ParquetStorage`` (checksums verified, damaged files skipped) vs a
  plain ``pyarrow.parquet.read_table`` (no verification);
- folding repeated ``trade_id``s (``storage.dedupe.first_per_key``) over a day of trades vs
  ``pyarrow.Table.sort_by`` of the same table on ``trade_id`` (another pass over the key).

Data: the order-book deltas of bench_storage (seeded), ~150/s for an hour; 200,000 trades with 1%
repeated. Run: ``.venv/bin/python -m bench integrity``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.bench_storage import DAY, DELTAS_PER_S, HOUR_S, delta_rows
from kalshi_collector.storage import TABLES, ParquetStorage
from kalshi_collector.storage.atomic import PARQUET_OPTIONS
from kalshi_collector.storage.dedupe import first_per_key
from kalshi_collector.storage.rows import rows_to_table

REPEATS = 5


def _best(fn) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def checksums(root: Path, table: pa.Table) -> None:
    folder = root / "orderbook_deltas" / DAY.isoformat()
    folder.mkdir(parents=True)
    with_crc, without = folder / "part-c0-1-2-3.parquet", root / "plain.parquet"
    plain_options = {**PARQUET_OPTIONS, "write_page_checksum": False}
    t_with = _best(lambda: pq.write_table(table, with_crc, **PARQUET_OPTIONS))
    t_without = _best(lambda: pq.write_table(table, without, **plain_options))
    n = table.num_rows
    print(f"write {n:,} delta rows: with page checksums {t_with * 1e3:.0f} ms, "
          f"{with_crc.stat().st_size / n:.2f} bytes/row; without {t_without * 1e3:.0f} ms, "
          f"{without.stat().st_size / n:.2f} bytes/row -> {t_with / t_without:.2f}x the time")
    storage = ParquetStorage(root)
    r_ours = _best(lambda: storage.read_arrow("orderbook_deltas", DAY, DAY))
    r_plain = _best(lambda: pq.read_table(without))
    print(f"read back: ParquetStorage (checksums verified) {r_ours * 1e3:.0f} ms vs "
          f"pq.read_table (none) {r_plain * 1e3:.0f} ms -> {r_ours / r_plain:.2f}x")


def dedupe(rng: np.random.Generator) -> None:
    n = 200_000
    ids = [f"trade-{i}" for i in range(n)]
    for i in rng.choice(n, n // 100, replace=False):
        ids[i] = ids[max(0, i - 1)]
    table = pa.table({"recv_ts": pa.array(np.arange(n, dtype=np.int64)), "trade_id": ids,
                      "count": pa.array(rng.integers(1, 100, n).astype(np.float64))})
    kept = first_per_key(table, ("trade_id",)).num_rows
    t_dedupe = _best(lambda: first_per_key(table, ("trade_id",)))
    t_sort = _best(lambda: table.sort_by([("trade_id", "ascending")]))
    print(f"first_per_key over {n:,} trades ({n - kept:,} repeats folded): {t_dedupe * 1e3:.0f} ms vs "
          f"sort_by trade_id {t_sort * 1e3:.0f} ms -> {t_dedupe / t_sort:.2f}x")


def main() -> None:
    rng = np.random.default_rng(20260211)
    deltas, _ = rows_to_table(TABLES["orderbook_deltas"], delta_rows(rng, DELTAS_PER_S * HOUR_S))
    with tempfile.TemporaryDirectory() as tmp:
        checksums(Path(tmp), deltas)
    dedupe(rng)


if __name__ == "__main__":
    main()
