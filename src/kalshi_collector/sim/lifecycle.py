"""The exchange's calendar: events move initialized -> active -> closed -> determined -> finalized
as days pass, new daily events are listed, and the historical cutoff follows the days.

Each step publishes what Kalshi publishes for it: nothing on opening (time-driven), a delta per
level when a closing market's resting orders are cancelled (a collector sees every book go
empty, not just stop), ``market_lifecycle_v2`` for ``created``/``determined``/``settled``, and
``event_lifecycle`` for a new event. Which markets are open for trading (``active``) is decided
here and nowhere else; the order flow is handed that list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import msgspec

from kalshi_collector.sim.booklog import change, stamp, ticker_out
from kalshi_collector.sim.catalog import SeriesSpec
from kalshi_collector.sim.listing import Listing, outcome_result
from kalshi_collector.sim.records import EVENT_LIFECYCLE, LIFECYCLE, Event, Market, ModelError, Out
from kalshi_collector.sim.wirefmt import day_start_ms

__all__ = ["Lifecycle", "SeedBook"]

SeedBook = Callable[[Market, int, list[Out] | None], None]
"""Puts an opening book on a market that starts trading (``OrderFlow.seed_book``)."""

_encode = msgspec.json.Encoder().encode


class Lifecycle:
    """Market statuses over exchange days, the markets open for trading, ``today`` and the cutoff."""

    def __init__(self, listing: Listing, series: list[SeriesSpec], *, seed_book: SeedBook, today: date,
                 cutoff_days: int) -> None:
        self._listing = listing
        self._series = series
        self._seed_book = seed_book
        self.active: list[Market] = []
        self.today = today
        self.cutoff_days = cutoff_days
        self.cutoff_ms = day_start_ms(today - timedelta(days=cutoff_days))

    def admit(self, m: Market, seed_ms: int) -> None:
        """A market already active at start-up: its opening book (no messages), open for trading."""
        self._seed_book(m, seed_ms, None)
        self.active.append(m)

    def is_historical(self, m: Market) -> bool:
        """Settled before the cutoff: served only by ``/historical/markets*``."""
        return m.settlement_ms is not None and m.settlement_ms < self.cutoff_ms

    def set_cutoff(self, cutoff_ms: int) -> None:
        self.cutoff_ms = cutoff_ms

    def open_event(self, event_ticker: str, now_ms: int) -> list[Out]:
        """initialized -> active (time-driven on Kalshi: no lifecycle message); seeds the books."""
        out: list[Out] = []
        for m in self._listing.require_event(event_ticker).markets:
            if m.status != "initialized":
                continue
            m.status = "active"
            m.open_ms = min(m.open_ms, now_ms)
            self._seed_book(m, now_ms, out)
            self.active.append(m)
        return out

    def close_event(self, event_ticker: str, now_ms: int) -> list[Out]:
        """active -> closed: resting orders are cancelled, each level leaves by a delta."""
        out: list[Out] = []
        for m in self._listing.require_event(event_ticker).markets:
            if m.status not in ("active", "inactive", "initialized"):
                continue
            for yes_side, book in ((True, m.yes), (False, m.no)):
                for price in sorted(book):
                    change(m, yes_side, price, -book[price], stamp(m, now_ms), out)
            ticker_out(m, m.last_ts, out)
            m.status = "closed"
            m.close_ms = min(m.close_ms, now_ms)
            if m in self.active:
                self.active.remove(m)
        return out

    def determine_event(self, event_ticker: str, now_ms: int) -> list[Out]:
        """closed -> determined: the result is fixed from the event's outcome and announced."""
        out: list[Out] = []
        for m in self._listing.require_event(event_ticker).markets:
            if m.status != "closed":
                continue
            m.status = "determined"
            m.result = outcome_result(m)
            m.determination_ms = now_ms
            m.updated_ms = now_ms
            value = "1.0000" if m.result == "yes" else "0.0000"
            out.append(Out(LIFECYCLE, m, now_ms, (
                f'{{"market_ticker":"{m.ticker}","event_type":"determined","determination_ts":{now_ms // 1000},'
                f'"result":"{m.result}","settlement_value":"{value}"}}'
            )))
        return out

    def settle_event(self, event_ticker: str, now_ms: int) -> list[Out]:
        """determined -> finalized: the market settles (and, once before the cutoff, is historical)."""
        out: list[Out] = []
        for m in self._listing.require_event(event_ticker).markets:
            if m.status != "determined":
                continue
            m.status = "finalized"
            m.settlement_ms = now_ms
            m.updated_ms = now_ms
            out.append(Out(LIFECYCLE, m, now_ms,
                           f'{{"market_ticker":"{m.ticker}","event_type":"settled","settled_ts":{now_ms // 1000}}}'))
        return out

    def create_event(self, series_ticker: str, day: date, now_ms: int) -> list[Out]:
        """A new daily event in ``initialized``: ``created`` per market, then ``event_lifecycle``."""
        spec = next((s for s in self._series if s.ticker == series_ticker), None)
        if spec is None:
            raise ModelError(f"unknown series {series_ticker}")
        event = self._listing.new_event(spec, day, created_ms=now_ms)
        out: list[Out] = []
        for m in event.markets:
            m.last_ts = max(m.last_ts, now_ms)
            out.append(Out(LIFECYCLE, m, now_ms, _created_body(event, m)))
        out.append(Out(EVENT_LIFECYCLE, None, now_ms, _encode({
            "event_ticker": event.ticker, "exchange_index": 0, "title": event.title, "subtitle": event.sub_title,
            "collateral_return_type": "MECNET", "series_ticker": spec.ticker, "strike_date": event.strike_ms // 1000,
        }).decode(), event_ticker=event.ticker))
        return out

    def advance_day(self, now_ms: int) -> list[Out]:
        """One exchange day passes, per series: the oldest open event closes, is determined and
        settles; events waiting to open become active; the next day's event is created; the
        historical cutoff moves forward by a day."""
        out: list[Out] = []
        for spec in self._series:
            events = [e for e in self._listing.events if e.series is spec]
            open_events = [e for e in events if any(m.status == "active" for m in e.markets)]
            if open_events:
                oldest = min(open_events, key=lambda e: e.day)
                out += self.close_event(oldest.ticker, now_ms)
                out += self.determine_event(oldest.ticker, now_ms)
                out += self.settle_event(oldest.ticker, now_ms)
            for e in events:
                if any(m.status == "initialized" for m in e.markets):
                    out += self.open_event(e.ticker, now_ms)
            latest = max((e.day for e in events), default=self.today)
            out += self.create_event(spec.ticker, latest + timedelta(days=1), now_ms)
        self.today += timedelta(days=1)
        self.cutoff_ms = max(self.cutoff_ms, day_start_ms(self.today - timedelta(days=self.cutoff_days)))
        return out


def _created_body(event: Event, m: Market) -> str:
    """The ``created`` market_lifecycle_v2 body: the market's terms, as a collector first sees them."""
    meta: dict[str, object] = {
        "name": event.title, "title": m.title, "yes_sub_title": m.yes_sub_title,
        "no_sub_title": m.yes_sub_title, "rules_primary": m.rules_primary,
        "rules_secondary": m.rules_secondary, "can_close_early": True, "event_ticker": event.ticker,
        "expected_expiration_ts": m.expected_expiration_ms // 1000, "strike_type": m.strike_type,
    }
    if m.floor_strike is not None:
        meta["floor_strike"] = m.floor_strike
    if m.cap_strike is not None:
        meta["cap_strike"] = m.cap_strike
    return _encode({
        "market_ticker": m.ticker, "event_type": "created", "exchange_index": 0,
        "open_ts": m.open_ms // 1000, "close_ts": m.close_ms // 1000, "additional_metadata": meta,
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    }).decode()
