"""Resolving events and series to markets on both tiers, against the simulated exchange."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from bf_helpers import RecordingClient, client

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.cutoff import HistoricalCutoff
from kalshi_collector.backfill.resolve import Resolver, UnknownTickers
from kalshi_collector.backfill.store import BackfillStore
from kalshi_collector.sim import SimExchange


def _resolver(c: RecordingClient, tmp_path: Path, window: P.Window) -> Resolver:
    return Resolver(c, BackfillStore(tmp_path), window, HistoricalCutoff(c))


def _ny_events(sim: SimExchange) -> list[str]:
    return [e["event_ticker"] for e in sim.truth.events() if e["series_ticker"] == "KXHIGHNY"]


async def test_an_event_is_listed_on_both_tiers_and_reused_once_final(sim: SimExchange, tmp_path: Path) -> None:
    # the oldest event: settled long before the cutoff, so listed only in the archive
    event = _ny_events(sim)[0]
    truth = sim.truth.markets(event)
    assert truth and all(m["historical"] for m in truth)
    window = P.Window.from_dates(sim.model.today - timedelta(days=7), sim.model.today)
    async with client(sim, RecordingClient) as c:
        got = await _resolver(c, tmp_path, window).resolve([event], [])
    assert list(got) == [event]
    assert [(m.ticker, m.tier) for m in got[event]] == sorted((m["ticker"], "historical") for m in truth)
    assert any(path == "/historical/markets" for path, _ in c.calls)

    async with client(sim, RecordingClient) as c:
        again = await _resolver(c, tmp_path, window).resolve([event], [])
    assert again == got and c.calls == []  # every market finalized: the manifest answers


async def test_the_archive_is_not_listed_for_a_window_after_the_cutoff(sim: SimExchange, tmp_path: Path) -> None:
    event = _ny_events(sim)[-1]
    window = P.Window.from_dates(sim.model.today, sim.model.today)
    async with client(sim, RecordingClient) as c:
        got = await _resolver(c, tmp_path, window).resolve([event], [])
    assert all(m.tier == "live" for m in got[event]) and got[event]
    assert not [path for path, _ in c.calls if path == "/historical/markets"]


async def test_a_series_keeps_the_events_that_could_trade_in_the_window(sim: SimExchange, tmp_path: Path) -> None:
    day = sim.model.today - timedelta(days=4)
    window = P.Window.from_dates(day, day)
    async with client(sim, RecordingClient) as c:
        got = await _resolver(c, tmp_path, window).resolve([], ["KXHIGHNY"])
    assert len(got) == 3  # a daily event trades from the day before to the morning after
    assert all(any(m.overlaps(window) for m in markets) for markets in got.values())
    assert list(got) == sorted(got)


async def test_every_unknown_ticker_is_named(sim: SimExchange, tmp_path: Path) -> None:
    window = P.Window.from_dates(sim.model.today, sim.model.today)
    async with client(sim, RecordingClient) as c:
        with pytest.raises(UnknownTickers) as err:
            await _resolver(c, tmp_path, window).resolve(["KXHIGHNY-99JAN01", _ny_events(sim)[-1]], ["KXNOPE"])
    assert err.value.events == ("KXHIGHNY-99JAN01",) and err.value.series == ("KXNOPE",)
    assert "check the ticker" in str(err.value)
