"""``kalshi-collector plot``: a PNG per event from what the collector (or a backfill) stored.

The pictures are also looked at by a person (see docs/operations.md); here they are checked for
being valid PNGs of a sensible size, and the data behind them for being the right data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import struct
from pathlib import Path

import pandas as pd
import pytest
from ops_helpers import EVENT, STATION, Collected, free_port

from kalshi_collector.backfill import BackfillRequest, backfill
from kalshi_collector.cli import main as cli_main
from kalshi_collector.config import config_from_dict
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.plot import Bracket, EventData, bracket_range, draw, kalshi_result, load, render, winner
from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage

pytest.importorskip("matplotlib", reason="plot needs the [plot] extra")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC and head[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_an_event_from_live_data_and_weather(collected: Collected, tmp_path: Path) -> None:
    data = load(ParquetStorage(collected.data_dir), EVENT)
    assert [b.ticker for b in data.brackets] == [  # ordered by temperature, not by ticker
        f"{EVENT}-T35", f"{EVENT}-B35.5", f"{EVENT}-B37.5", f"{EVENT}-B39.5", f"{EVENT}-B41.5", f"{EVENT}-T42"]
    assert data.brackets[0].low == -math.inf and data.brackets[-1].high == math.inf
    assert all(len(b.quotes) >= 8 for b in data.brackets)
    assert sum(b.volume["count"].sum() for b in data.brackets if len(b.volume)) > 0
    assert data.station == STATION and data.observed is not None and len(data.observed) == 1440
    assert data.settled_value == collected.outcome_f  # the final report, not the preliminary one
    assert len(data.outages) == 1  # the collector's 4-minute absence is drawn as a gap
    assert data.sources == ["market_snapshots", "trades_live", "asos_1min", "daily_climate"]

    out = render(data, tmp_path / "event.png")
    width, height = png_size(out)
    assert (width, height) == (1430, 880)
    assert 30_000 < out.stat().st_size < 1_500_000


def test_the_command_writes_the_png(collected: Collected, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plots" / "chi.png"
    assert cli_main(["plot", EVENT.lower(), "--config", str(collected.config_path), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert png_size(out) == (1430, 880)
    assert cli_main(["plot", "KXHIGHCHI-26FEB30", "--config", str(collected.config_path), "-o", str(out)]) == 2
    assert "no data for KXHIGHCHI-26FEB30" in capsys.readouterr().err
    assert cli_main(["plot", "not a ticker", "--config", str(collected.config_path)]) == 2


async def _backfilled(data_dir: Path) -> None:
    async with SimExchange(SimConfig(seed=4, series=("KXHIGHNY",), today=dt.date(2026, 2, 11), history_days=3,
                                     cutoff_days=1, history_trades_per_market=40, message_rate=0)) as sim:
        config = config_from_dict({"kalshi": {"base_url": sim.rest_url, "ws_url": sim.ws_url, "requests_per_second": 0},
                                   "storage": {"data_dir": str(data_dir)}}, env={})
        async with KalshiRestClient.from_config(config) as client:
            await backfill(client, data_dir, BackfillRequest(start=dt.date(2026, 2, 8), end=dt.date(2026, 2, 10),
                                                             events=("KXHIGHNY-26FEB09",), period_minutes=60))


def test_an_event_known_only_from_a_backfill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(_backfilled(data_dir))
    data = load(ParquetStorage(data_dir), "KXHIGHNY-26FEB09")
    assert data.sources == ["candlesticks (60 min)", "trades (backfill)"]
    assert len(data.brackets) == 6 and all(len(b.quotes) for b in data.brackets)
    # named from the tickers alone, in the order of the temperature they settle on
    assert [b.label for b in data.brackets][0].endswith("or below")
    assert [b.label for b in data.brackets][-1].endswith("or above")
    assert all(" to " in b.label for b in data.brackets[1:-1])
    assert data.observed is None and data.settled_value is None  # no weather fetched: price panels only
    out = render(data, tmp_path / "ny.png")
    assert png_size(out) == (1430, 880) and out.stat().st_size > 20_000


@pytest.mark.parametrize(
    ("ticker", "subtitle", "bounds"),
    [
        ("X-B34.5", "34° to 35°", (34.0, 35.0)),
        ("X-T30", "29° or below", (-math.inf, 29.0)),
        ("X-T37", "38° or above", (38.0, math.inf)),
        ("X-B34.5", None, (34.0, 35.0)),
    ],
)
def test_bracket_ranges(ticker: str, subtitle: str | None, bounds: tuple[float, float]) -> None:
    assert bracket_range(ticker, subtitle) == bounds


def _axis_labels(fig) -> list[str]:  # noqa: ANN001 - a matplotlib Figure
    fig.canvas.draw()
    [time_axis] = [a for a in fig.axes if a.get_xlabel() == "time (UTC)"]
    return [t.get_text() for t in time_axis.get_xticklabels() if t.get_text()]


def test_time_labels_read_alone_even_over_a_minute() -> None:
    t0 = pd.Timestamp("2026-02-11 10:16:00", tz="UTC")
    times = pd.Series([t0 + pd.Timedelta(seconds=s) for s in range(0, 61, 5)])
    quotes = pd.DataFrame({"time": times, "yes_bid": 40.0, "yes_ask": 44.0, "last_price": 42.0})
    volume = pd.DataFrame({"time": times, "count": 3.0})
    brackets = [Bracket("KXHIGHCHI-26FEB11-B34.5", "34° to 35°", 34, 35, quotes, volume)]
    fig = draw(EventData("KXHIGHCHI-26FEB11", brackets))
    labels = _axis_labels(fig)
    assert labels[0] == "10:16:00" and "10:16:10" in labels  # not matplotlib's concise "10:16, 10, 20"
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", label) for label in labels), labels
    long = [Bracket(b.ticker, b.label, b.low, b.high, b.quotes.assign(time=b.quotes["time"] + pd.to_timedelta(
        range(len(b.quotes)), unit="h")), pd.DataFrame()) for b in brackets]
    assert all(re.fullmatch(r"\d\d:\d\d|[A-Z][a-z]{2} \d\d", label) for label in _axis_labels(draw(EventData("E", long))))


async def test_the_winner_comes_from_kalshis_result_when_no_weather_is_stored(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    event = "KXHIGHNY-26FEB09"
    async with SimExchange(SimConfig(seed=4, series=("KXHIGHNY",), today=dt.date(2026, 2, 11), history_days=3,
                                     cutoff_days=1, history_trades_per_market=40, message_rate=0)) as sim:
        config = config_from_dict({"kalshi": {"base_url": sim.rest_url, "ws_url": sim.ws_url, "requests_per_second": 0},
                                   "storage": {"data_dir": str(data_dir)}}, env={})
        async with KalshiRestClient.from_config(config) as client:
            await backfill(client, data_dir, BackfillRequest(start=dt.date(2026, 2, 8), end=dt.date(2026, 2, 10),
                                                             events=(event,), period_minutes=60))
            markets = (await client.get_event(event, with_nested_markets=True)).markets
        data = load(ParquetStorage(data_dir), event)
        assert data.settled_value is None  # no weather: before, nothing was marked
        data.kalshi_yes = await kalshi_result(config, event)
    [settled] = [m.ticker for m in markets if m.result == "yes"]
    assert data.kalshi_yes == settled
    marked = winner(data)
    assert marked is not None and marked[0].ticker == settled and marked[1] == "settled YES (Kalshi)"
    fig = draw(data)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sum("\u2190 settled YES (Kalshi)" in text for text in legend) == 1


async def test_an_unreachable_exchange_only_means_no_mark(caplog: pytest.LogCaptureFixture) -> None:
    config = config_from_dict({"kalshi": {"base_url": f"http://127.0.0.1:{free_port()}/trade-api/v2"}}, env={})
    assert await kalshi_result(config, "KXHIGHNY-26FEB09") is None
    assert "Kalshi's result of KXHIGHNY-26FEB09 is unknown" in caplog.text


def test_the_cli_value_still_marks_the_winner_when_kalshi_is_not_asked(collected: Collected, tmp_path: Path) -> None:
    data = load(ParquetStorage(collected.data_dir), EVENT)
    marked = winner(data)
    assert marked is not None and marked[1] == "settles YES" and marked[0].low <= collected.outcome_f <= marked[0].high
    out = tmp_path / "offline.png"
    assert cli_main(["plot", EVENT, "--config", str(collected.config_path), "-o", str(out), "--offline"]) == 0
    assert png_size(out) == (1430, 880)
