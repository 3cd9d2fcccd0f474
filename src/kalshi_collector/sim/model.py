"""The simulated exchange's state: series, daily events, bracket markets, books, trades, quotes.

Pure: no sockets, no sleeping, no wall clock. Every method that moves time takes ``now_ms`` from
the caller, and all randomness comes from generators seeded with ``seed``, so the same seed and
the same sequence of calls give the same state and the same messages.

``ExchangeModel`` is the one object the REST server, the WebSocket hub and the truth API talk
to. It holds no state of its own beyond its settings; it composes the parts that do, each with
one job:

* ``records.py``: ``Market``, ``Event``, ``Out``, the output kinds and time units;
* ``listing.py``: every event and market, and how a daily bracket set is made;
* ``history.py``: the past made at start-up (settled events, numpy trade history);
* ``lifecycle.py``: statuses as days pass, the markets open for trading, ``today``, the cutoff;
* ``orderflow.py``: live order activity, the only user of the live random generator;
* ``booklog.py``: the one way a book changes, logged so ``book_at`` can rebuild it;
* ``trades.py``: the trade tape, its exchange-wide order (``gseq``) and newest-first paging.

Units inside the model are integers: prices in cents (1..99, ``linear_cent`` markets), counts in
hundredths of a contract (fractional contracts exist on some markets). Strings are only made at
the edge (``wire.py``) or, for the live hot path, in the model when a message body is built once
and shared by every subscriber.

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
from datetime import date

import numpy as np

from kalshi_collector.sim.booklog import book_at, ticker_body
from kalshi_collector.sim.catalog import SeriesSpec, series_spec
from kalshi_collector.sim.history import build_past
from kalshi_collector.sim.lifecycle import Lifecycle
from kalshi_collector.sim.listing import Listing, event_ticker_for
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
    "DAY_MS",
    "event_ticker_for",
]


class ExchangeModel:
    """All exchange state plus the operations that change it (order flow, lifecycle, cutoff).

    A facade: the state lives in its parts (listing, lifecycle, order flow, trade tape), built
    here in the order the seeded draws need, and is exposed under the names callers always used.
    """

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
        self.listing = Listing(seed, brackets_per_event)
        past = build_past(self.listing, self.series, today=today, now_ms=now_ms, history_days=history_days,
                          trades_per_market=history_trades_per_market, g=np.random.default_rng(seed))
        self.tape = TradeTape(first_gseq=past.trades)
        self.flow = OrderFlow(random.Random(seed), self.tape.record, busy_share)
        self.lifecycle = Lifecycle(self.listing, self.series, seed_book=self.flow.seed_book, today=today,
                                   cutoff_days=cutoff_days)
        seed_ms = max(past.end_ms + 1_000, now_ms - 1_000)
        for m in self.listing.markets:
            if m.status == "active":
                self.lifecycle.admit(m, seed_ms)
        self.flow.pick_busy(self.lifecycle.active, busy_markets)

    # -- state, owned by the parts -------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        return self.listing.events

    @property
    def event_by_ticker(self) -> dict[str, Event]:
        return self.listing.event_by_ticker

    @property
    def markets(self) -> list[Market]:
        return self.listing.markets

    @property
    def market_by_ticker(self) -> dict[str, Market]:
        return self.listing.market_by_ticker

    @property
    def active(self) -> list[Market]:
        """Markets open for trading now, in the order they opened."""
        return self.lifecycle.active

    @property
    def today(self) -> date:
        """The exchange's current day (moves with ``advance_day``)."""
        return self.lifecycle.today

    @property
    def cutoff_ms(self) -> int:
        """Markets settled before this instant are served only by the historical tier."""
        return self.lifecycle.cutoff_ms

    @property
    def busy(self) -> list[Market]:
        """The markets that take ``busy_share`` of the order flow (empty = flow spread evenly)."""
        return self.flow.busy

    @property
    def gseq(self) -> int:
        """The next exchange-wide trade number (= trades so far, history included)."""
        return self.tape.gseq

    # -- commands ------------------------------------------------------------------------------
    def step(self, n: int, now_ms: int) -> list[Out]:
        """Generate ``n`` order-flow events on the active markets; return what gets published."""
        return self.flow.step(n, now_ms, self.lifecycle.active)

    def advance_day(self, now_ms: int) -> list[Out]:
        """One exchange day passes (see ``Lifecycle.advance_day``)."""
        return self.lifecycle.advance_day(now_ms)

    def set_cutoff(self, cutoff_ms: int) -> None:
        self.lifecycle.set_cutoff(cutoff_ms)

    # -- queries (used by the REST server and the truth API) -----------------------------------
    def is_historical(self, m: Market) -> bool:
        """Settled before the cutoff: served only by ``/historical/markets*``."""
        return self.lifecycle.is_historical(m)

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
