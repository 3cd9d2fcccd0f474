"""What the exchange lists: every event and market, by position and by ticker, and how a new
daily event is made with its bracket markets.

An event's shape is fixed when it is made: the two tails and ``brackets - 2`` two-degree
brackets around the forecast, their strikes, titles and rules, the fair price each opens at and
the outcome it will settle on. Each event draws from its own random stream, seeded from the seed
and its ticker, so an event comes out the same whether it is made at start-up or by a later
``advance_day``, and whatever order the series are listed in.
"""

from __future__ import annotations

import random
from datetime import date
from math import erf, sqrt
from typing import NamedTuple

from kalshi_collector.sim.catalog import SeriesSpec
from kalshi_collector.sim.ids import hash_text, mix64, uuid_from
from kalshi_collector.sim.records import DAY_MS, HOUR_MS, MINUTE_MS, Event, Market, ModelError
from kalshi_collector.sim.wirefmt import day_start_ms

__all__ = ["Listing", "event_ticker_for", "event_times", "outcome_result"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_SIGMA_F = 2.5  # spread (°F) of the outcome around the forecast, for the opening prices


def event_ticker_for(series: str, day: date) -> str:
    """``KXHIGHCHI`` + 2026-02-11 -> ``KXHIGHCHI-26FEB11`` (Kalshi's daily event form)."""
    return f"{series}-{day.year % 100:02d}{_MONTHS[day.month - 1]}{day.day:02d}"


def event_times(spec: SeriesSpec, day: date) -> dict[str, int]:
    """The fixed instants of a daily event, Kalshi's schedule for daily weather."""
    base = day_start_ms(day)
    return {
        "created": base - 2 * DAY_MS + 15 * HOUR_MS + 2 * MINUTE_MS,
        "open": base - DAY_MS + 15 * HOUR_MS,
        # the climate day ends at local-standard midnight; trading stops a minute before
        "close": base + DAY_MS - spec.lst_offset_hours * HOUR_MS - MINUTE_MS,
        "expected_expiration": base + DAY_MS + 15 * HOUR_MS,
        "latest_expiration": base + 8 * DAY_MS + 15 * HOUR_MS,
    }


def outcome_result(m: Market) -> str:
    """``"yes"`` or ``"no"``: how ``m`` settles on its event's outcome (one bracket wins)."""
    t = m.event.outcome_f
    if m.strike_type == "less":
        return "yes" if t < (m.cap_strike or 0) else "no"
    if m.strike_type == "greater":
        return "yes" if t > (m.floor_strike or 0) else "no"
    return "yes" if (m.floor_strike or 0) <= t <= (m.cap_strike or 0) else "no"


def _fmt_day(day: date, long: bool = False) -> str:
    return f"{day:%B} {day.day}, {day.year}" if long else f"{day:%b} {day.day}, {day.year}"


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + erf(x / sqrt(2)))


class _Bracket(NamedTuple):
    """One market of a bracket set, before it is a ``Market``: strikes and the words for them."""

    suffix: str  # ticker suffix: T<cap> / B<floor>.5 / T<floor>
    strike_type: str
    floor: int | None
    cap: int | None
    sub_title: str  # yes_sub_title, "34° to 35°"
    short: str  # in the market title, "34-35°"
    condition: str  # in rules_primary, "between 34-35° F"


def _brackets(low: int, n_between: int) -> list[_Bracket]:
    """The "less" tail capped at ``low``, ``n_between`` two-degree brackets, the "greater" tail."""
    out = [_Bracket(f"T{low}", "less", None, low, f"{low - 1}° or below", f"<{low}°", f"less than {low}° F")]
    for k in range(n_between):
        lo = low + 2 * k
        out.append(_Bracket(f"B{lo}.5", "between", lo, lo + 1, f"{lo}° to {lo + 1}°", f"{lo}-{lo + 1}°",
                            f"between {lo}-{lo + 1}° F"))
    top = low + 2 * n_between - 1
    out.append(_Bracket(f"T{top}", "greater", top, None, f"{top + 1}° or above", f">{top}°",
                        f"greater than {top}° F"))
    return out


def _anchor_c(b: _Bracket, forecast: float) -> int:
    """The bracket's fair price in cents (3..97): its probability under a normal around the forecast."""
    lo_edge = -1e9 if b.floor is None else (b.floor - 0.5 if b.strike_type == "between" else b.floor + 0.5)
    hi_edge = 1e9 if b.cap is None else (b.cap + 0.5 if b.strike_type == "between" else b.cap - 0.5)
    p = _normal_cdf((hi_edge - forecast) / _SIGMA_F) - _normal_cdf((lo_edge - forecast) / _SIGMA_F)
    return min(97, max(3, round(p * 100)))


class Listing:
    """Every event and market that exists, by position (creation order) and by ticker.

    The registries are append-only: a market's ``idx`` is its position in ``markets``, and
    nothing is ever delisted (settled markets stay, served from the historical tier).
    """

    def __init__(self, seed: int, brackets: int) -> None:
        self.seed = seed
        self.brackets = brackets
        self.events: list[Event] = []
        self.event_by_ticker: dict[str, Event] = {}
        self.markets: list[Market] = []
        self.market_by_ticker: dict[str, Market] = {}

    def require_event(self, event_ticker: str) -> Event:
        event = self.event_by_ticker.get(event_ticker)
        if event is None:
            raise ModelError(f"unknown event {event_ticker}")
        return event

    def new_event(self, spec: SeriesSpec, day: date, *, created_ms: int) -> Event:
        """List ``spec``'s event for ``day`` with its bracket markets, all ``initialized``."""
        ticker = event_ticker_for(spec.ticker, day)
        if ticker in self.event_by_ticker:
            raise ModelError(f"event {ticker} already exists")
        times = event_times(spec, day)
        # per-event randomness from its own stream: independent of creation order
        erng = random.Random(mix64(self.seed * 1_000_003 + hash_text(ticker)))
        normal = spec.normals_f[day.month - 1]
        forecast = normal + erng.gauss(0, 4)
        outcome = round(forecast + erng.gauss(0, 2.5))
        event = Event(
            idx=len(self.events), ticker=ticker, series=spec, day=day,
            title=f"Highest temperature in {spec.city} on {_fmt_day(day)}?",
            sub_title=f"On {_fmt_day(day)}", strike_ms=times["close"], created_ms=created_ms,
            last_updated_ms=created_ms, forecast_f=forecast, outcome_f=outcome,
        )
        self.events.append(event)
        self.event_by_ticker[ticker] = event
        n_between = self.brackets - 2
        low = int(round(forecast)) - n_between  # the "less" tail's cap; brackets are 2 degrees wide
        for b in _brackets(low, n_between):
            self._new_market(event, b, times, fractional=erng.random() < 0.34)
        return event

    def _new_market(self, event: Event, b: _Bracket, times: dict[str, int], *, fractional: bool) -> Market:
        spec, idx = event.series, len(self.markets)
        m = Market(idx, f"{event.ticker}-{b.suffix}", event,
                   uuid_from(self.seed * 7919 + idx, hash_text(event.ticker + b.suffix)))
        m.strike_type, m.floor_strike, m.cap_strike = b.strike_type, b.floor, b.cap
        m.yes_sub_title = b.sub_title
        m.title = f"Will the high temp in {spec.city} be {b.short} on {_fmt_day(event.day)}?"
        m.rules_primary = (
            f"If the highest temperature recorded {spec.station_wording} for {_fmt_day(event.day, long=True)} "
            f"as reported by the National Weather Service's Climatological Report (Daily) is {b.condition}, "
            "then the market resolves to Yes."
        )
        m.rules_secondary = (
            f"Only the final NWS Daily Climate Report (CLI) for {spec.station_name} for the listed date is "
            "used. Later revisions to the report published after expiration are not considered."
        )
        m.fractional = fractional
        m.created_ms = m.updated_ms = event.created_ms
        m.open_ms, m.close_ms = times["open"], times["close"]
        m.expected_expiration_ms = times["expected_expiration"]
        m.latest_expiration_ms = times["latest_expiration"]
        m.anchor_c = _anchor_c(b, event.forecast_f)
        m.t_id_base = mix64(self.seed ^ (idx * 0x2545F4914F6CDD1D) ^ hash_text(m.ticker))
        event.markets.append(m)
        self.markets.append(m)
        self.market_by_ticker[m.ticker] = m
        return m
