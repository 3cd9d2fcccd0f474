"""SnapshotBuilder: one snapshot cycle of every tracked market, under one shared ``snapshot_ts``.

Output (:class:`Snapshot`, built by :class:`~kalshi_collector.live.snapshot_build.SnapshotBuild`):

* ``market``: one row per tracked market as a **pyarrow Table** with exactly the schema
  ``storage.schemas.MARKET_SNAPSHOTS`` (snapshot_ts, event_ticker, market_ticker, subtitle, yes_bid,
  yes_ask, last_price, volume, open_interest, trigger, yes_bid_size, yes_ask_size, book_valid).
* ``orderbook``: one row per price level, a table with exactly the schema
  ``storage.schemas.ORDERBOOK_SNAPSHOTS`` (snapshot_ts, market_ticker, side, price_cents, quantity).
  Columnar on purpose: 20,000 markets are some 350,000 levels, and the builder runs on the event
  loop that reads the WebSocket. Python tuples for that many rows cost the loop hundreds of
  milliseconds (``bench/bench_snapshot_scale.py`` prints both). The Python loop runs once per
  market, only collecting views of the book's level dicts; numpy reads all the levels in one C pass
  and Arrow kernels do the rest. ``LiveStore.append_table`` takes both tables as they are;
  ``market_rows`` / ``orderbook_rows()`` give tuples for a row-based sink, at the tuple price.

:meth:`SnapshotBuilder.build` builds in one go; :meth:`SnapshotBuilder.start` returns a build to
run in steps (the collector's ``SnapshotCycle.run``), with the same result.

Where the values come from:

* yes_bid / yes_ask / their sizes: from the local book when it is **valid**. When it is not (gap,
  resync pending, never snapshotted), the market row says ``book_valid=False``, its quote comes from
  the latest ``ticker`` message instead (independent exchange data, or None), and **no level of that
  book is written**: an invalid book is never presented as valid.
* last_price, volume, open_interest: from the latest ``ticker`` message (None before the first),
  converted when it arrives (:meth:`SnapshotBuilder.update_ticker`), so a snapshot converts nothing.
  Kalshi reports an empty side or no trade as "0.0000": those become None, like an empty book side.
* event_ticker, subtitle: from discovery (:meth:`SnapshotBuilder.set_markets`).

Prices are cents and quantities contracts (float64), converted exactly from the book's integers.
Levels within one market side are in no particular order (the day compaction sorts by
snapshot_ts, market_ticker, side, price_cents); with ``max_depth`` > 0 only the best ``max_depth``
levels of each side are written. Pure: no I/O, no clock (``snapshot_ts`` is passed in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from kalshi_collector.book import BookStore
from kalshi_collector.kalshi.messages import TickerBody
from kalshi_collector.kalshi.numbers import dollars_to_cents, fp_to_contracts
from kalshi_collector.live.scheduler import Quote
from kalshi_collector.live.snapshot_build import Snapshot, SnapshotBuild

__all__ = ["MarketInfo", "Snapshot", "SnapshotBuild", "SnapshotBuilder", "TickerValues", "ticker_values"]

_YES = "yes"
_NO = "no"


class MarketInfo(Protocol):
    """What the builder needs to know about a tracked market (discovery's ``TrackedMarket`` fits)."""

    @property
    def event_ticker(self) -> str: ...

    @property
    def subtitle(self) -> str: ...


class TickerValues(NamedTuple):
    """A ``ticker`` message in snapshot units; ``None`` where Kalshi reports an empty value."""

    yes_bid: float | None
    yes_ask: float | None
    last_price: float | None
    volume: float | None
    open_interest: float | None
    yes_bid_size: float | None
    yes_ask_size: float | None


def _contracts(fp: str | None) -> float | None:
    """An ``*_fp`` count (``"18477.00"``) as contracts, exactly and without Decimal.

    ``float(text)`` is the correctly rounded value of the decimal the text spells, and so is
    ``float(Decimal(text))`` (CPython converts a Decimal to float through its own digits), so the
    two are the same float for every string both accept; ``float`` is four times cheaper, and a
    ticker message carries four counts. What ``float`` refuses goes to :func:`fp_to_contracts`,
    which raises ``BadNumber`` (or reads what only Decimal reads). Volumes are nearly all distinct:
    memoising them would only evict the order book's entries.
    """
    if not fp:
        return None
    try:
        return float(fp)
    except ValueError:
        return fp_to_contracts(fp)


_PRICES: dict[str | None, float | None] = {}
"""Dollar string -> its snapshot price (None for an empty side), for every price seen: a market has
at most a few hundred distinct prices, and three are read per ticker message."""
_PRICES_MAX = 100_000
_MISS = object()


def _price_or_none(dollars: str | None) -> float | None:
    cents = dollars_to_cents(dollars)
    price = cents if cents is not None and 0.0 < cents < 100.0 else None
    if len(_PRICES) < _PRICES_MAX:
        _PRICES[dollars] = price
    return price


def _checked_values(body: TickerBody) -> TickerValues:
    """The conversion field by field, each with its own rule; raises ``BadNumber`` naming the value."""
    yes_bid = _price_or_none(body.yes_bid_dollars)
    yes_ask = _price_or_none(body.yes_ask_dollars)
    yes_bid_size = _contracts(body.yes_bid_size_fp)
    yes_ask_size = _contracts(body.yes_ask_size_fp)
    return TickerValues(
        yes_bid,
        yes_ask,
        _price_or_none(body.price_dollars),
        _contracts(body.volume_fp),
        _contracts(body.open_interest_fp),
        None if yes_bid is None else yes_bid_size,
        None if yes_ask is None else yes_ask_size,
    )


def ticker_values(body: TickerBody) -> TickerValues:
    """Convert one ``ticker`` message (exactly). Raises ``BadNumber`` on unparseable strings.

    An empty side's price becomes None and so does its size (Kalshi sends "0.00"), as for a book.
    A third of the messages at scale are tickers, so the usual case is one pass of memo lookups
    and ``float`` calls (the same values as :func:`_checked_values`, which takes anything else).
    """
    price = _PRICES.get
    yes_bid = price(body.yes_bid_dollars, _MISS)
    yes_ask = price(body.yes_ask_dollars, _MISS)
    last_price = price(body.price_dollars, _MISS)
    if yes_bid is _MISS or yes_ask is _MISS or last_price is _MISS:
        return _checked_values(body)
    volume, interest = body.volume_fp, body.open_interest_fp
    bid_size, ask_size = body.yes_bid_size_fp, body.yes_ask_size_fp
    try:
        bid_count = float(bid_size) if bid_size else None
        ask_count = float(ask_size) if ask_size else None
        return tuple.__new__(TickerValues, (
            yes_bid, yes_ask, last_price,
            float(volume) if volume else None,
            float(interest) if interest else None,
            None if yes_bid is None else bid_count,
            None if yes_ask is None else ask_count,
        ))
    except ValueError:  # a count float refuses: the checked path raises BadNumber (or reads it)
        return _checked_values(body)


_EMPTY_VALUES = TickerValues(None, None, None, None, None, None, None)


class SnapshotBuilder:
    """Collects the per-market state a snapshot needs besides the books, and builds snapshots."""

    def __init__(self, max_depth: int = 0) -> None:
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0 (0 = all levels), got {max_depth}")
        self.max_depth = max_depth
        self._markets: dict[str, tuple[str | None, str | None]] = {}
        # The same, as the lists and the set a snapshot reads: kept with the market list rather than
        # made per snapshot (a snapshot in progress keeps the objects it started with; an appended
        # market is past the length it noted).
        self._tickers: list[str] = []
        self._infos: list[tuple[str | None, str | None]] = []
        self._watch: set[str] = set()
        self._values: dict[str, TickerValues] = {}
        self._reference: dict[str, Quote] = {}
        self._job: SnapshotBuild | None = None  # a snapshot in progress (sees ticker values change)

    # --- state ---------------------------------------------------------------------------------------

    def set_markets(self, markets: Mapping[str, MarketInfo]) -> None:
        """The tracked markets (ticker -> info), replacing the previous set; order is kept."""
        self._markets = {t: (m.event_ticker, m.subtitle) for t, m in markets.items()}
        self._index_markets()
        for gone in self._values.keys() - self._markets.keys():
            if self._job is not None:
                self._job.before_value(gone)
            del self._values[gone]

    def _index_markets(self) -> None:
        """New lists and set (never changed in place: a snapshot in progress keeps the old ones)."""
        self._tickers, self._infos, self._watch = list(self._markets), list(self._markets.values()), set(self._markets)

    def add_market(self, ticker: str, event_ticker: str | None, subtitle: str | None) -> None:
        known = ticker in self._markets
        self._markets[ticker] = (event_ticker, subtitle)
        if known:  # its info changed: new lists
            self._index_markets()
        else:  # past the end a snapshot in progress noted; it may capture the book for nothing
            self._tickers.append(ticker)
            self._infos.append((event_ticker, subtitle))
            self._watch.add(ticker)

    @property
    def tickers(self) -> list[str]:
        return list(self._markets)

    def update_ticker(self, body: TickerBody) -> TickerValues:
        """Keep a market's latest ``ticker`` message, converted now (a few microseconds) so that a
        snapshot only reads finished values. Raises ``BadNumber`` (a ValueError) for an unparseable
        message, keeping the previous values."""
        values = ticker_values(body)
        if self._job is not None:
            self._job.before_value(body.market_ticker)
        self._values[body.market_ticker] = values
        return values

    def ticker_state(self, ticker: str) -> TickerValues:
        """The latest converted ``ticker`` values of a market (all None before the first message)."""
        return self._values.get(ticker, _EMPTY_VALUES)

    def quote(self, books: BookStore, ticker: str) -> Quote:
        """``(yes_bid, yes_ask, last_price)`` by the same rules as the market rows: what the spike
        detector should observe, so that it compares like with like."""
        values = self._values.get(ticker, _EMPTY_VALUES)
        book = books.get(ticker)
        if book is not None and book.valid:
            yes_bid, yes_ask, _, _ = book.top()
            return yes_bid, yes_ask, values.last_price
        return values.yes_bid, values.yes_ask, values.last_price

    def reference_values(self) -> dict[str, Quote]:
        """``(yes_bid, yes_ask, last_price)`` per market as written by the last :meth:`build`, for
        ``SpikeDetector.record_snapshot``."""
        return self._reference

    # --- build ---------------------------------------------------------------------------------------

    def build(self, books: BookStore, snapshot_ts: int, trigger: str) -> Snapshot:
        """Snapshot every tracked market at ``snapshot_ts`` (int epoch microseconds), in one go."""
        job = self.start(books, snapshot_ts, trigger)
        try:
            job.step(len(job))
            return job.finish()
        finally:
            job.abort()

    def start(self, books: BookStore, snapshot_ts: int, trigger: str) -> SnapshotBuild:
        """Begin a snapshot at ``snapshot_ts`` to be built in steps (:class:`SnapshotBuild`).

        Nothing is copied: the market list it reads is never changed in place, a ticker value about
        to change is kept first (:meth:`SnapshotBuild.before_value`), and the books are read as each
        step reaches them, or captured first if they are about to change (:meth:`SnapshotBuild.watch`).
        """
        if type(snapshot_ts) is not int:
            raise TypeError(f"snapshot_ts must be int epoch microseconds, got {snapshot_ts!r}")
        if self._job is not None:
            raise RuntimeError("a snapshot is already in progress")
        self._job = SnapshotBuild(books, snapshot_ts, trigger, self._tickers, self._infos, self._values,
                                  self._watch, self.max_depth, self._finished, self._reference)
        return self._job

    def _finished(self, reference: dict[str, Quote] | None) -> None:
        """The snapshot in progress ended: with these quotes, or (None) abandoned."""
        self._job = None
        if reference is not None:
            self._reference = reference
