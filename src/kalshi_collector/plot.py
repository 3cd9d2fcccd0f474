"""``kalshi-collector plot EVENT_TICKER``: one PNG of an event, readable at a glance.

Top panel: each bracket (market) of the event in its own colour, its YES bid-ask spread as a
shaded band and its last traded price as a line, in cents (= the market's probability in %). On a
second axis, where weather data exists, the settlement station's observed temperature (ASOS
1-minute, else METAR) and the final climate-report (CLI) value as a dashed line. The winning bracket
is marked in the legend: the one Kalshi settled YES when its result is known (the command asks
Kalshi's REST API when the data folder has no final CLI value; ``--offline`` does not), else the one
the CLI value falls in. Bottom panel: contracts traded per time bin, stacked by bracket in the same
colours; time labels are full clock times (``10:16:10``), the date beside the axis.

Sources, best first: live ``market_snapshots`` and ``trades_live``; without them the backfilled
``candlesticks`` (bid/ask closes, trade close) and ``trades``. Everything is read through
:class:`ParquetStorage`, so a local folder and ``s3://`` work alike.

:func:`load` does the reading, :func:`kalshi_result` the one REST question, :func:`draw` and
:func:`render` only draw what they are given (matplotlib, Agg backend, no display needed).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.cliargs import date_range
from kalshi_collector.config import Config, config_from_dict
from kalshi_collector.datafolder import add_data_dir_argument, open_data
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.storage.catalog import CANDLESTICKS, TRADES, Dataset
from kalshi_collector.storage.layout import PerEvent

if TYPE_CHECKING:  # matplotlib is an optional extra, imported only when drawing
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["add_arguments", "run", "EventData", "Bracket", "load", "kalshi_result", "winner", "draw", "render",
           "time_formatter", "bracket_range"]

log = logging.getLogger(__name__)

UTC = dt.UTC
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*$")
_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*°?\s*(?:to|-)\s*(-?\d+(?:\.\d+)?)")
_BELOW = re.compile(r"(-?\d+(?:\.\d+)?)\s*°?\s*or\s+(?:below|less|lower)")
_ABOVE = re.compile(r"(-?\d+(?:\.\d+)?)\s*°?\s*or\s+(?:above|more|higher)")
# Colour-blind-safe qualitative palette (Okabe-Ito), then tab10 for events with more brackets.
_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


@dataclass
class Bracket:
    ticker: str
    label: str
    low: float  # inclusive bounds of the settlement value; -inf / inf when open-ended
    high: float
    quotes: pd.DataFrame  # time, yes_bid, yes_ask, last_price
    volume: pd.DataFrame  # time, count


@dataclass
class EventData:
    event_ticker: str
    brackets: list[Bracket]
    station: str | None = None
    kind: str = "high"
    observed: pd.DataFrame | None = None  # time, temp_f
    observed_source: str | None = None
    settled_value: float | None = None
    kalshi_yes: str | None = None  # the market Kalshi settled YES, when its result is known
    sources: list[str] = field(default_factory=list)
    outages: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)  # no quotes at all


def find_outages(times: pd.Series, factor: float = 3.0) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Stretches between quote times longer than ``factor`` times the usual spacing (the collector
    was not running): drawn as gaps, never bridged by a line that would invent prices."""
    unique = pd.Series(sorted(set(times)))
    if len(unique) < 3:
        return []
    diffs = unique.diff().iloc[1:]
    limit = diffs.median() * factor
    return [(unique.iloc[i - 1], unique.iloc[i]) for i in diffs.index if diffs[i] > limit]


def _segments(frame: pd.DataFrame, outages: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[pd.DataFrame]:
    """``frame`` cut at every outage, so nothing is drawn across one."""
    pieces = []
    rest = frame
    for start, end in outages:
        pieces.append(rest[rest["time"] <= start])
        rest = rest[rest["time"] >= end]
    pieces.append(rest)
    return [p for p in pieces if len(p)]


def bracket_range(ticker: str, subtitle: str | None) -> tuple[float, float]:
    """Inclusive bounds of a temperature bracket from its subtitle (``34° to 35°``, ``33° or below``),
    else from the ticker (``-B34.5`` = 34..35, ``-T37``: unknown side, treated as a point)."""
    text = subtitle or ""
    if m := _RANGE.search(text):
        return float(m[1]), float(m[2])
    if m := _BELOW.search(text):
        return -math.inf, float(m[1])
    if m := _ABOVE.search(text):
        return float(m[1]), math.inf
    suffix = ticker.rsplit("-", 1)[-1]
    try:
        value = float(suffix[1:])
    except ValueError:
        return math.inf, math.inf
    if suffix.startswith("B"):
        return math.floor(value), math.ceil(value)
    return value, value


def _name_open_ended(brackets: list[Bracket]) -> None:
    """Brackets known only by ticker (backfill data has no subtitles): ``B34.5`` is 34° to 35°, and a
    ``T`` strike below every ``B`` is "N-1° or below", above every ``B`` "N+1° or above" (whole
    degrees; Kalshi's ``less`` / ``greater`` strikes are strict)."""
    middles = [b for b in brackets if b.ticker.rsplit("-", 1)[-1].startswith("B")]
    if not middles:
        return
    lowest, highest = min(b.low for b in middles), max(b.high for b in middles)
    for b in brackets:
        suffix = b.ticker.rsplit("-", 1)[-1]
        if b.label != suffix:
            continue  # it has a subtitle
        if suffix.startswith("B") and math.isfinite(b.low):
            b.label = f"{b.low:g}° to {b.high:g}°"
        elif suffix.startswith("T") and b.low == b.high and b.high <= lowest:
            b.low, b.high = -math.inf, b.high - 1
            b.label = f"{b.high:g}° or below"
        elif suffix.startswith("T") and b.low == b.high and b.low >= highest:
            b.low, b.high = b.low + 1, math.inf
            b.label = f"{b.low:g}° or above"
    brackets.sort(key=lambda b: (b.low if b.low != -math.inf else b.high - 1e6, b.high))


# ==================================================================================== loading


def _event_date(event: str) -> dt.date | None:
    try:
        from kalshi_collector.weather.stations import event_climate_date

        return event_climate_date(event)
    except (ValueError, ImportError):
        return None


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas() if table.num_rows else pd.DataFrame(columns=table.column_names)


@dataclass
class _MarketData:
    """Quotes (time, market_ticker, yes_bid, yes_ask, last_price, subtitle) and trades (time,
    market_ticker, count) of one event, and the tables they came from."""

    quotes: pd.DataFrame
    trades: pd.DataFrame
    sources: list[str]


def load(storage: ParquetStorage, event: str, start: dt.date | None = None, end: dt.date | None = None) -> EventData:
    """Read everything the picture of ``event`` needs; dates bound the live tables (UTC days)."""
    day = _event_date(event)
    if start is None and day is not None:
        start = day - dt.timedelta(days=3)
    if end is None and day is not None:
        end = day + dt.timedelta(days=2)
    market = _live_market_data(storage, event, start, end)
    _fill_from_backfill(storage, event, market)
    brackets = _brackets(market.quotes, market.trades)
    data = EventData(event_ticker=event, brackets=brackets, sources=market.sources,
                     outages=find_outages(market.quotes["time"]) if len(market.quotes) else [])
    _add_weather(storage, data, day)
    return data


def _live_market_data(storage: ParquetStorage, event: str, start: dt.date | None, end: dt.date | None) -> _MarketData:
    """The event's rows of ``market_snapshots`` and ``trades_live`` in the UTC days given."""
    sources: list[str] = []
    snaps = storage.read_arrow("market_snapshots", start, end)
    snaps = snaps.filter(pc.equal(snaps.column("event_ticker"), event)) if snaps.num_rows else snaps
    quotes = _frame(snaps)
    if len(quotes):
        sources.append("market_snapshots")
        quotes = quotes.rename(columns={"snapshot_ts": "time"})
    trades_live = storage.read_arrow("trades_live", start, end)
    if trades_live.num_rows:
        trades_live = trades_live.filter(pc.starts_with(trades_live.column("market_ticker"), event + "-"))
    trades = _frame(trades_live).rename(columns={"recv_ts": "time"})
    if len(trades):
        sources.append("trades_live")
    return _MarketData(quotes, trades, sources)


def _event_frame(storage: ParquetStorage, table: Dataset[PerEvent], event: str) -> pd.DataFrame | None:
    """The event's backfill file of ``table``, or None if it has none."""
    path = table.layout.event_file(storage.root, event)
    if not storage.fs.isfile(path):
        return None
    return storage.fs.read_table(path).to_pandas()


def _fill_from_backfill(storage: ParquetStorage, event: str, market: _MarketData) -> None:
    """Without live quotes, the finest backfilled candles stand in; without live trades, the backfilled trades."""
    candles = _event_frame(storage, CANDLESTICKS, event) if not len(market.quotes) else None
    if candles is not None and len(candles):
        period = candles["period_minutes"].min()
        candles = candles[candles["period_minutes"] == period]
        # a candle is stamped with its period's end; drawn from its start, it covers its own period
        start_times = candles["timestamp"] - pd.to_timedelta(candles["period_minutes"], unit="min")
        market.quotes = pd.DataFrame({"time": start_times, "market_ticker": candles["market_ticker"],
                                      "yes_bid": candles["yes_bid_close"], "yes_ask": candles["yes_ask_close"],
                                      "last_price": candles["close_price"], "subtitle": None})
        market.sources.append(f"candlesticks ({period} min)")
    hist = _event_frame(storage, TRADES, event) if not len(market.trades) else None
    if hist is not None:
        market.trades = hist.rename(columns={"timestamp": "time"})
        if len(market.trades):
            market.sources.append("trades (backfill)")


def _brackets(quotes: pd.DataFrame, trades: pd.DataFrame) -> list[Bracket]:
    """One bracket per market seen in the quotes or trades, lowest settlement range first."""
    empty = pd.Series(dtype=str)
    tickers = sorted(set(quotes.get("market_ticker", empty)) | set(trades.get("market_ticker", empty)))
    brackets = []
    for ticker in tickers:
        q = quotes[quotes["market_ticker"] == ticker].sort_values("time") if len(quotes) else quotes
        subtitle = next((s for s in q.get("subtitle", empty).dropna()), None) if len(q) else None
        low, high = bracket_range(ticker, subtitle)
        label = subtitle or ticker.rsplit("-", 1)[-1]
        t = trades[trades["market_ticker"] == ticker] if len(trades) else trades
        brackets.append(Bracket(
            ticker=ticker, label=label, low=low, high=high,
            quotes=q[["time", "yes_bid", "yes_ask", "last_price"]] if len(q) else pd.DataFrame(),
            volume=t[["time", "count"]] if len(t) else pd.DataFrame(),
        ))
    brackets.sort(key=lambda b: (b.low if b.low != -math.inf else b.high - 1e6, b.high))
    _name_open_ended(brackets)
    return brackets


def _add_weather(storage: ParquetStorage, data: EventData, day: dt.date | None) -> None:
    """Observed temperatures of the settlement station over the climate day, and the final CLI value."""
    if day is None:
        return
    try:
        from kalshi_collector.weather.stations import series_for_ticker
    except ImportError:
        return
    series = series_for_ticker(data.event_ticker)
    if series is None:
        return
    data.station, data.kind = series.station, series.kind
    for kind, column in (("asos_1min", "temp_f"), ("metar", "temp_f")):
        obs = storage.read_parquets(kind, day, day)
        if len(obs) and column in obs:
            obs = obs[(obs["station"] == series.station) & obs[column].notna()]
            if len(obs):
                data.observed = obs[["observed_at", column]].rename(columns={"observed_at": "time", column: "temp_f"})
                data.observed = data.observed.sort_values("time")
                data.observed_source = "ASOS 1-min" if kind == "asos_1min" else "METAR"
                data.sources.append(kind)
                break
    cli = storage.read_parquets("daily_climate", day, day)
    if len(cli):
        value_col = "high_f" if series.kind == "high" else "low_f"
        final = cli[(cli["station"] == series.station) & (~cli["preliminary"]) & cli[value_col].notna()]
        if len(final):
            data.settled_value = float(final.sort_values("issued_at").iloc[-1][value_col])
            data.sources.append("daily_climate")


async def kalshi_result(config: Config, event: str) -> str | None:
    """The market of ``event`` that Kalshi settled YES, from its REST API; None while it is not
    settled, or when Kalshi cannot be asked (one warning says why; the picture is drawn anyway).

    An unsigned request (events are public), one retry and a short timeout: a plot does not wait
    minutes for an unreachable exchange.
    """
    from kalshi_collector.weather.settlement_command import fetch_event_markets

    kalshi = msgspec.structs.replace(config.kalshi, api_key_id=None, private_key_path=None, max_retries=1,
                                     request_timeout_seconds=min(config.kalshi.request_timeout_seconds, 10.0))
    try:
        found = (await fetch_event_markets(msgspec.structs.replace(config, kalshi=kalshi), [event]))[event]
    except Exception as exc:  # noqa: BLE001 - any failure only means no mark
        found = exc
    if isinstance(found, Exception):
        log.warning("Kalshi's result of %s is unknown (%s: %s); no winner marked", event, type(found).__name__, found)
        return None
    return next((m.ticker for m in found if m.result == "yes"), None)


# ==================================================================================== drawing


def _bin_width(span: pd.Timedelta) -> pd.Timedelta:
    """A round bin giving roughly 40-80 bars over ``span``."""
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
        width = pd.Timedelta(minutes=minutes)
        if span / width <= 80:
            return width
    return pd.Timedelta(days=1)


@dataclass
class _Frame:
    """The time span every panel shows, and the legend entries gathered while drawing."""

    t0: pd.Timestamp
    t1: pd.Timestamp
    pad: pd.Timedelta
    colours: list[Any]  # hex strings or RGBA tuples
    handles: list[Any] = field(default_factory=list)  # matplotlib artists


def render(data: EventData, path: str | Path, *, dpi: int = 110) -> Path:
    """Draw ``data`` into a PNG at ``path`` and return the path."""
    import matplotlib.pyplot as plt

    fig = draw(data)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def draw(data: EventData) -> Figure:
    """The figure of ``data`` (the caller saves and closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [b.quotes["time"] for b in data.brackets if len(b.quotes)] + \
            [b.volume["time"] for b in data.brackets if len(b.volume)]
    if not times:
        raise ValueError(f"no market data for {data.event_ticker}")
    all_times = pd.concat(times)
    t0, t1 = all_times.min(), all_times.max()
    if t1 <= t0:
        t1 = t0 + pd.Timedelta(minutes=1)
    colours = _COLOURS if len(data.brackets) <= len(_COLOURS) else [plt.cm.tab20(i) for i in range(20)]
    frame = _Frame(t0, t1, (t1 - t0) * 0.01, colours)

    fig, (ax, axv) = plt.subplots(
        2, 1, figsize=(13, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06},
        layout="constrained",
    )
    _draw_prices(ax, axv, data, frame)
    if data.observed is not None or data.settled_value is not None:
        _draw_temperature(ax.twinx(), data, frame)
    _draw_volume(axv, data, frame)
    _titles(fig, ax, data, frame)
    return fig


def winner(data: EventData) -> tuple[Bracket, str] | None:
    """The bracket to mark and how it is known: Kalshi's result first, else the final CLI value."""
    if data.kalshi_yes is not None:
        settled = next((b for b in data.brackets if b.ticker == data.kalshi_yes), None)
        if settled is not None:
            return settled, "settled YES (Kalshi)"
    if data.settled_value is not None:
        value = data.settled_value
        settles = next((b for b in data.brackets if b.low <= value <= b.high), None)
        if settles is not None:
            return settles, "settles YES"
    return None


def _draw_prices(ax: Axes, axv: Axes, data: EventData, frame: _Frame) -> None:
    """Per bracket its bid-ask band and last-trade line; outages shaded on both panels."""
    marked = winner(data)
    for i, b in enumerate(data.brackets):
        colour = frame.colours[i % len(frame.colours)]
        won = marked is not None and b is marked[0]
        label = b.label + (f"   \u2190 {marked[1]}" if won and marked else "")
        (line,) = ax.plot([], [], color=colour, linewidth=2.4 if won else 1.8, label=label)
        for q in _segments(b.quotes, data.outages) if len(b.quotes) else []:
            # an empty side is no quote: the band then runs to the edge (0 or 100), as a buyer would see it
            bid = q["yes_bid"].astype(float)
            ask = q["yes_ask"].astype(float)
            ax.fill_between(q["time"], bid.fillna(0.0), ask.fillna(100.0), step="post", color=colour,
                            alpha=0.16, linewidth=0)
            ax.step(q["time"], q["last_price"].astype(float), where="post", color=colour,
                    linewidth=line.get_linewidth())
        frame.handles.append(line)
    for n, (start, end) in enumerate(data.outages):
        for axis in (ax, axv):
            axis.axvspan(start, end, color="#bbbbbb", alpha=0.35, hatch="//", linewidth=0,
                         label="no data (collector not running)" if n == 0 and axis is ax else None)
    if data.outages:
        frame.handles.append(ax.get_legend_handles_labels()[0][-1])
    ax.set_ylim(0, 100)
    ax.set_ylabel("YES price (¢)  —  line: last trade, band: bid–ask")
    ax.grid(True, axis="both", color="#dddddd", linewidth=0.6)
    ax.set_xlim(frame.t0 - frame.pad, frame.t1 + frame.pad)


def _draw_temperature(axt: Axes, data: EventData, frame: _Frame) -> None:
    """On a second axis: the station's observed temperature and the final CLI value."""
    temps = []
    if data.observed is not None:
        shown = (data.observed["time"] >= frame.t0 - frame.pad) & (data.observed["time"] <= frame.t1 + frame.pad)
        obs = data.observed[shown]
        if len(obs):
            (tl,) = axt.plot(obs["time"], obs["temp_f"], color="#444444", linewidth=1.4, linestyle="-",
                             alpha=0.9, label=f"{data.station} observed °F ({data.observed_source})")
            frame.handles.append(tl)
            temps += list(obs["temp_f"])
    if data.settled_value is not None:
        what = "high" if data.kind == "high" else "low"
        hl = axt.axhline(data.settled_value, color="#B2182B", linestyle="--", linewidth=1.6,
                         label=f"final CLI {what}: {data.settled_value:.0f}°F")
        frame.handles.append(hl)
        temps.append(data.settled_value)
    if temps:
        lo, hi = min(temps), max(temps)
        axt.set_ylim(lo - max(3, (hi - lo) * 0.15), hi + max(3, (hi - lo) * 0.15))
    axt.set_ylabel(f"temperature at {data.station} (°F)")


def _draw_volume(axv: Axes, data: EventData, frame: _Frame) -> None:
    """Contracts traded per time bin, stacked by bracket; the shared time axis in UTC."""
    import matplotlib.dates as mdates

    width = _bin_width(frame.t1 - frame.t0)
    bottoms = None
    for i, b in enumerate(data.brackets):
        if not len(b.volume):
            continue
        binned = b.volume.set_index("time")["count"].astype(float).resample(width).sum()
        if bottoms is None:
            bottoms = binned * 0.0
        bottoms, binned = bottoms.align(binned, fill_value=0.0)
        axv.bar(binned.index, binned.values, width=width * 0.9, bottom=bottoms.values, align="edge",
                color=frame.colours[i % len(frame.colours)], linewidth=0)
        bottoms = bottoms + binned
    axv.set_ylabel(f"contracts traded\nper {_describe(width)}")
    axv.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    axv.xaxis.set_major_locator(locator)
    axv.xaxis.set_major_formatter(time_formatter(locator))
    axv.set_xlabel("time (UTC)")


def time_formatter(locator: Any) -> Any:
    """Tick labels that each read alone: ``10:16:10`` (not matplotlib's concise ``10:16, 10, 20``),
    ``10:15``, ``Feb 12``; the date the ticks share is shown once beside the axis."""
    import matplotlib.dates as mdates

    # levels: years, months, days, hours, minutes, seconds
    return mdates.ConciseDateFormatter(
        locator, tz=UTC,
        formats=["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%H:%M:%S"],
        zero_formats=["", "%Y", "%b", "%b %d", "%H:%M", "%H:%M:%S"],
        offset_formats=["", "%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d"],
    )


def _titles(fig: Figure, ax: Axes, data: EventData, frame: _Frame) -> None:
    title = f"{data.event_ticker}: YES price per bracket"
    if data.station and (data.observed is not None or data.settled_value is not None):
        title += f", with {data.station} temperature"
    fig.suptitle(title, fontsize=14, fontweight="bold")
    ax.set_title(f"{frame.t0:%Y-%m-%d %H:%M} – {frame.t1:%Y-%m-%d %H:%M} UTC · data: {', '.join(data.sources)}",
                 fontsize=9, color="#555555")
    fig.legend(handles=frame.handles, loc="outside right upper", fontsize=9, frameon=False,
               title="bracket (settlement value)", title_fontsize=9)


def _describe(width: pd.Timedelta) -> str:
    minutes = int(width.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d" if minutes > 1440 else "day"
    if minutes % 60 == 0:
        return f"{minutes // 60} h" if minutes > 60 else "hour"
    return f"{minutes} min"


# ==================================================================================== command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event_ticker", metavar="EVENT_TICKER", help="e.g. KXHIGHCHI-26FEB11")
    add_data_dir_argument(parser)
    parser.add_argument("--output", "-o", metavar="PNG", help="where to write (default: EVENT_TICKER.png here)")
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first UTC day of live data (default: 3 days before the event)")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last UTC day of live data (default: 2 days after the event)")
    parser.add_argument("--offline", action="store_true",
                        help="never ask Kalshi for the result (by default asked when no final climate report is stored)")


def run(args: argparse.Namespace) -> int:
    from kalshi_collector.errors import UsageError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("plot needs matplotlib: pip install 'kalshi-collector[plot]'") from None
    event = args.event_ticker.strip().upper()
    if not _TICKER.match(event):
        raise UsageError(f"{args.event_ticker!r} is not an event ticker such as KXHIGHCHI-26FEB11")
    dates = date_range(args.start, args.end)
    folder = open_data(args)
    storage = folder.storage
    data = load(storage, event, *dates)
    if not data.brackets:
        raise UsageError(f"no data for {event} in {storage.fs.url(storage.root)} (market_snapshots, trades_live, "
                         "candlesticks and trades were searched); is the ticker right?")
    if data.settled_value is None and not args.offline:
        config = folder.config or config_from_dict({"kalshi": {}})
        data.kalshi_yes = asyncio.run(kalshi_result(config, event))
    out = render(data, args.output or f"{event}.png")
    print(out)
    return 0
