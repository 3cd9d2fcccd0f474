"""Typed records for Kalshi REST responses (API.md section 5).

Two layers: ``_wire`` structs mirror the JSON exactly (``*_dollars`` / ``*_fp`` strings, Kalshi's
field names, the live *and* the historical candle spelling) and are what msgspec decodes into;
the public records carry exact numbers in our units (prices in cents, counts in contracts, both
float64 converted through ``Decimal``) and are what the rest of the program sees. Conversion
happens once, here, at the edge.

Decoding is lenient where Kalshi is known to add, drop and deprecate fields (API.md 3: "unknown
fields must be ignored"): only identifiers are required, everything else has a default.

The listings discovery and the cross-check read (events, an event, markets) are decoded item by
item, so that one odd item never costs the page: each item is kept as its raw JSON by the page
decode, then read by the strict decoder, and if that fails by the tolerant one
(:mod:`kalshi_collector.kalshi.lax`: ``""`` as null, numbers as text and text as numbers, an
unreadable optional field dropped). An item that even it cannot read is handed, with its bytes and
the reason, to the sink installed by :func:`rejects_to` for the current task (the collector writes
it to its ``rejects`` table) and left out of the page. A number the exact conversion refuses
becomes None in the public record, like a missing one. The REST transport (``rest.py``) is not
involved: the tolerance lives in these records, so any client that decodes into them gets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import msgspec

from kalshi_collector.kalshi.lax import LaxDecoder, LaxError, read_json
from kalshi_collector.kalshi.numbers import BadNumber, dollars_to_cents, fp_to_contracts, number_text

__all__ = [
    "Market",
    "Event",
    "Series",
    "Trade",
    "Candlestick",
    "MarketCandles",
    "Orderbook",
    "HistoricalCutoff",
    "ExchangeStatus",
    "Page",
    "RejectSink",
    "rejects_to",
]

log = logging.getLogger(__name__)

RejectSink = Callable[[bytes, str], None]
"""Where an item that cannot be decoded goes: ``(raw item bytes, reason)``."""
_rejects: ContextVar[RejectSink | None] = ContextVar("kalshi_rest_rejects", default=None)


@contextmanager
def rejects_to(sink: RejectSink) -> Iterator[None]:
    """Hand every REST item that cannot be decoded within this block (this task) to ``sink``.

    A context variable rather than a client argument: decoding happens inside the client's request
    (``KalshiRestClient.get`` decodes into these records), and the caller, not the transport, knows
    where its rejects belong. Without a sink an unreadable item is logged and left out.
    """
    token = _rejects.set(sink)
    try:
        yield
    finally:
        _rejects.reset(token)


def _reject(raw: bytes, reason: str) -> None:
    sink = _rejects.get()
    if sink is None:
        log.warning("left out an unreadable REST item: %s", reason)
        return
    sink(raw, reason)


class _Items:
    """Strict decode of one list item, then the tolerant one, else a reject (the rest of the list stays)."""

    def __init__(self, cls: type, what: str) -> None:
        self._strict = msgspec.json.Decoder(cls)
        self._lax = LaxDecoder(cls)
        self._what = what

    def decode(self, raws: list[msgspec.Raw]) -> list:
        out = []
        for raw in raws:
            try:
                out.append(self._strict.decode(raw))
                continue
            except msgspec.DecodeError:
                pass
            try:
                out.append(self._lax.decode(read_json(raw)))
            except (LaxError, msgspec.DecodeError) as exc:
                _reject(bytes(raw), f"bad {self._what}{_named(raw)}: {exc}"[:300])
        return out


def _named(raw: msgspec.Raw) -> str:
    """`` KXHIGH-26FEB11-B34.5`` (the item's ticker, if it can be read) for the reason text."""
    try:
        obj = read_json(raw)
    except msgspec.DecodeError:
        return ""
    name = obj.get("ticker") or obj.get("event_ticker") if isinstance(obj, dict) else None
    return f" {name}" if isinstance(name, str) else ""


def _cents(value: str | None) -> float | None:
    """A price in cents; None when absent or unreadable (one odd field costs that field)."""
    try:
        return dollars_to_cents(value)
    except BadNumber:
        return None


def _contracts(value: str | None) -> float | None:
    try:
        return fp_to_contracts(value)
    except BadNumber:
        return None


class _W(msgspec.Struct, kw_only=True):
    """Base for wire structs: unknown fields ignored."""


# --------------------------------------------------------------------------- markets / events


class _MarketWire(_W, kw_only=True):
    ticker: str
    event_ticker: str
    market_type: str = "binary"
    title: str | None = None
    subtitle: str | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None
    status: str = ""
    result: str = ""
    created_time: datetime | None = None
    open_time: datetime | None = None
    close_time: datetime | None = None
    latest_expiration_time: datetime | None = None
    settlement_ts: datetime | None = None
    yes_bid_dollars: str | None = None
    yes_ask_dollars: str | None = None
    no_bid_dollars: str | None = None
    no_ask_dollars: str | None = None
    last_price_dollars: str | None = None
    yes_bid_size_fp: str | None = None
    yes_ask_size_fp: str | None = None
    volume_fp: str | None = None
    volume_24h_fp: str | None = None
    open_interest_fp: str | None = None
    settlement_value_dollars: str | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    price_level_structure: str | None = None
    rules_primary: str | None = None


class Market(msgspec.Struct, kw_only=True, frozen=True):
    ticker: str
    event_ticker: str
    market_type: str
    title: str | None
    subtitle: str | None
    yes_sub_title: str | None
    no_sub_title: str | None
    status: str
    result: str
    created_time: datetime | None
    open_time: datetime | None
    close_time: datetime | None
    latest_expiration_time: datetime | None
    settlement_ts: datetime | None
    yes_bid: float | None
    yes_ask: float | None
    no_bid: float | None
    no_ask: float | None
    last_price: float | None
    yes_bid_size: float | None
    yes_ask_size: float | None
    volume: float | None
    volume_24h: float | None
    open_interest: float | None
    settlement_value: float | None
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None
    price_level_structure: str | None
    rules_primary: str | None

    @property
    def display_subtitle(self) -> str:
        """What the seed stored as ``subtitle``: Kalshi's ``yes_sub_title`` (``subtitle`` is deprecated)."""
        return self.yes_sub_title or self.subtitle or ""

    @classmethod
    def _from_wire(cls, w: _MarketWire) -> Market:
        return cls(
            ticker=w.ticker,
            event_ticker=w.event_ticker,
            market_type=w.market_type,
            title=w.title,
            subtitle=w.subtitle,
            yes_sub_title=w.yes_sub_title,
            no_sub_title=w.no_sub_title,
            status=w.status,
            result=w.result,
            created_time=w.created_time,
            open_time=w.open_time,
            close_time=w.close_time,
            latest_expiration_time=w.latest_expiration_time,
            settlement_ts=w.settlement_ts,
            yes_bid=_cents(w.yes_bid_dollars),
            yes_ask=_cents(w.yes_ask_dollars),
            no_bid=_cents(w.no_bid_dollars),
            no_ask=_cents(w.no_ask_dollars),
            last_price=_cents(w.last_price_dollars),
            yes_bid_size=_contracts(w.yes_bid_size_fp),
            yes_ask_size=_contracts(w.yes_ask_size_fp),
            volume=_contracts(w.volume_fp),
            volume_24h=_contracts(w.volume_24h_fp),
            open_interest=_contracts(w.open_interest_fp),
            settlement_value=_cents(w.settlement_value_dollars),
            strike_type=w.strike_type,
            floor_strike=w.floor_strike,
            cap_strike=w.cap_strike,
            price_level_structure=w.price_level_structure,
            rules_primary=w.rules_primary,
        )


_MARKET_ITEMS = _Items(_MarketWire, "market")


class _EventWire(_W, kw_only=True, dict=True):
    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    sub_title: str = ""
    mutually_exclusive: bool = False
    strike_date: datetime | None = None
    strike_period: str | None = None
    category: str | None = None
    raw_markets: list[msgspec.Raw] | None = msgspec.field(default=None, name="markets")

    def __post_init__(self) -> None:
        # nested markets one by one: a bad market is rejected alone (see the module docstring)
        self.markets: list[_MarketWire] | None = (
            None if self.raw_markets is None else _MARKET_ITEMS.decode(self.raw_markets))


class Event(msgspec.Struct, kw_only=True, frozen=True):
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    mutually_exclusive: bool
    strike_date: datetime | None
    strike_period: str | None
    category: str | None
    markets: tuple[Market, ...]

    @classmethod
    def _from_wire(cls, w: _EventWire, markets: list[_MarketWire] | None = None) -> Event:
        wires = w.markets if w.markets is not None else (markets or [])
        return cls(
            event_ticker=w.event_ticker,
            series_ticker=w.series_ticker,
            title=w.title,
            sub_title=w.sub_title,
            mutually_exclusive=w.mutually_exclusive,
            strike_date=w.strike_date,
            strike_period=w.strike_period,
            category=w.category,
            markets=tuple(Market._from_wire(m) for m in wires),
        )


class _SeriesWire(_W, kw_only=True):
    ticker: str
    frequency: str = ""
    title: str = ""
    category: str = ""
    tags: list[str] | None = None
    settlement_sources: list[dict[str, Any]] | None = None
    contract_url: str | None = None


class Series(msgspec.Struct, kw_only=True, frozen=True):
    ticker: str
    frequency: str
    title: str
    category: str
    tags: tuple[str, ...]
    settlement_sources: tuple[dict[str, Any], ...]
    contract_url: str | None

    @classmethod
    def _from_wire(cls, w: _SeriesWire) -> Series:
        return cls(
            ticker=w.ticker,
            frequency=w.frequency,
            title=w.title,
            category=w.category,
            tags=tuple(w.tags or ()),
            settlement_sources=tuple(w.settlement_sources or ()),
            contract_url=w.contract_url,
        )


# --------------------------------------------------------------------------- trades


class _TradeWire(_W, kw_only=True):
    trade_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    no_price_dollars: str | None = None
    created_time: datetime
    taker_outcome_side: str | None = None
    taker_side: str | None = None
    taker_book_side: str | None = None
    is_block_trade: bool = False


class Trade(msgspec.Struct, kw_only=True, frozen=True):
    trade_id: str
    ticker: str
    count: float
    yes_price: float
    no_price: float
    created_time: datetime
    taker_side: str
    """Side the taker ends up long (``taker_outcome_side``; legacy ``taker_side`` as fallback)."""
    taker_book_side: str | None
    is_block_trade: bool

    @classmethod
    def _from_wire(cls, w: _TradeWire) -> Trade:
        yes = dollars_to_cents(w.yes_price_dollars)
        no = dollars_to_cents(w.no_price_dollars) if w.no_price_dollars is not None else 100.0 - yes  # type: ignore[operator]
        return cls(
            trade_id=w.trade_id,
            ticker=w.ticker,
            count=fp_to_contracts(w.count_fp),  # type: ignore[arg-type]
            yes_price=yes,  # type: ignore[arg-type]
            no_price=no,  # type: ignore[arg-type]
            created_time=w.created_time,
            taker_side=w.taker_outcome_side or w.taker_side or "",
            taker_book_side=w.taker_book_side,
            is_block_trade=w.is_block_trade,
        )


# --------------------------------------------------------------------------- candlesticks


class _OHLCDollars(_W, kw_only=True):
    open_dollars: str | None = None
    low_dollars: str | None = None
    high_dollars: str | None = None
    close_dollars: str | None = None


class _PriceDollars(_OHLCDollars, kw_only=True):
    mean_dollars: str | None = None
    previous_dollars: str | None = None


class _CandleWire(_W, kw_only=True):
    end_period_ts: int
    yes_bid: _OHLCDollars | None = None
    yes_ask: _OHLCDollars | None = None
    price: _PriceDollars | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None


class _OHLCPlain(_W, kw_only=True):
    open: str | None = None
    low: str | None = None
    high: str | None = None
    close: str | None = None


class _PricePlain(_OHLCPlain, kw_only=True):
    mean: str | None = None
    previous: str | None = None


class _HistCandleWire(_W, kw_only=True):
    """The historical tier spells the same candle without suffixes (API.md 5.10)."""

    end_period_ts: int
    yes_bid: _OHLCPlain | None = None
    yes_ask: _OHLCPlain | None = None
    price: _PricePlain | None = None
    volume: str | None = None
    open_interest: str | None = None


class Candlestick(msgspec.Struct, kw_only=True, frozen=True):
    """One period, in cents and contracts. Trade-price OHLC is None when nothing traded."""

    end_period_ts: int
    open_price: float | None
    high_price: float | None
    low_price: float | None
    close_price: float | None
    mean_price: float | None
    previous_price: float | None
    yes_bid_open: float | None
    yes_bid_high: float | None
    yes_bid_low: float | None
    yes_bid_close: float | None
    yes_ask_open: float | None
    yes_ask_high: float | None
    yes_ask_low: float | None
    yes_ask_close: float | None
    volume: float | None
    open_interest: float | None

    @classmethod
    def _build(
        cls,
        end_period_ts: int,
        price: tuple[str | None, ...],
        bid: tuple[str | None, ...],
        ask: tuple[str | None, ...],
        volume: str | None,
        open_interest: str | None,
    ) -> Candlestick:
        """From dollar strings ordered open, high, low, close (+ mean, previous for ``price``)."""
        c = dollars_to_cents
        return cls(
            end_period_ts=end_period_ts,
            open_price=c(price[0]),
            high_price=c(price[1]),
            low_price=c(price[2]),
            close_price=c(price[3]),
            mean_price=c(price[4]),
            previous_price=c(price[5]),
            yes_bid_open=c(bid[0]),
            yes_bid_high=c(bid[1]),
            yes_bid_low=c(bid[2]),
            yes_bid_close=c(bid[3]),
            yes_ask_open=c(ask[0]),
            yes_ask_high=c(ask[1]),
            yes_ask_low=c(ask[2]),
            yes_ask_close=c(ask[3]),
            volume=fp_to_contracts(volume),
            open_interest=fp_to_contracts(open_interest),
        )

    @classmethod
    def _from_live(cls, w: _CandleWire) -> Candlestick:
        p = w.price or _PriceDollars()
        b = w.yes_bid or _OHLCDollars()
        a = w.yes_ask or _OHLCDollars()
        return cls._build(
            w.end_period_ts,
            (p.open_dollars, p.high_dollars, p.low_dollars, p.close_dollars, p.mean_dollars, p.previous_dollars),
            (b.open_dollars, b.high_dollars, b.low_dollars, b.close_dollars),
            (a.open_dollars, a.high_dollars, a.low_dollars, a.close_dollars),
            w.volume_fp,
            w.open_interest_fp,
        )

    @classmethod
    def _from_historical(cls, w: _HistCandleWire) -> Candlestick:
        """Same candle, historical-tier spelling (no ``_dollars`` / ``_fp`` suffixes)."""
        p = w.price or _PricePlain()
        b = w.yes_bid or _OHLCPlain()
        a = w.yes_ask or _OHLCPlain()
        return cls._build(
            w.end_period_ts,
            (p.open, p.high, p.low, p.close, p.mean, p.previous),
            (b.open, b.high, b.low, b.close),
            (a.open, a.high, a.low, a.close),
            w.volume,
            w.open_interest,
        )


class MarketCandles(msgspec.Struct, kw_only=True, frozen=True):
    market_ticker: str
    candlesticks: tuple[Candlestick, ...]


# --------------------------------------------------------------------------- order book, misc


class Orderbook(msgspec.Struct, kw_only=True, frozen=True):
    """Resting bids per side, ascending by price as Kalshi sends them (best bid last)."""

    yes: tuple[tuple[float, float], ...]
    no: tuple[tuple[float, float], ...]

    def as_dict(self) -> dict[str, dict[float, float]]:
        return {"yes": dict(self.yes), "no": dict(self.no)}


_Number = str | int | float  # levels' values are `oneOf: [string, integer]` in Kalshi's own schema


class _OrderbookFpWire(_W, kw_only=True):
    yes_dollars: list[tuple[_Number, _Number]] | None = None
    no_dollars: list[tuple[_Number, _Number]] | None = None


def _as_text(value: _Number) -> str:
    return value if isinstance(value, str) else number_text(value)


def _level(price: _Number, size: _Number) -> tuple[float, float]:
    cents, contracts = dollars_to_cents(_as_text(price)), fp_to_contracts(_as_text(size))
    if cents is None or contracts is None:  # a level is a price and a size: "" is no level at all
        raise BadNumber(f"order-book level without a value: {[price, size]!r}")
    return cents, contracts


def _levels(pairs: list[tuple[_Number, _Number]] | None) -> tuple[tuple[float, float], ...]:
    """Levels in cents and contracts; a level sent as bare numbers reads like its string form.
    Raises :class:`BadNumber` for a level that cannot be read: a book is exact or unusable."""
    return tuple(_level(p, q) for p, q in (pairs or ()))


class HistoricalCutoff(msgspec.Struct, kw_only=True, frozen=True):
    market_settled_ts: datetime
    trades_created_ts: datetime
    orders_updated_ts: datetime | None = None


class ExchangeStatus(msgspec.Struct, kw_only=True, frozen=True):
    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: datetime | None = None


class Page(msgspec.Struct, kw_only=True, frozen=True):
    """One page of a cursor-paginated listing."""

    items: tuple[Any, ...]
    cursor: str


# --------------------------------------------------------------------------- response envelopes


class _EventResp(_W, kw_only=True, dict=True):
    event: _EventWire
    raw_markets: list[msgspec.Raw] | None = msgspec.field(default=None, name="markets")

    def __post_init__(self) -> None:
        self.markets: list[_MarketWire] | None = (
            None if self.raw_markets is None else _MARKET_ITEMS.decode(self.raw_markets))


_EVENT_ITEMS = _Items(_EventWire, "event")


class _EventsResp(_W, kw_only=True, dict=True):
    raw_events: list[msgspec.Raw] = msgspec.field(name="events")
    cursor: str = ""

    def __post_init__(self) -> None:
        self.events: list[_EventWire] = _EVENT_ITEMS.decode(self.raw_events)


class _MarketResp(_W, kw_only=True):
    market: _MarketWire


class _MarketsResp(_W, kw_only=True, dict=True):
    raw_markets: list[msgspec.Raw] = msgspec.field(name="markets")
    cursor: str = ""

    def __post_init__(self) -> None:
        self.markets: list[_MarketWire] = _MARKET_ITEMS.decode(self.raw_markets)


class _SeriesResp(_W, kw_only=True):
    series: _SeriesWire


class _SeriesListResp(_W, kw_only=True):
    series: list[_SeriesWire] | None = None
    cursor: str = ""


class _TradesResp(_W, kw_only=True):
    trades: list[_TradeWire]
    cursor: str = ""


class _OrderbookResp(_W, kw_only=True):
    orderbook_fp: _OrderbookFpWire


class _OrderbooksItem(_W, kw_only=True):
    ticker: str
    orderbook_fp: _OrderbookFpWire


class _OrderbooksResp(_W, kw_only=True):
    orderbooks: list[_OrderbooksItem]


class _CandlesResp(_W, kw_only=True):
    ticker: str = ""
    candlesticks: list[_CandleWire]


class _HistCandlesResp(_W, kw_only=True):
    ticker: str = ""
    candlesticks: list[_HistCandleWire]


class _BatchCandlesItem(_W, kw_only=True):
    market_ticker: str
    candlesticks: list[_CandleWire]


class _BatchCandlesResp(_W, kw_only=True):
    markets: list[_BatchCandlesItem]


class _EventCandlesResp(_W, kw_only=True):
    market_tickers: list[str]
    market_candlesticks: list[list[_CandleWire]]
    adjusted_end_ts: int | None = None
