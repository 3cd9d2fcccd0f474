"""The records the simulated exchange is made of: markets, events, published messages, units.

Every part of the model (listing, history, lifecycle, order flow, book log, trade tape) reads and
writes these, so they sit in one module the parts import instead of importing each other. A
``Market`` is deliberately a bag of columns with ``__slots__``: the order flow appends to it
millions of times, the REST and truth code read it, and attribute access must stay cheap.

Units are integers: prices in cents (1..99, ``linear_cent`` markets), counts in hundredths of a
contract, times in Unix milliseconds.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date

from kalshi_collector.sim.catalog import SeriesSpec
from kalshi_collector.sim.ids import uuid_from

__all__ = [
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
    "MINUTE_MS",
    "HOUR_MS",
    "DAY_MS",
]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Output kinds, in the order a client usually sees them for one exchange event.
DELTA, TRADE, TICKER, LIFECYCLE, EVENT_LIFECYCLE = range(5)
CHANNEL_OF_KIND = {
    DELTA: "orderbook_delta",
    TRADE: "trade",
    TICKER: "ticker",
    LIFECYCLE: "market_lifecycle_v2",
    EVENT_LIFECYCLE: "market_lifecycle_v2",
}
_MSG_TYPE_OF_KIND = {
    DELTA: "orderbook_delta",
    TRADE: "trade",
    TICKER: "ticker",
    LIFECYCLE: "market_lifecycle_v2",
    EVENT_LIFECYCLE: "event_lifecycle",
}


class ModelError(ValueError):
    """A command the model cannot carry out (unknown ticker, wrong status)."""


class Out:
    """One message the exchange publishes: kind, market, exchange time and the encoded ``msg``.

    ``body`` is the JSON of the ``msg`` object, built once and shared by every subscriber (the
    server only wraps it with ``type``/``sid``/``seq``). ``body_yes`` is the variant for
    ``use_yes_price=true`` subscribers when it differs (NO-side orderbook prices).
    """

    __slots__ = ("kind", "market", "event_ticker", "ts_ms", "body", "body_yes")

    def __init__(self, kind: int, market: Market | None, ts_ms: int, body: str, body_yes: str | None = None,
                 event_ticker: str | None = None) -> None:
        self.kind = kind
        self.market = market
        self.event_ticker = event_ticker
        self.ts_ms = ts_ms
        self.body = body
        self.body_yes = body_yes

    @property
    def msg_type(self) -> str:
        return _MSG_TYPE_OF_KIND[self.kind]

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Out({self.msg_type}, {self.market.ticker if self.market else self.event_ticker}, {self.body})"


@dataclass
class Event:
    """One daily event: a series on one climate day, whose brackets share times and outcome.

    ``outcome_f`` is decided when the event is made, so the truth API can tell tests what the
    event settles on long before the model settles it.
    """

    idx: int
    ticker: str
    series: SeriesSpec
    day: date
    title: str
    sub_title: str
    strike_ms: int  # the close time (Kalshi's strike_date for daily weather)
    created_ms: int
    last_updated_ms: int
    forecast_f: float
    outcome_f: int  # the settlement high temperature (ground truth, decided at construction)
    markets: list[Market] = field(default_factory=list)


class Market:
    """One binary bracket market and everything that happened on it."""

    __slots__ = (
        "idx", "ticker", "event", "market_id", "strike_type", "floor_strike", "cap_strike",
        "yes_sub_title", "title", "rules_primary", "rules_secondary", "fractional",
        "created_ms", "updated_ms", "open_ms", "close_ms", "expected_expiration_ms", "latest_expiration_ms",
        "status", "result", "determination_ms", "settlement_ms", "anchor_c",
        "yes", "no", "last_ts", "ticker_key",
        "log_ts", "log_price", "log_delta", "checkpoints",
        "t_ts", "t_price", "t_cum", "t_cumpx", "t_oi", "t_gseq", "t_taker_yes", "t_block", "t_id_base",
        "q_ts", "q_bid", "q_ask",
        "prev_yes_bid", "prev_yes_ask", "prev_price", "last_trade_size",
    )

    def __init__(self, idx: int, ticker: str, event: Event, market_id: str) -> None:
        self.idx = idx
        self.ticker = ticker
        self.event = event
        self.market_id = market_id
        self.strike_type = "between"
        self.floor_strike: int | None = None
        self.cap_strike: int | None = None
        self.yes_sub_title = ""
        self.title = ""
        self.rules_primary = ""
        self.rules_secondary = ""
        self.fractional = False
        self.created_ms = self.updated_ms = self.open_ms = self.close_ms = 0
        self.expected_expiration_ms = self.latest_expiration_ms = 0
        self.status = "initialized"
        self.result = ""
        self.determination_ms: int | None = None
        self.settlement_ms: int | None = None
        self.anchor_c = 50
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}
        self.last_ts = 0
        self.ticker_key: tuple[int, ...] | None = None
        # book log: price > 0 is a YES bid level, price < 0 a NO bid level at -price
        self.log_ts = array("q")
        self.log_price = array("b")
        self.log_delta = array("q")
        self.checkpoints: list[tuple[int, dict[int, int], dict[int, int]]] = [(0, {}, {})]
        # trades (columnar; counts in hundredths; cumulative sums make range sums O(1))
        self.t_ts = array("q")
        self.t_price = array("b")  # yes price, cents
        self.t_cum = array("q")  # cumulative count (hundredths) up to and including trade i
        self.t_cumpx = array("q")  # cumulative price_cents * count_hundredths
        self.t_oi = array("q")  # open interest (hundredths) after trade i
        self.t_gseq = array("q")  # exchange-wide insertion order (newest = largest)
        self.t_taker_yes = array("b")
        self.t_block = array("b")
        self.t_id_base = 0
        # best-quote time series (cents; 0 = no quote on that side)
        self.q_ts = array("q")
        self.q_bid = array("b")
        self.q_ask = array("b")
        self.prev_yes_bid = self.prev_yes_ask = self.prev_price = 0
        self.last_trade_size = 0

    # -- derived values ------------------------------------------------------------------------
    @property
    def series_ticker(self) -> str:
        return self.event.series.ticker

    def best_yes(self) -> int:
        return max(self.yes) if self.yes else 0

    def best_no(self) -> int:
        return max(self.no) if self.no else 0

    def quote(self) -> tuple[int, int, int, int]:
        """(yes_bid, yes_bid_size, yes_ask, yes_ask_size); 0 where a side is empty."""
        yb = max(self.yes) if self.yes else 0
        nb = max(self.no) if self.no else 0
        return yb, self.yes[yb] if yb else 0, (100 - nb) if nb else 0, self.no[nb] if nb else 0

    @property
    def volume(self) -> int:
        return self.t_cum[-1] if self.t_cum else 0

    @property
    def open_interest(self) -> int:
        return self.t_oi[-1] if self.t_oi else 0

    @property
    def last_price(self) -> int:
        return self.t_price[-1] if self.t_price else 0

    def volume_since(self, since_ms: int) -> int:
        i = bisect_left(self.t_ts, since_ms)
        if not self.t_cum or i >= len(self.t_cum):
            return 0
        return self.t_cum[-1] - (self.t_cum[i - 1] if i > 0 else 0)

    def dollar_volume_ten_thousandths(self) -> int:
        return self.t_cumpx[-1] if self.t_cumpx else 0

    def trade_id(self, i: int) -> str:
        return uuid_from(self.t_id_base, i)
