"""Pacing against a rate-limited exchange, and requests the exchange refuses as too large."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from bf_helpers import client, read, sim_config

from kalshi_collector.backfill import BackfillRequest, backfill
from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.plan import Window, candle_request_bounds
from kalshi_collector.sim import SimExchange


async def test_paced_to_the_servers_limit_earns_no_429(tmp_path: Path) -> None:
    async with SimExchange(sim_config(rest_rate_limit=40)) as sim:
        today = sim.model.today
        request = BackfillRequest(start=today - timedelta(days=6), end=today - timedelta(days=1),
                                  series=("KXHIGHCHI", "KXHIGHNY"))
        async with client(sim, requests_per_second=40, burst_seconds=2.0) as c:
            started = time.monotonic()
            summary = await backfill(c, tmp_path, request)
            elapsed = time.monotonic() - started
    assert summary.ok and summary.http_429 == 0
    # more requests than the 2 s burst holds, so the limiter really paced them
    assert summary.requests > 80 and elapsed >= (summary.requests - 80) / 40 * 0.9


async def test_a_burst_of_429s_to_requests_in_flight_does_not_stall_the_client(sim: SimExchange) -> None:
    for _ in range(16):
        sim.inject("429")
    async with client(sim, max_backoff=30.0) as c:
        started = time.monotonic()
        await asyncio.gather(*(c.historical_cutoff() for _ in range(16)))
        elapsed = time.monotonic() - started
    assert c.stats.http_429 == 16
    assert elapsed < 3.0  # one short cool-down, not sixteen escalations to the 30 s cap


async def test_a_refused_candle_batch_is_split_until_it_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend we believed a much larger cap: the exchange answers 400 "too many candlesticks"
    # and the backfill must halve the request until each part fits. Pieces are cut per day, so a
    # request is refused only if one day's candles exceed 10,000 whatever the date: 8 brackets of one
    # event alive the whole day are 11,520 one-minute candles.
    monkeypatch.setattr(P, "BATCH_MAX_CANDLES", 200_000)
    async with SimExchange(replace(sim_config(), brackets_per_event=8)) as sim:
        await _refused_batch_is_split(sim, tmp_path)


async def _refused_batch_is_split(sim: SimExchange, tmp_path: Path) -> None:
    today = sim.model.today
    events = tuple(e["event_ticker"] for e in sim.truth.events()
                   if e["series_ticker"] == "KXHIGHNY" and e["event_ticker"].endswith(
                       tuple(f"{(today - timedelta(days=d)):%y%b%d}".upper() for d in (1, 2))))
    assert len(events) == 2
    request = BackfillRequest(start=today - timedelta(days=2), end=today - timedelta(days=1), events=events,
                              period_minutes=1)
    async with client(sim) as c:
        summary = await backfill(c, tmp_path, request)
    assert summary.ok
    assert c.stats.http_4xx >= 1  # the refused batch
    w = Window.from_dates(request.start, request.end)
    start_ts, end_ts = candle_request_bounds(w.start, w.end, 1)
    want = sum(len(sim.truth.candles(m["ticker"], 1, start_ts, end_ts)) for e in events for m in sim.truth.markets(e))
    assert want > 10_000 and read(tmp_path, "candlesticks").num_rows == want
