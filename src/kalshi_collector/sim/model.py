"""The simulated exchange's state: series, daily events, bracket markets, books, trades, quotes.

Pure: no sockets, no sleeping, no wall clock. Every method that moves time takes ``now_ms`` from
the caller, and all randomness comes from generators seeded with ``seed``, so the same seed and
the same sequence of calls give the same state and the same messages.

Units inside the model are integers: prices in cents (1..99, ``linear_cent`` markets), counts in
hundredths of a contract (fractional contracts exist on some markets). Strings are only made at
the edge (``wire.py``) or, for the live hot path, here when a message body is built once and
shared by every subscriber.

Ground-truth contract (what collector tests compare against):

* every book change has a per-market exchange ``ts_ms`` that is strictly increasing within that
  market (bumped by 1 ms when the clock has not moved), and is logged, so the book after every
  change with ``ts_ms <= t`` can be rebuilt (``book_at``);
* a WebSocket ``orderbook_delta`` is produced for every change, including the ones that seed a
  newly opened market and the ones that clear a closing market;
* trades, quotes (best bid/ask) and open interest are recorded as time series, and the REST
  candlesticks are computed from them by the same code the truth API exposes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

import msgspec
import numpy as np

from kalshi_collector.sim.booklog import book_at, change, stamp, ticker_body, ticker_out
from kalshi_collector.sim.catalog import SeriesSpec, series_spec
from kalshi_collector.sim.history import build_past
from kalshi_collector.sim.listing import Listing, event_ticker_for, outcome_result
from kalshi_collector.sim.orderflow import OrderFlow
from kalshi_collector.sim.records import (
    CHANNEL_OF_KIND,
    DAY_MS,
    DELTA,
    EVENT_LIFECYCLE,
    LIFECYCLE,
    TICKER,
    TRADE,
    Event,
    Market,
    ModelError,
    Out,
)
from kalshi_collector.sim.trades import TradeTape, trade_indices
from kalshi_collector.sim.wirefmt import day_start_ms

__all__ = [
    "ExchangeModel",
    "Market",
    "Event",
    "Out",
    "ModelError",
    "DELTA",
    "TRADE",
    "TICKER",
    "LIFECYCLE",
    "EVENT_LIFECYCLE",
    "CHANNEL_OF_KIND",
    "event_ticker_for",
    "DAY_MS",
]

_encode = msgspec.json.Encoder().encode


class ExchangeModel:
    """All exchange state plus the operations that change it (order flow, lifecycle, cutoff)."""

    def __init__(
        self,
        *,
        seed: int,
        series: tuple[str | SeriesSpec, ...],
        brackets_per_event: int,
        history_days: int,
        cutoff_days: int,
        history_trades_per_market: int,
        today: date,
        now_ms: int,
        busy_markets: int = 0,
        busy_share: float = 0.9,
    ) -> None:
        if brackets_per_event < 2:
            raise ModelError("brackets_per_event must be at least 2 (the two tails)")
        if history_days < 0 or cutoff_days < 0 or history_trades_per_market < 0:
            raise ModelError("history_days, cutoff_days and history_trades_per_market must be >= 0")
        if not series:
            raise ModelError("at least one series is needed")
        self.seed = seed
        self.brackets = brackets_per_event
        self.cutoff_days = cutoff_days
        self.history_days = history_days
        self.history_trades_per_market = history_trades_per_market
        self.series: list[SeriesSpec] = [s if isinstance(s, SeriesSpec) else series_spec(s)
                                         for s in dict.fromkeys(series)]
        self.today = today
        self.listing = Listing(seed, brackets_per_event)
        # the listing's registries, exposed as they always were (the same objects, never rebound)
        self.events, self.event_by_ticker = self.listing.events, self.listing.event_by_ticker
        self.markets, self.market_by_ticker = self.listing.markets, self.listing.market_by_ticker
        self.active: list[Market] = []
        self.cutoff_ms = day_start_ms(today - timedelta(days=cutoff_days))
        past = build_past(self.listing, self.series, today=today, now_ms=now_ms, history_days=history_days,
                          trades_per_market=history_trades_per_market, g=np.random.default_rng(seed))
        self.tape = TradeTape(first_gseq=past.trades)
        self.flow = OrderFlow(random.Random(seed), self.tape.record, busy_share)
        seed_ms = max(past.end_ms + 1_000, now_ms - 1_000)
        for m in self.markets:
            if m.status == "active":
                self.flow.seed_book(m, seed_ms, out=None)
                self.active.append(m)
        self.flow.pick_busy(self.active, busy_markets)

    # ------------------------------------------------------------------------------------------
    # live order flow
    # ------------------------------------------------------------------------------------------
    def step(self, n: int, now_ms: int) -> list[Out]:
        """Generate ``n`` order-flow events on the active markets; return what gets published."""
        return self.flow.step(n, now_ms, self.active)

    @property
    def busy(self) -> list[Market]:
        """The markets that take ``busy_share`` of the order flow (empty = flow spread evenly)."""
        return self.flow.busy

    # ------------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------------
    def open_event(self, event_ticker: str, now_ms: int) -> list[Out]:
        """initialized -> active (time-driven on Kalshi: no lifecycle message); seeds the books."""
        out: list[Out] = []
        for m in self.listing.require_event(event_ticker).markets:
            if m.status != "initialized":
                continue
            m.status = "active"
            m.open_ms = min(m.open_ms, now_ms)
            self.flow.seed_book(m, now_ms, out)
            self.active.append(m)
        return out

    def close_event(self, event_ticker: str, now_ms: int) -> list[Out]:
        """active -> closed: resting orders are cancelled, each level leaves by a delta."""
        out: list[Out] = []
        for m in self.listing.require_event(event_ticker).markets:
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
        out: list[Out] = []
        for m in self.listing.require_event(event_ticker).markets:
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
        out: list[Out] = []
        for m in self.listing.require_event(event_ticker).markets:
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
        spec = next((s for s in self.series if s.ticker == series_ticker), None)
        if spec is None:
            raise ModelError(f"unknown series {series_ticker}")
        event = self.listing.new_event(spec, day, created_ms=now_ms)
        out: list[Out] = []
        for m in event.markets:
            m.last_ts = max(m.last_ts, now_ms)
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
            body = _encode({
                "market_ticker": m.ticker, "event_type": "created", "exchange_index": 0,
                "open_ts": m.open_ms // 1000, "close_ts": m.close_ms // 1000, "additional_metadata": meta,
                "price_level_structure": "linear_cent",
                "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            }).decode()
            out.append(Out(LIFECYCLE, m, now_ms, body))
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
        for spec in self.series:
            events = [e for e in self.events if e.series is spec]
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

    def set_cutoff(self, cutoff_ms: int) -> None:
        self.cutoff_ms = cutoff_ms

    # ------------------------------------------------------------------------------------------
    # queries (used by the REST server and the truth API)
    # ------------------------------------------------------------------------------------------
    def is_historical(self, m: Market) -> bool:
        """Settled before the cutoff: served only by ``/historical/markets*``."""
        return m.settlement_ms is not None and m.settlement_ms < self.cutoff_ms

    def book_at(self, m: Market, at_ts_ms: int | None) -> tuple[dict[int, int], dict[int, int]]:
        """(yes, no) books in cents -> hundredths after every change with ts_ms <= at_ts_ms."""
        return book_at(m, at_ts_ms)

    def ticker_body(self, m: Market, ts: int) -> str:
        """The ``ticker`` message body for ``m`` as it stands (the WebSocket hub's snapshot)."""
        return ticker_body(m, ts)

    def trade_indices(self, markets: list[Market], *, min_ms: int | None, max_ms: int | None,
                      before_gseq: int | None, block: bool | None) -> Iterator[tuple[Market, int]]:
        """Trades newest first across ``markets`` within the bounds (see ``trades.trade_indices``)."""
        return trade_indices(markets, min_ms=min_ms, max_ms=max_ms, before_gseq=before_gseq, block=block)

    @property
    def gseq(self) -> int:
        """The next exchange-wide trade number (= trades so far, history included)."""
        return self.tape.gseq
