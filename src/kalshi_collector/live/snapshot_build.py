"""One snapshot built a chunk of markets at a time (:class:`SnapshotBuild`) into two Arrow tables
(:class:`Snapshot`); :class:`~kalshi_collector.live.snapshot.SnapshotBuilder` starts it and
keeps the state it reads. See that module for what the rows hold.

Why chunks: at 20,000 markets a whole snapshot takes the read loop 100-300 ms of CPU; in steps of
about a millisecond (``SnapshotCycle.run`` yields between them) the loop goes on reading. Why the
result is still the books at ``snapshot_ts``: the books not read yet are copied just before the
store first changes them (:class:`~kalshi_collector.book.BookCapture`), and the ticker values
were copied when the snapshot started. Why Arrow: each step reads its levels into numpy at once
and a step of its own turns every few thousand levels into Arrow chunks (market rows and levels),
so the store gets two tables (``LiveStore.append_table``) and no Python tuple per row is made,
journaled or collected.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.book import CENTI_PER_CONTRACT, MICROS_PER_CENT, BookStore, OrderBook
from kalshi_collector.live.scheduler import Quote
from kalshi_collector.storage.schemas import MARKET_SNAPSHOTS, ORDERBOOK_SNAPSHOTS, TS

__all__ = ["Snapshot", "SnapshotBuild"]

_YES = "yes"
_NO = "no"
Values = Sequence[float | None]
"""A market's ticker values (``snapshot.TickerValues``): yes_bid, yes_ask, last_price, volume,
open_interest, yes_bid_size, yes_ask_size."""
_EMPTY_VALUES: Values = (None, None, None, None, None, None, None)
EMIT_LEVELS = 8_192
EMIT_MARKETS = 512
"""Read levels or markets that make a step of their own turn into Arrow chunks: about 0.3-0.5 ms,
like a building step, where a chunk per building step cost as much as the building."""


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

    def __init__(self, books: BookStore, snapshot_ts: int, trigger: str,
                 tickers: list[str], infos: list[tuple[str | None, str | None]], values: Mapping[str, Values],
                 watch: set[str], max_depth: int = 0,
                 on_finish: Callable[[dict[str, Quote] | None], None] | None = None,
                 previous: Mapping[str, Quote] | None = None) -> None:
        self._books, self._watch, self._max_depth, self._on_finish = books, watch, max_depth, on_finish
        # the last snapshot's quotes: an unchanged one is reused, so that handing the new ones to
        # the spike detector frees nothing for the (many) quiet markets
        self._previous: Mapping[str, Quote] = previous or {}
        self.snapshot_ts, self.trigger = snapshot_ts, trigger
        # the builder's own lists and values, not copies (nothing big is allocated per snapshot: the
        # garbage collector would traverse it); only the first ``len(tickers)`` markets are built
        self._tickers, self._infos, self._values = tickers, infos, values
        self._count = len(tickers)
        self._old_values: dict[str, Values] = {}  # values as they were at snapshot_ts, once changed
        self._captured: dict[str, _BookState | None] = {}
        self._pos = 0
        self._watching = False
        self._market_chunks: list[pa.Table] = []
        self._reference: dict[str, Quote] = {}
        self._chunks: list[pa.Table] = []
        self._pending = _Pending(0)  # read, not in a chunk yet
        self.levels = 0  # level rows read so far

    def __len__(self) -> int:
        return self._count

    @property
    def done(self) -> bool:
        return self._pos >= self._count

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

    def before_value(self, ticker: str) -> None:
        """A market's ticker values are about to change (or go): keep the ones at snapshot_ts."""
        if ticker not in self._old_values:
            self._old_values[ticker] = self._values.get(ticker, _EMPTY_VALUES)

    def _capture(self, ticker: str) -> None:
        self._captured[ticker] = _copy_book(self._books.get(ticker))

    def step(self, max_markets: int, max_levels: int = 0) -> bool:
        """Build up to ``max_markets`` more markets (stopping early once ``max_levels`` > 0 level rows
        are read); True when every market is built.

        A step reads its books' levels into numpy at once (no level dict is held past it) and keeps
        the market rows' values in lists; the Arrow tables are made for many steps at once, in a
        step of their own (no market built) once :data:`EMIT_LEVELS` levels or :data:`EMIT_MARKETS`
        markets wait: Arrow's fixed cost per call was most of the time of a 0.5 ms step."""
        pending = self._pending
        if pending.levels >= EMIT_LEVELS or self._pos - pending.start >= EMIT_MARKETS:
            self._emit()
        else:
            self._build(pending, max_markets, max_levels)
        return self.done

    def _build(self, pending: _Pending, max_markets: int, max_levels: int) -> None:
        """The markets of one step. Allocates as little as it can per market (its reference quote if
        it changed; the sides go into flat lists): what it allocates drives the GC's passes."""
        add_ticker, add_name = pending.side_tickers.append, pending.side_names.append
        side_levels: list[dict[int, int]] = []
        add_levels = side_levels.append
        bids, asks, lasts, volumes, interests, bid_sizes, ask_sizes = (column.append for column in pending.quotes)
        add_valid, reference, previous_of = pending.valids.append, self._reference, self._previous.get
        get_book, captured, values_of, old_values = self._books.lookup, self._captured, self._values.get, self._old_values
        levels, first = 0, self._pos
        pos, stop = first, min(self._count, first + max_markets)
        for ticker in self._tickers[first:stop]:
            pos += 1
            values = old_values.get(ticker) if old_values else None
            if values is None:
                values = values_of(ticker, _EMPTY_VALUES)
            state = captured.get(ticker, _LIVE) if captured else _LIVE
            if state is _LIVE:
                book = get_book(ticker)
                state = (book.top(), book.yes_bids, book.no_bids) if book is not None and book.valid else None
            if state is not None:
                (yes_bid, yes_ask, yes_bid_size, yes_ask_size), yes_bids, no_bids = state
                if yes_bids:
                    add_ticker(ticker)
                    add_name(_YES)
                    add_levels(yes_bids)
                if no_bids:
                    add_ticker(ticker)
                    add_name(_NO)
                    add_levels(no_bids)
                levels += len(yes_bids) + len(no_bids)
            else:
                yes_bid, yes_ask, _, _, _, yes_bid_size, yes_ask_size = values
            add_valid(state is not None)
            bids(yes_bid)
            asks(yes_ask)
            lasts(values[2])
            volumes(values[3])
            interests(values[4])
            bid_sizes(yes_bid_size)
            ask_sizes(yes_ask_size)
            quote = previous_of(ticker)
            if quote is None or quote[0] != yes_bid or quote[1] != yes_ask or quote[2] != values[2]:
                quote = (yes_bid, yes_ask, values[2])
            reference[ticker] = quote
            if max_levels and levels >= max_levels:
                break
        self._read(first, pos, side_levels)

    def _read(self, start: int, stop: int, side_levels: list[dict[int, int]]) -> None:
        """The step's levels into the pending numpy columns; its books are no longer watched."""
        self._pos = stop
        self.levels += self._pending.read_levels(side_levels, self._max_depth)
        if self._watching:
            self._books.capture.done.update(self._tickers[start:stop])

    def _emit(self) -> None:
        """The pending markets and levels as one Arrow chunk each."""
        pending, self._pending = self._pending, _Pending(self._pos)
        if pending.valids:
            self._market_chunks.append(pending.market_table(self.snapshot_ts, self.trigger,
                                                            self._tickers, self._infos, self._pos))
        if pending.levels:
            self._chunks.append(pending.orderbook_table(self.snapshot_ts))

    def finish(self) -> Snapshot:
        """The snapshot (every market must be built); stops the capture."""
        if not self.done:
            raise RuntimeError(f"snapshot finished after {self._pos} of {self._count} markets")
        self._emit()
        self.abort()
        if self._on_finish is not None:
            self._on_finish(self._reference)
        return Snapshot(_concat(self._market_chunks, MARKET_SNAPSHOTS), _concat(self._chunks, ORDERBOOK_SNAPSHOTS))

    def abort(self) -> None:
        """Stop capturing (a cancelled snapshot leaves no hook behind); idempotent."""
        if self._watching:
            self._books.capture.stop()
            self._watching = False
        self._captured.clear()
        if self._on_finish is not None:
            self._on_finish(None)


class _Pending:
    """What the steps since the last emit read: market rows (Python values, which nothing changes)
    and levels (numpy columns, read out of the level dicts by the step that reached them)."""

    __slots__ = ("start", "quotes", "valids", "side_tickers", "side_names", "counts", "micros", "centi", "levels")

    def __init__(self, start: int) -> None:
        self.start = start  # the first market of these rows (the builder's list index)
        self.quotes: list[list[float | None]] = [[], [], [], [], [], [], []]  # bid ask last vol oi bid_size ask_size
        self.valids: list[bool] = []
        self.side_tickers: list[str] = []
        self.side_names: list[str] = []
        self.counts: list[np.ndarray] = []
        self.micros: list[np.ndarray] = []
        self.centi: list[np.ndarray] = []
        self.levels = 0

    def read_levels(self, books: list[dict[int, int]], depth: int) -> int:
        """Append one step's level dicts (parallel to the side lists) as numpy; returns the count."""
        if not books:
            return 0
        if depth:
            books = [_best_levels(levels, depth) for levels in books]
        counts = np.fromiter(map(len, books), np.int64, len(books))
        total = int(counts.sum())
        self.counts.append(counts)
        self.micros.append(np.fromiter(chain.from_iterable(books), np.int64, total))
        self.centi.append(np.fromiter(chain.from_iterable(map(dict.values, books)), np.int64, total))
        self.levels += total
        return total

    def market_table(self, snapshot_ts: int, trigger: str, tickers: list[str],
                     infos: list[tuple[str | None, str | None]], stop: int) -> pa.Table:
        """These markets' rows as Arrow columns (schema order), converted as the row path would."""
        n = len(self.valids)
        events, subtitles = zip(*infos[self.start : stop], strict=True)
        yes_bid, yes_ask, last, volume, interest, bid_size, ask_size = (
            pa.array(column, pa.float64()) for column in self.quotes)
        return pa.Table.from_arrays(
            [pa.repeat(pa.scalar(snapshot_ts, TS), n), pa.array(events, pa.string()),
             pa.array(tickers[self.start : stop], pa.string()), pa.array(subtitles, pa.string()),
             yes_bid, yes_ask, last, volume, interest, pa.repeat(pa.scalar(trigger, pa.string()), n),
             bid_size, ask_size, pa.array(self.valids, pa.bool_())],
            schema=MARKET_SNAPSHOTS,
        )

    def orderbook_table(self, snapshot_ts: int) -> pa.Table:
        """The levels as Arrow columns; ticker and side expand from runs in C."""
        run_ends = pa.array(np.cumsum(_joined(self.counts)).astype(np.int32))
        # int64 -> float64 is exact below 2**53 and the division is correctly rounded: the same float
        # that dollars_to_cents("0.2900") or fp_to_contracts("12.34") gives.
        price_cents = pa.array(_joined(self.micros) / float(MICROS_PER_CENT))
        contracts = pa.array(_joined(self.centi) / float(CENTI_PER_CONTRACT))
        tickers = pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(run_ends, pa.array(self.side_tickers, pa.string())))
        sides = pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(run_ends, pa.array(self.side_names, pa.string())))
        return pa.Table.from_arrays([pa.repeat(pa.scalar(snapshot_ts, TS), self.levels), tickers, sides,
                                     price_cents, contracts], schema=ORDERBOOK_SNAPSHOTS)


def _joined(pieces: list[np.ndarray]) -> np.ndarray:
    """One array of the steps' pieces (no copy for one piece: a snapshot built in one go)."""
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _concat(chunks: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not chunks:
        return schema.empty_table()
    return chunks[0] if len(chunks) == 1 else pa.concat_tables(chunks)


def _best_levels(levels: dict[int, int], depth: int) -> dict[int, int]:
    if 0 < depth < len(levels):
        return {price: levels[price] for price in heapq.nlargest(depth, levels)}
    return levels
