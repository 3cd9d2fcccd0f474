"""Backfill benchmarks against the simulator running as its own process (``kalshi-collector sim``).

1. **Rate**: the simulator enforces Kalshi's token bucket at ``LIMIT`` requests/s; our backfill
   runs with the same limit configured and we measure its steady request rate over 60 s (after
   the first seconds, which ride the bucket's initial burst) as a share of the limit, and its
   429s. Baseline in the same run: the same backfill with the client-side limit switched off,
   paced only by the server's 429s and the client's cool-down.
2. **Throughput**: ~1,000,000 trades end to end (listing, paging both tiers, parsing exactly,
   writing parquet, merging per-event files) with limits off, in trades/s, beside a plain
   synchronous ``requests`` loop that only pages the same trades and decodes the JSON.

Scale knobs for a quick look: ``BENCH_BACKFILL_SECONDS`` (default 60) and
``BENCH_BACKFILL_TRADES`` (default 1,000,000).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import requests

from kalshi_collector.backfill import BackfillRequest, backfill
from kalshi_collector.kalshi.rest import KalshiRestClient

SERIES = ("KXHIGHCHI", "KXHIGHNY", "KXHIGHMIA", "KXHIGHAUS", "KXHIGHDEN", "KXHIGHLAX", "KXHIGHPHIL")
LIMIT = 60.0  # requests/s: Kalshi's Expert tier
WARMUP = 5.0  # seconds excluded from the rate figure (the bucket starts full: 2 s of burst)


class Sim:
    """``kalshi-collector sim`` in a child process (its CPU is not ours)."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kalshi_collector.cli", "sim", "--port", "0", "--rate", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        assert self.proc.stdout is not None
        self.rest_url = ""
        for line in self.proc.stdout:
            if line.startswith("REST URL:"):
                self.rest_url = line.split(":", 1)[1].strip()
                break
        if not self.rest_url:
            raise RuntimeError("the simulator did not start")

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _today() -> datetime:
    return datetime.now(UTC)


async def _rate_run(url: str, data_dir: Path, client_limit: float, seconds: float) -> tuple[float, int, int]:
    """Run a large backfill for WARMUP + seconds; return (ok requests/s after warm-up, 429s in
    the whole run, requests in the whole run)."""
    today = _today().date()
    request = BackfillRequest(start=today - timedelta(days=120), end=today, series=SERIES, period_minutes=60)
    async with KalshiRestClient(url, requests_per_second=client_limit, burst_seconds=2.0, max_retries=20) as client:
        task = asyncio.create_task(backfill(client, data_dir, request, concurrency=16))
        await asyncio.sleep(WARMUP)
        s0 = client.stats.as_dict()
        await asyncio.sleep(seconds)
        s1 = client.stats.as_dict()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        if task.done() and not task.cancelled() and task.exception() is None:
            raise RuntimeError("the backfill ran out of work before the measurement ended; add history")

    def ok(s: dict) -> int:
        return s.get("requests", 0) - s.get("http_429", 0) - s.get("http_5xx", 0)

    # 429s over the whole run (the initial burst included), the rate over the measured window
    return (ok(s1) - ok(s0)) / seconds, s1.get("http_429", 0), s1.get("requests", 0)


def bench_rate(seconds: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-rate-"))
    try:
        with Sim("--series", *SERIES, "--history-days", "120", "--cutoff-days", "3", "--history-trades", "20",
                 "--rest-rate-limit", str(LIMIT)) as sim:
            ours, ours_429, _ = asyncio.run(_rate_run(sim.rest_url, work / "paced", LIMIT, seconds))
            time.sleep(2.5)  # let the server's bucket refill
            base_seconds = min(seconds, 20.0)
            base, base_429, _ = asyncio.run(_rate_run(sim.rest_url, work / "unpaced", 0, base_seconds))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"rate limit {LIMIT:.0f} req/s, measured over {seconds:.0f} s after {WARMUP:.0f} s of warm-up")
    print(f"  backfill (client limit = server limit): {ours:6.1f} req/s = {ours / LIMIT:6.1%} of the limit, "
          f"{ours_429} x 429 (target >= 95%, 0 x 429)")
    print(f"  baseline (no client-side limit, {base_seconds:.0f} s): {base:6.1f} req/s = {base / LIMIT:6.1%} of the "
          f"limit, {base_429} x 429 ({base_429 / base_seconds:.1f} 429s/s)")
    print(f"  ratio backfill / baseline: {ours / base if base else float('inf'):.2f}x useful requests/s")


def _sync_baseline(url: str, start: int, end: int) -> tuple[int, float]:
    """A plain loop: list the markets, page every market's trades in both tiers, decode JSON."""
    session = requests.Session()
    t0 = time.perf_counter()
    cutoff = int(datetime.fromisoformat(session.get(f"{url}/historical/cutoff").json()["trades_created_ts"]
                                        .replace("Z", "+00:00")).timestamp())
    tickers: list[str] = []
    for path in ("/markets", "/historical/markets"):
        cursor = ""
        while True:
            page = session.get(f"{url}{path}", params={"limit": 1000, "cursor": cursor}).json()
            tickers += [m["ticker"] for m in page["markets"]]
            cursor = page["cursor"]
            if not cursor:
                break
    n = 0
    for ticker in dict.fromkeys(tickers):
        for path, lo, hi in (("/historical/trades", start, cutoff - 1), ("/markets/trades", cutoff, end)):
            cursor = ""
            while True:
                page = session.get(f"{url}{path}", params={"ticker": ticker, "min_ts": lo, "max_ts": hi,
                                                           "limit": 1000, "cursor": cursor}).json()
                n += len(page["trades"])
                cursor = page["cursor"]
                if not cursor:
                    break
    return n, time.perf_counter() - t0


def bench_million(target: int) -> None:
    days = 11
    # each past market trades ~1.6 of its 2 listed days inside the window: 1.15 makes up for it
    per_market = max(10, int(target * 1.15) // (len(SERIES) * (days + 2) * 6))
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-1m-"))
    try:
        with Sim("--series", *SERIES, "--history-days", str(days), "--cutoff-days", "5",
                 "--history-trades", str(per_market)) as sim:
            today = _today().date()
            request = BackfillRequest(start=today - timedelta(days=days + 2), end=today, series=SERIES,
                                      period_minutes=60)

            async def run() -> tuple[float, dict]:
                async with KalshiRestClient(sim.rest_url, requests_per_second=0) as client:
                    t0 = time.perf_counter()
                    summary = await backfill(client, work / "data", request, concurrency=16)
                    return time.perf_counter() - t0, {"trades": summary.trades, "requests": summary.requests}

            seconds, info = asyncio.run(run())
            written = sum(pq.read_metadata(p).num_rows for p in (work / "data/historical/trades").glob("*.parquet"))
            w0 = int(datetime.combine(request.start, datetime.min.time(), UTC).timestamp())
            base_n, base_s = _sync_baseline(sim.rest_url, w0, int(time.time()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours = written / seconds
    base = base_n / base_s
    print(f"{written:,} trades written ({info['requests']:,} requests) in {seconds:.1f} s: {ours:,.0f} trades/s "
          f"(target >= 50,000)")
    print(f"  baseline, synchronous requests loop (fetch + json only, no parquet): {base_n:,} trades in "
          f"{base_s:.1f} s = {base:,.0f} trades/s")
    print(f"  ratio backfill / baseline: {ours / base:.2f}x")


def main() -> None:
    seconds = float(os.environ.get("BENCH_BACKFILL_SECONDS", "60"))
    target = int(os.environ.get("BENCH_BACKFILL_TRADES", "1000000"))
    bench_million(target)
    bench_rate(seconds)


if __name__ == "__main__":
    main()
