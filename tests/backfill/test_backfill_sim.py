"""Backfill against the simulated exchange: ground truth, both tiers, faults, resuming, no refetch."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest
from bf_helpers import (
    RecordingClient,
    assert_same_files,
    cents,
    client,
    complete_markets,
    event_files,
    leftovers,
    read,
    sim_config,
    window_request,
)

from kalshi_collector.backfill import BackfillRequest, UnknownTickers, backfill
from kalshi_collector.backfill.command import _run
from kalshi_collector.backfill.plan import Window, candle_request_bounds
from kalshi_collector.backfill.progress import make_progress
from kalshi_collector.config import config_from_dict
from kalshi_collector.sim import FaultPlan, SimExchange
from kalshi_collector.storage import ParquetStorage


def _in_scope_markets(sim: SimExchange, request: BackfillRequest) -> list[dict]:
    chosen = set(request.events)
    return [
        m for m in sim.truth.markets()
        if m["event_ticker"] in chosen or m["event_ticker"].split("-")[0] in request.series
    ]


async def test_result_equals_ground_truth_across_the_cutoff(sim: SimExchange, tmp_path: Path) -> None:
    request = window_request(sim)
    w = Window.from_dates(request.start, request.end)
    markets = _in_scope_markets(sim, request)
    cutoff_s = int(sim.cutoff.timestamp())
    # the range really straddles the cutoff: both tiers hold markets, and some live market has
    # trades on both sides of the trades cutoff
    assert {m["historical"] for m in markets} == {True, False}
    assert any(
        not m["historical"] and any(t["created_ms"] < cutoff_s * 1000 for t in sim.truth.trades(m["ticker"]))
        for m in markets
    )

    async with client(sim) as c:
        summary = await backfill(c, tmp_path, request)
    assert summary.ok and summary.trades > 0 and summary.candles > 0

    # --- trades: every one in the window, exactly (ids, prices, counts, sides, times)
    want = sorted(
        (
            m["event_ticker"], t["ticker"], t["created_ms"] * 1000, t["trade_id"], float(t["yes_price_cents"]),
            float(t["no_price_cents"]), t["count"], t["taker_outcome_side"], t["taker_book_side"], t["is_block_trade"],
        )
        for m in markets for t in sim.truth.trades(m["ticker"])
        if w.start * 1000 <= t["created_ms"] < w.end * 1000
    )
    trades = read(tmp_path, "trades")
    got = sorted(zip(
        trades["event_ticker"].to_pylist(), trades["market_ticker"].to_pylist(),
        pc.cast(trades["timestamp"], "int64").to_pylist(), trades["trade_id"].to_pylist(),
        trades["price"].to_pylist(), trades["no_price"].to_pylist(), trades["count"].to_pylist(),
        trades["taker_side"].to_pylist(), trades["taker_book_side"].to_pylist(), trades["is_block_trade"].to_pylist(),
        strict=True,
    ))
    assert len(got) == summary.trades
    assert got == want
    assert any(Decimal(str(c)) % 1 for c in trades["count"].to_pylist())  # fractional contracts survive exactly

    # --- candles: the exchange's own aggregation, every period whose end lies in (start, end]
    start_ts, end_ts = candle_request_bounds(w.start, w.end, 60)
    want_c = []
    for m in markets:
        for c in sim.truth.candles(m["ticker"], 60, start_ts, end_ts):
            p, b, a = c["price"], c["yes_bid"], c["yes_ask"]
            want_c.append((
                m["ticker"], c["end_period_ts"] * 1_000_000, cents(p["open_dollars"]), cents(p["close_dollars"]),
                cents(p["high_dollars"]), cents(p["low_dollars"]), float(Decimal(c["volume_fp"])), 60,
                cents(b["open_dollars"]), cents(b["high_dollars"]), cents(b["low_dollars"]), cents(b["close_dollars"]),
                cents(a["open_dollars"]), cents(a["high_dollars"]), cents(a["low_dollars"]), cents(a["close_dollars"]),
                float(Decimal(c["open_interest_fp"])),
            ))
    candles = read(tmp_path, "candlesticks")
    cols = ["market_ticker", "timestamp", "open_price", "close_price", "high_price", "low_price", "volume",
            "period_minutes", "yes_bid_open", "yes_bid_high", "yes_bid_low", "yes_bid_close", "yes_ask_open",
            "yes_ask_high", "yes_ask_low", "yes_ask_close", "open_interest"]
    got_c = sorted(zip(*[
        (pc.cast(candles[c], "int64") if c == "timestamp" else candles[c]).to_pylist() for c in cols
    ], strict=True))
    assert got_c == sorted(want_c)
    assert candles.schema.field("timestamp").type.tz == "UTC"

    # --- files are sorted deterministically, one per event, nothing staged left behind
    for name, table in event_files(tmp_path).items():
        key = ["market_ticker", "timestamp", "trade_id"] if name.startswith("trades") else \
            ["market_ticker", "period_minutes", "timestamp"]
        assert table.equals(table.sort_by([(k, "ascending") for k in key])), name
        assert set(table["event_ticker"].to_pylist()) == {Path(name).stem}
    assert leftovers(tmp_path) == []


async def test_rerun_makes_no_request_and_another_period_adds(sim: SimExchange, tmp_path: Path) -> None:
    request = window_request(sim)
    async with client(sim) as c:
        await backfill(c, tmp_path, request)
    before = event_files(tmp_path)

    async with client(sim, RecordingClient) as c:
        again = await backfill(c, tmp_path, request)
    # markets and events are listed again (a series may have new events, a live event new
    # markets), but no market's trades or candles are asked for
    assert c.calls and not [p for p, _ in c.calls if "trades" in p or "candlesticks" in p], c.calls
    assert again.trades == again.candles == 0 and again.markets_fetched == 0
    # the summary says why nothing was fetched: every market was already complete
    assert again.markets > 0 and again.markets_complete == again.markets
    assert f"{again.markets} markets ({again.markets} already complete, 0 fetched)" in again.line()
    after = event_files(tmp_path)
    assert sorted(after) == sorted(before) and all(after[k].equals(before[k]) for k in before)

    # events given by ticker whose markets are all finalized: nothing is asked at all
    final = tuple(e for e in request.events if all(m["status"] == "finalized" for m in sim.truth.markets(e)))
    assert final
    async with client(sim, RecordingClient) as c:
        await backfill(c, tmp_path, BackfillRequest(start=request.start, end=request.end, events=final))
    assert c.calls == []

    # daily candles join the hourly ones in the same files
    daily = window_request(sim, period=1440)
    async with client(sim) as c:
        summary = await backfill(c, tmp_path, daily)
    assert summary.candles > 0 and summary.trades == 0
    candles = read(tmp_path, "candlesticks")
    periods = candles["period_minutes"].to_pylist()
    assert set(periods) == {60, 1440}
    assert periods.count(60) == before_rows(before, "candlesticks")


def before_rows(files: dict, kind: str) -> int:
    return sum(t.num_rows for name, t in files.items() if name.startswith(kind))


async def test_faults_give_the_same_files_as_a_clean_run(tmp_path: Path) -> None:
    faults = FaultPlan(rest_429_every=8, rest_429_burst=3, rest_5xx_every=11, rest_truncate_every=13)
    async with SimExchange(sim_config()) as clean_sim, SimExchange(sim_config(faults)) as bad_sim:
        request = window_request(clean_sim)
        async with client(clean_sim) as c:
            await backfill(c, tmp_path / "clean", request)
        # About half of all requests fail here, so a request's 13 tries can all land on faults
        # when concurrent retries run in step (seen once under a loaded CI machine): more tries.
        async with client(bad_sim, max_retries=40) as c:
            summary = await backfill(c, tmp_path / "faulty", request)
        kinds = {f["kind"] for f in bad_sim.fault_log}
    assert kinds == {"429", "5xx", "truncate"}
    assert summary.ok and summary.http_429 > 0 and summary.retries > 0
    assert c.stats.bad_bodies > 0 and c.stats.http_5xx > 0
    assert_same_files(tmp_path / "clean", tmp_path / "faulty")


async def test_cancelled_run_resumes_to_the_same_files_without_refetching(sim: SimExchange, tmp_path: Path) -> None:
    request = window_request(sim)
    async with client(sim) as c:
        await backfill(c, tmp_path / "clean", request)

    # Ctrl-C in the middle (a slow client so there is a middle)
    async with client(sim, requests_per_second=40, burst_seconds=0.1) as c:
        task = asyncio.create_task(backfill(c, tmp_path / "resumed", request, concurrency=2))
        checkpoints = tmp_path / "resumed" / "historical" / "_backfill"
        while len([p for p in checkpoints.glob("*/*.json") if p.name != "manifest.json"]) < 8:
            assert not task.done()
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    import time

    done = complete_markets(tmp_path / "resumed", request, time.time())
    assert done, "nothing was complete when the run was interrupted"

    async with client(sim, RecordingClient) as c:
        summary = await backfill(c, tmp_path / "resumed", request)
    assert summary.ok
    assert all(not c.mentions(t) for t in done), [c.mentions(t) for t in done if c.mentions(t)][:3]
    assert_same_files(tmp_path / "clean", tmp_path / "resumed")
    assert leftovers(tmp_path / "resumed") == []


async def test_series_expands_to_events_that_traded_in_the_range(sim: SimExchange, tmp_path: Path) -> None:
    today = sim.model.today
    day = today - timedelta(days=4)
    request = BackfillRequest(start=day, end=day, series=("KXHIGHNY",), period_minutes=1440)
    async with client(sim) as c:
        summary = await backfill(c, tmp_path, request)
    # a daily event opens the day before at 15:00 UTC and closes the morning after: three events
    # traded on `day`
    expected = {e["event_ticker"] for e in sim.truth.events() if e["series_ticker"] == "KXHIGHNY"
                and day - timedelta(days=1) <= _day(e["event_ticker"]) <= day + timedelta(days=1)}
    assert summary.events == 3
    assert {Path(n).stem for n in event_files(tmp_path) if n.startswith("trades")} == expected
    trades = read(tmp_path, "trades")
    w = Window.from_dates(day, day)
    ts = pc.cast(trades["timestamp"], "int64")
    assert pc.min(ts).as_py() >= w.start * 1_000_000 and pc.max(ts).as_py() < w.end * 1_000_000


def _day(event_ticker: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.strptime(event_ticker.rsplit("-", 1)[1], "%y%b%d").date()


async def test_unknown_event_and_series_are_reported_before_any_fetch(sim: SimExchange, tmp_path: Path) -> None:
    today = sim.model.today
    request = BackfillRequest(
        start=today - timedelta(days=3), end=today - timedelta(days=1),
        events=("KXHIGHCHI-99JAN01", sim.truth.events()[0]["event_ticker"]), series=("KXNOPE",),
    )
    async with client(sim, RecordingClient) as c:
        with pytest.raises(UnknownTickers) as err:
            await backfill(c, tmp_path, request)
    assert "KXHIGHCHI-99JAN01" in str(err.value) and "KXNOPE" in str(err.value)
    assert not [p for p, q in c.calls if "trades" in p or "candlesticks" in p]
    assert event_files(tmp_path) == {}


async def test_keep_raw_stores_every_body_the_backfill_read(sim: SimExchange, tmp_path: Path) -> None:
    settings = sim.collector_settings(tmp_path / "data")
    config = config_from_dict({**settings, "backfill": {"keep_raw": True}}, env={})
    summary = await _run(config, window_request(sim), None, make_progress(io.StringIO()))
    assert summary.ok
    raw = ParquetStorage(tmp_path / "data").read_parquets("raw_rest")
    assert len(raw) > 10 and set(raw["source"]) == {"backfill"}
    assert raw["n"].is_unique and (raw["status"] == 200).any()
    assert any(b'"trades"' in body for body in raw["body"])
    assert raw["request"].str.contains("/historical/|/markets/trades").any()
