"""REST client cost on its own: trade pages pre-rendered in memory, served by a trivial loopback
server in a child process (its CPU is not ours, and it only copies bytes), so what is timed is
our client's parse + write path, not the server.

Ours, exactly the backfill's trade path: ``KalshiRestClient.iter_trade_columns`` (aiohttp, msgspec
decoding into light records, exact memoised Decimal conversion of prices and counts, Arrow columns
with one vectorised time parse; ``kalshi/trade_columns.py``) → ``backfill.store.trades_table_from_columns``
per page → ``merge_tables`` (dedupe by ``trade_id``, sort) → ``atomic_write_parquet`` (zstd, fsync,
rename), in trades/s. Also printed: the same run through the per-trade records
(``iter_trades`` → ``Trade`` → ``trades_table``), the path before this benchmark existed. Baseline in the same run: a bare ``urllib`` + ``json`` +
``Decimal`` loop fetching the same pages and converting every price and count exactly, writing
nothing. Each figure is given per wall-clock second and per CPU second of this process (the
client's own cost, steady on a shared machine); also the page decoder alone, in memory.

Knob: ``BENCH_REST_PAGES_TRADES`` (default 300,000; 1,000 trades per page).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from kalshi_collector.backfill.store import (
    TRADES_SCHEMA,
    merge_tables,
    trades_table,
    trades_table_from_columns,
)
from kalshi_collector.kalshi import trade_columns as tc
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.storage.atomic import atomic_write_parquet
from kalshi_collector.storage.catalog import TRADES

PAGE = 1000
TICKER = "KXHIGHCHI-26FEB11-B32.5"
EVENT = "KXHIGHCHI-26FEB11"
PATH = "/trade-api/v2/markets/trades"


def render_pages(total: int) -> dict[str, bytes]:
    """Every page of ``total`` trades keyed by the cursor that asks for it ('' = first page),
    shaped as Kalshi sends them (fixed-point strings only, RFC 3339 times)."""
    pages: dict[str, bytes] = {}
    t0 = datetime(2026, 2, 11, 12, tzinfo=UTC)
    n_pages = max(1, -(-total // PAGE))
    for p in range(n_pages):
        trades = []
        for i in range(p * PAGE, min(total, (p + 1) * PAGE)):
            yes = 1 + i % 98
            trades.append({
                "trade_id": f"{i:08x}-5c1e-4b7a-9f00-{i:012x}", "ticker": TICKER,
                "count_fp": f"{1 + i % 250}.{i % 100:02d}",
                "yes_price_dollars": f"0.{yes:02d}00", "no_price_dollars": f"0.{100 - yes:02d}00",
                "created_time": (t0 - timedelta(milliseconds=37 * i)).isoformat().replace("+00:00", "Z"),
                "taker_outcome_side": "yes" if i % 3 else "no", "taker_side": "yes" if i % 3 else "no",
                "taker_book_side": "bid" if i % 2 else "ask", "is_block_trade": False,
            })
        cursor = f"c{p + 1}" if p + 1 < n_pages else ""
        pages["" if p == 0 else f"c{p}"] = json.dumps({"trades": trades, "cursor": cursor}).encode()
    return pages


# ------------------------------------------------------------------------------ the server


def _response(body: bytes) -> bytes:
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n").encode()
    return head + body


class _PageServer(asyncio.Protocol):
    """HTTP/1.1 keep-alive, GET only: the request line's ``cursor`` picks a pre-built response."""

    def __init__(self, responses: dict[str, bytes]) -> None:
        self.responses = responses
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            target = head.split(b" ", 2)[1].decode()
            cursor = ""
            if "cursor=" in target:
                cursor = target.split("cursor=", 1)[1].split("&", 1)[0]
            body = self.responses.get(cursor)
            assert self.transport is not None
            self.transport.write(body if body is not None else b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def _serve(total: int, port_out: mp.connection.Connection) -> None:
    responses = {k: _response(v) for k, v in render_pages(total).items()}

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _PageServer(responses), "127.0.0.1", 0)
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


@dataclass
class PageServer:
    """The page server in a forked child; ``url`` is the REST base URL."""

    total: int
    url: str = ""
    proc: mp.Process | None = None

    def __enter__(self) -> PageServer:
        ctx = mp.get_context("fork")
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(self.total, theirs), daemon=True)
        self.proc.start()
        self.url = f"http://127.0.0.1:{ours.recv()}/trade-api/v2"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.join(5)


# ------------------------------------------------------------------------------ the runs


async def _ours(url: str, out: Path, *, records: bool = False) -> tuple[int, float, float]:
    """The backfill's trade path: pages → Arrow tables → merged, sorted, written per event
    (``records``: through one ``Trade`` per trade instead of columns). Returns (trades, wall s,
    CPU s of this process: the client's own cost, whatever else the machine is doing)."""
    t0, c0 = time.perf_counter(), time.process_time()
    tables = []
    async with KalshiRestClient(url, requests_per_second=0) as client:
        if records:
            async for page in client.iter_trades(ticker=TICKER, limit=PAGE):
                tables.append(trades_table(EVENT, page.items))
        else:
            async for cols in client.iter_trade_columns(ticker=TICKER, limit=PAGE):
                tables.append(trades_table_from_columns(EVENT, cols))
    merged = merge_tables(tables, TRADES_SCHEMA, TRADES.key, TRADES.sort_keys)
    atomic_write_parquet(out, merged)
    return merged.num_rows, time.perf_counter() - t0, time.process_time() - c0


def _baseline(url: str) -> tuple[int, float, float]:
    """urllib + json + exact Decimal conversion of every price and count; nothing written."""
    hundred = Decimal(100)
    n, cursor = 0, ""
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        with urllib.request.urlopen(f"{url}/markets/trades?ticker={TICKER}&limit={PAGE}&cursor={cursor}") as r:
            page = json.loads(r.read())
        for t in page["trades"]:
            float(Decimal(t["yes_price_dollars"]) * hundred)
            float(Decimal(t["no_price_dollars"]) * hundred)
            float(Decimal(t["count_fp"]))
            n += 1
        cursor = page["cursor"]
        if not cursor:
            return n, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    total = int(os.environ.get("BENCH_REST_PAGES_TRADES", "300000"))
    work = Path(tempfile.mkdtemp(prefix="bench-rest-pages-"))
    try:
        pages = list(render_pages(total).values())
        with PageServer(total) as server:
            _baseline(server.url)  # warm-up: both sides' first-page costs out of the figures
            runs = {"ours": [], "base": [], "records": []}
            for i in range(3):  # interleaved, best of 3: the machine is shared
                runs["ours"].append(asyncio.run(_ours(server.url, work / f"o{i}.parquet")))
                runs["base"].append(_baseline(server.url))
                runs["records"].append(asyncio.run(_ours(server.url, work / f"r{i}.parquet", records=True)))
        best = {k: (v[0][0], min(r[1] for r in v), min(r[2] for r in v)) for k, v in runs.items()}
        c0 = time.process_time()
        for body in pages:
            tc.columns(tc.decode_page(body))
        col_cpu = time.process_time() - c0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (o_n, o_s, o_c), (b_n, b_s, b_c), (r_n, r_s, r_c) = best["ours"], best["base"], best["records"]
    assert o_n == b_n == r_n == total, (o_n, b_n, r_n, total)
    print(f"{total:,} trades, {len(pages)} pre-rendered pages of {PAGE:,}, loopback server in a child process; "
          "best of 3 interleaved runs, wall clock and this process's CPU time")
    print(f"  ours (aiohttp + msgspec + exact cents -> Arrow columns -> merged, sorted, zstd parquet): "
          f"{o_n / o_s:,.0f} trades/s wall, {o_n / o_c:,.0f} trades/CPU-s (target >= 300,000)")
    print(f"  baseline (urllib + json + Decimal, nothing written):                                  "
          f"{b_n / b_s:,.0f} trades/s wall, {b_n / b_c:,.0f} trades/CPU-s")
    print(f"  ratio ours / baseline: {(o_n / o_s) / (b_n / b_s):.2f}x wall, {(o_n / o_c) / (b_n / b_c):.2f}x CPU")
    print(f"  the same through one Trade record per trade (iter_trades, the earlier path): {r_n / r_s:,.0f} "
          f"trades/s wall, {r_n / r_c:,.0f} trades/CPU-s")
    print(f"  page -> columns alone, in memory: {total / col_cpu:,.0f} trades/CPU-s")


if __name__ == "__main__":
    main()
