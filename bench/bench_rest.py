"""REST client pagination: ~200,000 trades from the simulator, limits off.

Ours: ``KalshiRestClient.iter_trades`` (aiohttp, msgspec typed decoding, exact Decimal conversion of
every price and count into cents/contracts) over every page of ``/markets/trades`` and
``/historical/trades``. Baseline in the same run: a plain synchronous ``requests`` loop fetching the
same pages and only ``json``-decoding them. Printed: trades/s of each and the ratio.

Knob: ``BENCH_REST_TRADES`` (default 200,000).
"""

from __future__ import annotations

import asyncio
import os
import time

import requests

from bench.bench_backfill import Sim
from kalshi_collector.kalshi.rest import KalshiRestClient

MARKETS = 6 * 3  # one series, brackets x (history day + today + tomorrow)


async def ours(url: str) -> tuple[int, float]:
    n = 0
    async with KalshiRestClient(url, requests_per_second=0) as client:
        t0 = time.perf_counter()
        for historical in (True, False):
            async for page in client.iter_trades(limit=1000, historical=historical):
                n += len(page.items)
        return n, time.perf_counter() - t0


def baseline(url: str) -> tuple[int, float]:
    session = requests.Session()
    n = 0
    t0 = time.perf_counter()
    for path in ("/historical/trades", "/markets/trades"):
        cursor = ""
        while True:
            page = session.get(f"{url}{path}", params={"limit": 1000, "cursor": cursor}).json()
            n += len(page["trades"])
            cursor = page["cursor"]
            if not cursor:
                break
    return n, time.perf_counter() - t0


def main() -> None:
    target = int(os.environ.get("BENCH_REST_TRADES", "200000"))
    per_market = max(10, target // 12)
    with Sim("--series", "KXHIGHCHI", "--history-days", "2", "--cutoff-days", "1",
             "--history-trades", str(per_market)) as sim:
        b_n, b_s = baseline(sim.rest_url)  # warms the simulator's caches for both
        o_n, o_s = asyncio.run(ours(sim.rest_url))
        b_n, b_s = baseline(sim.rest_url)
    assert o_n == b_n, (o_n, b_n)
    print(f"{o_n:,} trades, 1,000 per page, both tiers")
    print(f"  ours (aiohttp + msgspec, typed, exact cents): {o_n / o_s:,.0f} trades/s ({o_s:.2f} s)")
    print(f"  baseline (synchronous requests + json):       {b_n / b_s:,.0f} trades/s ({b_s:.2f} s)")
    print(f"  ratio ours / baseline: {(o_n / o_s) / (b_n / b_s):.2f}x")


if __name__ == "__main__":
    main()
