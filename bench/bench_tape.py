"""The raw tape's cost: bytes per raw message, rebuild speed, and the live collector with it on vs off.

One simulator process (``bench_live.start_sim``), the real :class:`Collector` run twice against it
(raw tape off, then on), each in a fresh process of its own (so neither inherits the other's
memory), for ``BENCH_TAPE_SECONDS`` (default 20) at ``BENCH_LIVE_RATE``
(default 14000 events/s, about 20,000 messages/s). Printed, each beside its baseline of this run:

* the live run with the raw tape on vs off: messages/s, exchange->applied p99, peak RSS (ratios);
* bytes per raw message after compaction (``raw_ws`` day file with its declared write options):
  order-book delta frames alone (target <= 20 B), all records, beside the derived
  ``orderbook_deltas`` table's bytes per row;
* rebuild speed (raw records/s through ``kalshi-collector rebuild``) beside the bare frame handler's
  rate on the same frames (decode + seq + book + rows into a list: the live read path without I/O).

``BENCH_TAPE_MAX_BUFFERED`` sets ``storage.max_buffered_rows`` of both live runs (default: the
config's default): raw rows count toward it and weigh about twice a derived row in memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.bench_live import ours, start_sim
from kalshi_collector.book import BookStore
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.frames import FrameHandler
from kalshi_collector.live.rebuild import exact_seconds
from kalshi_collector.live.rebuild_io import rebuild
from kalshi_collector.live.resync import Resync
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import RAW_WS
from kalshi_collector.storage.compact import COMPACT_OPTIONS

SECONDS = float(os.environ.get("BENCH_TAPE_SECONDS", "20"))


class _ListSink:
    def __init__(self) -> None:
        self.rows: list = []

    def append(self, table: str, row) -> None:
        self.rows.append(row)

    def extend(self, table: str, rows) -> None:
        self.rows.extend(rows)


def _compact(data: Path) -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with LiveStore(data, collector_id="c0", journal_sync_interval=None) as store:
        store.compact(tomorrow)  # today's parts as if the day were over


def _size(table: pa.Table, options: dict) -> int:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **options)
    return sink.getvalue().size


def bytes_per_message(data: Path) -> pa.Table:
    raw = ParquetStorage(data).read_arrow("raw_ws").sort_by("n")
    files = list((data / "raw_ws").glob("*.parquet"))
    total = sum(f.stat().st_size for f in files)
    options = {**COMPACT_OPTIONS, **RAW_WS.write_options}
    is_delta = pc.and_(pc.equal(raw.column("kind"), "in"),
                       pc.match_substring(raw.column("data").cast(pa.string()), '"type":"orderbook_delta"'))
    deltas = raw.filter(is_delta)
    delta_b = _size(deltas, options) / max(deltas.num_rows, 1)
    raw_delta_b = sum(len(v) for v in deltas.column("data").to_pylist()) / max(deltas.num_rows, 1)
    derived = ParquetStorage(data).read_arrow("orderbook_deltas")
    derived_size = sum(f.stat().st_size for f in (data / "orderbook_deltas").glob("*.parquet"))
    print(f"raw_ws after compaction: {raw.num_rows:,} records, {total / max(raw.num_rows, 1):.1f} B/record overall")
    print(f"  order-book delta frames: {deltas.num_rows:,}, {raw_delta_b:.0f} B as received -> "
          f"{delta_b:.1f} B/frame compacted (target <= 20 B)")
    print(f"  beside the derived orderbook_deltas table: {derived_size / max(derived.num_rows, 1):.1f} B/row "
          f"({derived.num_rows:,} rows)")
    for level in (3, 9):
        plain = _size(deltas, {**options, "compression_level": level, "data_page_size": 1 << 20})
        print(f"  (for comparison: zstd {level}, 1 MB pages: {plain / max(deltas.num_rows, 1):.1f} B/frame)")
    return raw


def handler_rate(raw: pa.Table) -> float:
    """The bare frame handler over the same frames (no I/O): the live read path's own cost."""
    frames = raw.filter(pc.equal(raw.column("kind"), "in"))
    ts = frames.column("recv_ts").cast(pa.int64()).to_pylist()
    data = frames.column("data").to_pylist()
    books, counters, sink = BookStore(), Counters(), _ListSink()
    resync = Resync(books, sink, counters, request=lambda sid, tickers: True)
    handler = FrameHandler(books, resync, sink, counters)
    handler.connection_opened(1)
    started = time.perf_counter()
    for t, frame in zip(ts, data, strict=True):
        handler.on_frame(exact_seconds(t), frame)
    return len(ts) / (time.perf_counter() - started)


def rebuild_rate(data: Path, out: Path) -> float:
    days = ParquetStorage(data).read_arrow("raw_ws").column("recv_ts")
    start = pc.min(days).as_py().date()
    end = pc.max(days).as_py().date()
    started = time.perf_counter()
    report = rebuild(data, out, start, end)
    elapsed = time.perf_counter() - started
    print(f"rebuild: {report.records:,} raw records in {elapsed:.1f} s; rows {report.rows}")
    return report.records / elapsed


def _live_line(name: str, r: dict) -> str:
    return (f"{name:<14} {r['msgs_per_s']:>9,.0f} msg/s  p99 {r['p99_ms']:7.2f} ms  "
            f"frame->applied p99 {r['recv_p99_ms']:.3f} ms  peak RSS {r['peak_rss_sampled_mb']:.0f} MB")


def _run_apart(info: dict[str, str], data: Path, raw_tape: bool) -> dict:
    """One live run in a fresh interpreter: its RSS is its own."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_tape", "--run", json.dumps(info), str(data), "on" if raw_tape else "off"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        sim, info = start_sim(tmpd / "sim")
        try:
            off = _run_apart(info, tmpd / "off", raw_tape=False)
            on = _run_apart(info, tmpd / "on", raw_tape=True)
        finally:
            sim.terminate()
            sim.wait(10)
        print(f"live collector, {SECONDS:.0f} s each (a shared machine: compare the two lines, not absolutes)")
        print(_live_line("raw tape off", off))
        print(_live_line("raw tape on", on))
        print(f"  ratio on/off: rate {on['msgs_per_s'] / off['msgs_per_s']:.2f}, p99 "
              f"{on['p99_ms'] / max(off['p99_ms'], 1e-9):.2f}, RSS "
              f"{on['peak_rss_sampled_mb'] / max(off['peak_rss_sampled_mb'], 1e-9):.2f}")
        _compact(tmpd / "on")
        raw = bytes_per_message(tmpd / "on")
        base = handler_rate(raw)
        rate = rebuild_rate(tmpd / "on", tmpd / "rebuilt")
        print(f"rebuild {rate:,.0f} raw records/s; bare frame handler on the same frames {base:,.0f} frames/s "
              f"(ratio {rate / base:.2f})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        limit = os.environ.get("BENCH_TAPE_MAX_BUFFERED")
        result = asyncio.run(ours(json.loads(sys.argv[2]), Path(sys.argv[3]), SECONDS, raw_tape=sys.argv[4] == "on",
                                  max_buffered_rows=int(limit) if limit else None))
        print(json.dumps(result))
    else:
        main()
