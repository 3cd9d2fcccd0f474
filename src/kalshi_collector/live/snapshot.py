"""SnapshotBuilder: one snapshot cycle of every tracked market, under one shared ``snapshot_ts``.

Output (:class:`Snapshot`):

* ``market_rows``: one tuple per tracked market, in the column order of
  ``storage.schemas.MARKET_SNAPSHOTS`` (snapshot_ts, event_ticker, market_ticker, subtitle, yes_bid,
  yes_ask, last_price, volume, open_interest, trigger, yes_bid_size, yes_ask_size, book_valid).
  ``LiveStore.extend("market_snapshots", rows)`` takes them as they are.
* ``orderbook``: one row per price level as a **pyarrow Table** with exactly the schema
  ``storage.schemas.ORDERBOOK_SNAPSHOTS`` (snapshot_ts, market_ticker, side, price_cents, quantity).
  Columnar on purpose: 2,000 markets x 2 sides x 50 levels are 200,000 rows, and the builder runs on
  the event loop that reads the WebSocket. Python tuples for that many rows cost more than the
  whole 25 ms budget on this machine (``bench/bench_snapshot.py`` prints both). Here the Python loop
  runs once per market side, only collecting views of the book's level dicts; numpy reads all the
  levels in one C pass and Arrow kernels do the rest. A table is also what the parquet writer needs
  in the end. :meth:`Snapshot.orderbook_rows` gives tuples for a row-based store, at the tuple price.

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

import heapq
from collections.abc import Mapping
from itertools import accumulate, chain
from typing import NamedTuple, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.book import CENTI_PER_CONTRACT, MICROS_PER_CENT, BookStore, OrderBook
from kalshi_collector.kalshi.messages import TickerBody
from kalshi_collector.kalshi.numbers import dollars_to_cents, fp_to_contracts
from kalshi_collector.live.scheduler import Quote
from kalshi_collector.storage.schemas import MARKET_SNAPSHOTS, ORDERBOOK_SNAPSHOTS, TS

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
    """Exact ``*_fp`` parse without Decimal for the usual ``"18477.00"`` shape.

    ``int("1847700") / 100`` and ``float(Decimal("18477.00"))`` are both the correctly rounded value
    of the same rational, so they are equal; anything else goes through :func:`fp_to_contracts`.
    (Volumes are nearly all distinct: memoising them would only evict the order book's entries.)
    """
    if fp is None:
        return None
    if len(fp) > 3 and fp[-3] == "." and fp[-2:].isdigit():
        try:
            return int(fp[:-3] + fp[-2:]) / 100
        except ValueError:
            pass
    return fp_to_contracts(fp)


def _price_or_none(dollars: str) -> float | None:
    cents = dollars_to_cents(dollars)
    return cents if cents is not None and 0.0 < cents < 100.0 else None


def ticker_values(body: TickerBody) -> TickerValues:
    """Convert one ``ticker`` message (exactly). Raises ``BadNumber`` on unparseable strings.

    An empty side's price becomes None and so does its size (Kalshi sends "0.00"), as for a book.
    """
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


class Snapshot(NamedTuple):
    """One snapshot as two Arrow tables, exactly the schemas of ``market_snapshots`` and
    ``orderbook_snapshots``; ``market_rows`` / :meth:`orderbook_rows` give row tuples for a
    row-based sink (times as int epoch microseconds), at the tuple price."""

    market: pa.Table
    orderbook: pa.Table

    @property
    def market_rows(self) -> list[tuple]:
        return _table_rows(self.market)

    def orderbook_rows(self) -> list[tuple]:
        return _table_rows(self.orderbook)


def _table_rows(table: pa.Table) -> list[tuple]:
    if table.num_rows == 0:
        return []
    ts = table.column(0).cast(pa.int64()).to_pylist()
    columns = [ts] + [table.column(name).to_pylist() for name in table.column_names[1:]]
    return list(zip(*columns, strict=True))


_EMPTY_VALUES = TickerValues(None, None, None, None, None, None, None)


class SnapshotBuilder:
    """Collects the per-market state a snapshot needs besides the books, and builds snapshots."""

    def __init__(self, max_depth: int = 0) -> None:
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0 (0 = all levels), got {max_depth}")
        self.max_depth = max_depth
        self._markets: dict[str, tuple[str | None, str | None]] = {}
        self._watch: set[str] = set()  # the tickers of _markets, for a snapshot's BookCapture
        self._values: dict[str, TickerValues] = {}
        self._reference: dict[str, Quote] = {}

    # --- state ---------------------------------------------------------------------------------------

    def set_markets(self, markets: Mapping[str, MarketInfo]) -> None:
        """The tracked markets (ticker -> info), replacing the previous set; order is kept."""
        self._markets = {t: (m.event_ticker, m.subtitle) for t, m in markets.items()}
        self._watch = set(self._markets)  # a new set: a snapshot in progress keeps the old one
        for gone in self._values.keys() - self._markets.keys():
            del self._values[gone]

    def add_market(self, ticker: str, event_ticker: str | None, subtitle: str | None) -> None:
        self._markets[ticker] = (event_ticker, subtitle)
        self._watch.add(ticker)  # a snapshot in progress may capture it for nothing: harmless

    @property
    def tickers(self) -> list[str]:
        return list(self._markets)

    def update_ticker(self, body: TickerBody) -> TickerValues:
        """Keep a market's latest ``ticker`` message, converted now (a few microseconds) so that a
        snapshot only reads finished values. Raises ``BadNumber`` (a ValueError) for an unparseable
        message, keeping the previous values."""
        values = ticker_values(body)
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
        job.step(len(job))
        return job.finish()

    def start(self, books: BookStore, snapshot_ts: int, trigger: str) -> SnapshotBuild:
        """Begin a snapshot at ``snapshot_ts`` to be built in steps (:class:`SnapshotBuild`).

        Takes the market list and the ticker values as they are now; the books are read as each
        step reaches them, or captured first if they are about to change (:meth:`SnapshotBuild.watch`).
        """
        if type(snapshot_ts) is not int:
            raise TypeError(f"snapshot_ts must be int epoch microseconds, got {snapshot_ts!r}")
        return SnapshotBuild(self, books, snapshot_ts, trigger, self._markets, dict(self._values), self._watch)

    def _finished(self, reference: dict[str, Quote]) -> None:
        self._reference = reference


class _BookState(NamedTuple):
    """What a snapshot reads of a valid book: its quote and its two level dicts."""

    top: tuple[float | None, float | None, float | None, float | None]
    yes_bids: dict[int, int]
    no_bids: dict[int, int]


_LIVE = object()  # "not captured: read the book itself"


def _copy_book(book: OrderBook | None) -> _BookState | None:
    """A valid book's state, levels copied (it is about to change); None if not valid."""
    if book is None or not book.valid:
        return None
    return _BookState(book.top(), dict(book.yes_bids), dict(book.no_bids))


class SnapshotBuild:
    """One snapshot built a chunk of markets at a time, exactly as the books were at ``snapshot_ts``.

    Each :meth:`step` turns the next markets into market rows and an Arrow chunk of their levels
    at once (so no level dict is held across a step). Between steps the read loop may change the
    books: :meth:`watch` registers the markets not yet read with the store's
    :class:`~kalshi_collector.book.BookCapture`, which lets this build copy a book just before its
    first change. The result is the same as :meth:`SnapshotBuilder.build` at ``snapshot_ts``.
    """

    def __init__(self, builder: SnapshotBuilder, books: BookStore, snapshot_ts: int, trigger: str,
                 markets: dict[str, tuple[str | None, str | None]],
                 values: dict[str, TickerValues], watch: set[str]) -> None:
        self._builder, self._books, self._watch = builder, books, watch
        self.snapshot_ts, self.trigger = snapshot_ts, trigger
        # keys and values apart: two C-level copies, not a tuple per market (20,000 of them)
        self._tickers, self._infos, self._values = list(markets), list(markets.values()), values
        self._captured: dict[str, _BookState | None] = {}
        self._pos = 0
        self._watching = False
        self._market_chunks: list[pa.Table] = []
        self._reference: dict[str, Quote] = {}
        self._chunks: list[pa.Table] = []
        self.levels = 0  # level rows built so far

    def __len__(self) -> int:
        return len(self._tickers)

    @property
    def done(self) -> bool:
        return self._pos >= len(self._tickers)

    @property
    def position(self) -> int:
        """Markets built so far."""
        return self._pos

    def watch(self) -> None:
        """Capture each book not read yet before the store changes it (until :meth:`finish`/:meth:`abort`)."""
        capture = self._books.capture
        capture.start(self._watch, self._capture)
        capture.done.update(self._tickers[: self._pos])
        self._watching = True

    def _capture(self, ticker: str) -> None:
        self._captured[ticker] = _copy_book(self._books.get(ticker))

    def step(self, max_markets: int, max_levels: int = 0) -> bool:
        """Build up to ``max_markets`` more markets (stopping early once ``max_levels`` > 0 level rows
        are collected); True when every market is built.

        Allocates as little as it can per market (a market row and a reference quote; the sides go
        into three flat lists), because what it allocates drives the garbage collector's passes."""
        ts, trigger = self.snapshot_ts, self.trigger
        side_tickers: list[str] = []
        side_names: list[str] = []
        side_levels: list[dict[int, int]] = []
        add_ticker, add_name, add_levels = side_tickers.append, side_names.append, side_levels.append
        reference = self._reference
        events: list[str | None] = []
        subtitles: list[str | None] = []
        quotes: list[list[float | None]] = [[], [], [], [], [], [], []]  # bid ask last vol oi bid_size ask_size
        bids, asks, lasts, volumes, interests, bid_sizes, ask_sizes = (q.append for q in quotes)
        valids: list[bool] = []
        get_book, captured, values_of = self._books.get, self._captured, self._values.get
        levels, stop = 0, min(len(self._tickers), self._pos + max_markets)
        start = self._pos
        for ticker, (event_ticker, subtitle) in zip(self._tickers[start:stop], self._infos[start:stop], strict=True):
            self._pos += 1
            values = values_of(ticker, _EMPTY_VALUES)
            state = captured.get(ticker, _LIVE) if captured else _LIVE
            if state is _LIVE:
                book = get_book(ticker)
                if book is not None and book.valid:
                    top, yes_bids, no_bids = book.top(), book.yes_bids, book.no_bids
                else:
                    top = None
            elif state is not None:
                top, yes_bids, no_bids = state
            else:
                top = None
            if top is not None:
                yes_bid, yes_ask, yes_bid_size, yes_ask_size = top
                if yes_bids:
                    add_ticker(ticker)
                    add_name(_YES)
                    add_levels(yes_bids)
                if no_bids:
                    add_ticker(ticker)
                    add_name(_NO)
                    add_levels(no_bids)
                levels += len(yes_bids) + len(no_bids)
                valid = True
            else:
                yes_bid, yes_ask, _, _, _, yes_bid_size, yes_ask_size = values
                valid = False
            last_price = values[2]
            events.append(event_ticker)
            subtitles.append(subtitle)
            bids(yes_bid)
            asks(yes_ask)
            lasts(last_price)
            volumes(values[3])
            interests(values[4])
            bid_sizes(yes_bid_size)
            ask_sizes(yes_ask_size)
            valids.append(valid)
            reference[ticker] = (yes_bid, yes_ask, last_price)
            if max_levels and levels >= max_levels:
                break
        if valids:
            self._market_chunks.append(_market_table(ts, trigger, events, self._tickers[start : self._pos],
                                                     subtitles, quotes, valids))
        if side_levels:
            table = _orderbook_table(ts, side_tickers, side_names, side_levels, self._builder.max_depth)
            self._chunks.append(table)
            self.levels += table.num_rows
        if self._watching:
            self._books.capture.done.update(self._tickers[start : self._pos])
        return self.done

    def finish(self) -> Snapshot:
        """The snapshot (every market must be built); stops the capture."""
        if not self.done:
            raise RuntimeError(f"snapshot finished after {self._pos} of {len(self._tickers)} markets")
        self.abort()
        self._builder._finished(self._reference)
        return Snapshot(_concat(self._market_chunks, MARKET_SNAPSHOTS), _concat(self._chunks, ORDERBOOK_SNAPSHOTS))

    def abort(self) -> None:
        """Stop capturing (a cancelled snapshot leaves no hook behind)."""
        if self._watching:
            self._books.capture.stop()
            self._watching = False
        self._captured.clear()


def _concat(chunks: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not chunks:
        return schema.empty_table()
    return chunks[0] if len(chunks) == 1 else pa.concat_tables(chunks)


def _market_table(snapshot_ts: int, trigger: str, events: list[str | None], tickers: list[str],
                  subtitles: list[str | None], quotes: list[list[float | None]], valids: list[bool]) -> pa.Table:
    """One chunk's market rows as Arrow columns (schema order), converted as the row path would."""
    yes_bid, yes_ask, last, volume, interest, bid_size, ask_size = (pa.array(q, pa.float64()) for q in quotes)
    n = len(tickers)
    return pa.Table.from_arrays(
        [pa.repeat(pa.scalar(snapshot_ts, TS), n), pa.array(events, pa.string()), pa.array(tickers, pa.string()),
         pa.array(subtitles, pa.string()), yes_bid, yes_ask, last, volume, interest,
         pa.repeat(pa.scalar(trigger, pa.string()), n), bid_size, ask_size, pa.array(valids, pa.bool_())],
        schema=MARKET_SNAPSHOTS,
    )


def _best_levels(levels: dict[int, int], depth: int) -> dict[int, int]:
    if 0 < depth < len(levels):
        return {price: levels[price] for price in heapq.nlargest(depth, levels)}
    return levels


def _orderbook_table(snapshot_ts: int, tickers: list[str], side_names: list[str], books: list[dict[int, int]],
                     depth: int) -> pa.Table:
    """Arrow columns from the parallel (market, side, levels) lists; ticker and side expand from runs in C."""
    if not books:
        return ORDERBOOK_SNAPSHOTS.empty_table()
    if depth:
        books = tuple(_best_levels(levels, depth) for levels in books)
    run_ends = pa.array(accumulate(map(len, books)), pa.int32())
    total = run_ends[-1].as_py()
    # int64 -> float64 is exact below 2**53 and the division is correctly rounded: the same float
    # that dollars_to_cents("0.2900") or fp_to_contracts("12.34") gives.
    micros = np.fromiter(chain.from_iterable(books), np.int64, total)
    centi = np.fromiter(chain.from_iterable(map(dict.values, books)), np.int64, total)
    price_cents = pa.array(micros / float(MICROS_PER_CENT))
    contracts = pa.array(centi / float(CENTI_PER_CONTRACT))
    ticker_column = pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(run_ends, pa.array(tickers, pa.string())))
    side_column = pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(run_ends, pa.array(side_names, pa.string())))
    timestamps = pa.repeat(pa.scalar(snapshot_ts, TS), total)
    return pa.Table.from_arrays(
        [timestamps, ticker_column, side_column, price_cents, contracts], schema=ORDERBOOK_SNAPSHOTS
    )
