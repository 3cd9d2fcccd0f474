"""How a temperature event settles, beside what the thermometers read (pure: no I/O).

For each event (``KXHIGHCHI-26FEB11``): its station and climate day, the CLI value that
settles it (MAXIMUM for ``KXHIGH*``, MINIMUM for ``KXLOW*``), the most extreme ASOS 1-minute
and METAR readings inside the climate-day window, the market that value settles YES, and -
once Kalshi has a result - whether Kalshi agrees.

Bracket rules, from the markets' strike fields (API.md section 4; never from the ticker text):

- ``between``: ``floor_strike <= v <= cap_strike`` (``B34.5``: floor 34, cap 35, "34° to 35°",
  so both 34 and 35 settle it);
- ``greater``: ``v > floor_strike`` (``T37``: floor 37, "38° or above");
- ``less``: ``v < cap_strike`` (``T30``: cap 30, "29° or below");
- ``greater_or_equal`` / ``less_or_equal``: the inclusive forms.

Which CLI version counts is stated two ways by Kalshi (first final vs latest, STATIONS.md), so
the view uses the latest final version and also reports the first final value; a preliminary
(same-day) report is shown only when nothing final exists, and flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from kalshi_collector.weather.stations import (
    STATIONS,
    Kind,
    Series,
    climate_day_window,
    event_climate_date,
    series_for_ticker,
)

__all__ = ["MarketOutcome", "EventSettlement", "settles_yes", "settle_events"]


@dataclass(frozen=True, slots=True)
class MarketOutcome:
    ticker: str
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None
    yes_sub_title: str | None
    status: str | None
    result: str | None  # Kalshi's: "" until determined, then "yes" / "no"
    expected: str | None  # "yes" / "no" from the CLI value; None when unknown
    disagrees: bool  # Kalshi has a yes/no result and it is not the expected one


@dataclass(frozen=True, slots=True)
class EventSettlement:
    event_ticker: str
    series: str
    kind: Kind | None
    station: str | None
    climate_date: date | None
    window_start: datetime | None
    window_end: datetime | None
    cli_value: int | None  # whole °F: latest final CLI (or latest preliminary, flagged)
    cli_preliminary: bool
    cli_product_id: str | None
    cli_issued_at: datetime | None
    cli_first_final_value: int | None
    cli_versions: int
    asos_1min_value: float | None  # highest (lowest for a low) 1-minute °F in the window
    asos_1min_at: datetime | None
    metar_value: float | None  # highest (lowest) METAR whole °F from the T-group
    metar_at: datetime | None
    metar_6h_value: float | None  # most extreme 6-/24-hour max (min) group reported in the window
    settles_yes: str | None  # ticker of the market the CLI value settles YES
    kalshi_yes: str | None  # ticker Kalshi settled YES
    disagreement: bool
    markets: tuple[MarketOutcome, ...]
    note: str | None = None


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def settles_yes(strike_type: str | None, floor_strike: Any, cap_strike: Any, value: float) -> bool | None:
    """Whether a market with these strikes settles YES at ``value``; None when the rule is unknown."""
    floor, cap = _num(floor_strike), _num(cap_strike)
    if strike_type == "between" and floor is not None and cap is not None:
        return floor <= value <= cap
    if strike_type == "greater" and floor is not None:
        return value > floor
    if strike_type == "greater_or_equal" and floor is not None:
        return value >= floor
    if strike_type == "less" and cap is not None:
        return value < cap
    if strike_type == "less_or_equal" and cap is not None:
        return value <= cap
    return None


def _frame(data: pd.DataFrame | pa.Table | None) -> pd.DataFrame | None:
    if data is None:
        return None
    if isinstance(data, pa.Table):
        return data.to_pandas()
    return data


def _extreme(
    frame: pd.DataFrame | None, station: str, start: datetime, end: datetime, columns: Iterable[str], kind: Kind
) -> tuple[float | None, datetime | None]:
    """The highest (lowest for a low) value of ``columns`` observed in ``[start, end)``, and when."""
    if frame is None or frame.empty:
        return None, None
    times = pd.to_datetime(frame["observed_at"], utc=True)
    rows = frame[(frame["station"] == station) & (times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))]
    best: float | None = None
    best_at: datetime | None = None
    for col in columns:
        if col not in rows.columns:
            continue
        values = pd.to_numeric(rows[col], errors="coerce")
        values = values[values.notna()]
        if values.empty:
            continue
        idx = values.idxmax() if kind == "high" else values.idxmin()
        value = float(values[idx])
        if best is None or (value > best if kind == "high" else value < best):
            best = value
            best_at = pd.Timestamp(rows.loc[idx, "observed_at"]).to_pydatetime()
    return best, best_at


@dataclass(frozen=True, slots=True)
class _CliReading:
    """The CLI value that settles an event, and its history (field names as in EventSettlement)."""

    cli_value: int | None = None
    cli_preliminary: bool = False
    cli_product_id: str | None = None
    cli_issued_at: datetime | None = None
    cli_first_final_value: int | None = None
    cli_versions: int = 0

    def note(self) -> str | None:
        if self.cli_value is None:
            return "no CLI report stored for this day (run `kalshi-collector weather --date ...`)"
        if self.cli_preliminary:
            return "only a preliminary (same-day) CLI is stored; it does not settle the market"
        if self.cli_first_final_value != self.cli_value:
            return f"CLI was revised: first final {self.cli_first_final_value}, latest {self.cli_value}"
        return None


def _cli(frame: pd.DataFrame | None, station: str, climate_date: date, kind: Kind) -> _CliReading:
    if frame is None or frame.empty:
        return _CliReading()
    dates = pd.to_datetime(frame["climate_date"]).dt.date
    rows = frame[(frame["station"] == station) & (dates == climate_date)]
    column = "high_f" if kind == "high" else "low_f"
    rows = rows[pd.to_numeric(rows[column], errors="coerce").notna()]
    if rows.empty:
        return _CliReading()
    rows = rows.sort_values("issued_at")
    finals = rows[~rows["preliminary"].astype(bool)]
    chosen = finals.iloc[-1] if not finals.empty else rows.iloc[-1]
    return _CliReading(
        cli_value=int(chosen[column]),
        cli_preliminary=finals.empty,
        cli_product_id=str(chosen["product_id"]),
        cli_issued_at=pd.Timestamp(chosen["issued_at"]).to_pydatetime(),
        cli_first_final_value=int(finals.iloc[0][column]) if not finals.empty else None,
        cli_versions=int(rows["product_id"].nunique()),
    )


def _outcomes(markets: list[Any], value: int | None) -> tuple[tuple[MarketOutcome, ...], str | None]:
    outcomes = []
    yes_ticker = None
    for m in markets:
        rule = settles_yes(_get(m, "strike_type"), _get(m, "floor_strike"), _get(m, "cap_strike"), value) \
            if value is not None else None
        expected = None if rule is None else ("yes" if rule else "no")
        if rule:
            yes_ticker = yes_ticker or str(_get(m, "ticker"))
        result = _get(m, "result") or ""
        outcomes.append(
            MarketOutcome(
                ticker=str(_get(m, "ticker")),
                strike_type=_get(m, "strike_type"),
                floor_strike=_num(_get(m, "floor_strike")),
                cap_strike=_num(_get(m, "cap_strike")),
                yes_sub_title=_get(m, "yes_sub_title"),
                status=_get(m, "status"),
                result=result,
                expected=expected,
                disagrees=result in ("yes", "no") and expected is not None and result != expected,
            )
        )
    return tuple(outcomes), yes_ticker


@dataclass(frozen=True, slots=True)
class _Readings:
    """The weather tables an event is compared with (None: not stored)."""

    daily_climate: pd.DataFrame | None
    asos_1min: pd.DataFrame | None
    metar: pd.DataFrame | None


# METAR groups with the 6-/24-hour extremes, by the kind of event they bear on.
_GROUP_COLUMNS: dict[Kind, list[str]] = {"high": ["max_6h_f", "max_24h_f"], "low": ["min_6h_f", "min_24h_f"]}


def settle_events(
    markets: Iterable[Any],
    *,
    daily_climate: pd.DataFrame | pa.Table | None,
    asos_1min: pd.DataFrame | pa.Table | None = None,
    metar: pd.DataFrame | pa.Table | None = None,
) -> list[EventSettlement]:
    """One :class:`EventSettlement` per event among ``markets``, in first-seen order.

    ``markets``: Kalshi ``Market`` objects or their JSON dicts (``ticker``, ``event_ticker``,
    ``strike_type``, ``floor_strike``, ``cap_strike``, ``yes_sub_title``, ``status``, ``result``).
    The weather tables are those the ``weather`` command writes (any superset of the needed days).
    """
    readings = _Readings(_frame(daily_climate), _frame(asos_1min), _frame(metar))
    by_event: dict[str, list[Any]] = {}
    for m in markets:
        by_event.setdefault(str(_get(m, "event_ticker")), []).append(m)
    return [_settle_event(event_ticker, event_markets, readings) for event_ticker, event_markets in by_event.items()]


def _climate_date(event_ticker: str) -> date | None:
    try:
        return event_climate_date(event_ticker)
    except ValueError:
        return None


def _kalshi_yes(outcomes: Iterable[MarketOutcome]) -> str | None:
    return next((o.ticker for o in outcomes if o.result == "yes"), None)


def _settle_event(event_ticker: str, markets: list[Any], readings: _Readings) -> EventSettlement:
    series = series_for_ticker(event_ticker)
    climate_date = _climate_date(event_ticker)
    if series is None or climate_date is None:
        note = "not a temperature series in the station registry" if series is None else "not a daily event ticker"
        return _unsettled(event_ticker, series, climate_date, markets, note)
    station = STATIONS[series.station]
    start, end = climate_day_window(station, climate_date)
    cli = _cli(readings.daily_climate, station.icao, climate_date, series.kind)
    one_value, one_at = _extreme(readings.asos_1min, station.icao, start, end, ["temp_f"], series.kind)
    metar_value, metar_at = _extreme(readings.metar, station.icao, start, end, ["temp_f_whole"], series.kind)
    if metar_value is None:  # no T-groups: fall back to the whole-°C body converted
        metar_value, metar_at = _extreme(readings.metar, station.icao, start, end, ["temp_f"], series.kind)
    six_value, _ = _extreme(readings.metar, station.icao, start, end, _GROUP_COLUMNS[series.kind], series.kind)
    outcomes, yes_ticker = _outcomes(markets, cli.cli_value)
    return EventSettlement(
        event_ticker=event_ticker,
        series=series.ticker,
        kind=series.kind,
        station=station.icao,
        climate_date=climate_date,
        window_start=start,
        window_end=end,
        **asdict(cli),
        asos_1min_value=one_value,
        asos_1min_at=one_at,
        metar_value=metar_value,
        metar_at=metar_at,
        metar_6h_value=six_value,
        settles_yes=yes_ticker,
        kalshi_yes=_kalshi_yes(outcomes),
        disagreement=any(o.disagrees for o in outcomes),
        markets=outcomes,
        note=cli.note(),
    )


def _unsettled(
    event_ticker: str, series: Series | None, climate_date: date | None, markets: list[Any], note: str
) -> EventSettlement:
    """An event the registry cannot place: its markets as Kalshi reports them, nothing expected."""
    outcomes, _ = _outcomes(markets, None)
    return EventSettlement(
        event_ticker=event_ticker, series=event_ticker.split("-")[0], kind=series.kind if series else None,
        station=series.station if series else None, climate_date=climate_date, window_start=None,
        window_end=None, **asdict(_CliReading()), asos_1min_value=None, asos_1min_at=None,
        metar_value=None, metar_at=None, metar_6h_value=None, settles_yes=None,
        kalshi_yes=_kalshi_yes(outcomes), disagreement=False, markets=outcomes, note=note,
    )
