"""Local order books rebuilt from Kalshi's ``orderbook_snapshot`` + ``orderbook_delta`` stream.

Kalshi's book holds **bids only**, on two sides: YES bids and NO bids, each in its own terms (we
subscribe with ``use_yes_price=false``). A NO bid at ``p`` cents is a YES ask at ``100 - p``, so
the best YES ask is ``100 - best NO bid`` and the book is *crossed* when
``best YES bid + best NO bid >= 100`` (such orders would have matched).

Units. Everything handed in or out of a book is in **cents** (float: whole cents and sub-penny
``1.5`` are exact) and **contracts** (float). Inside, both are integers, so that a day of deltas
sums exactly and a level that should empty reaches exactly 0 (``0.1 + 0.2 - 0.3`` is not 0 in
floats: that would leave phantom levels or report false negatives):

* prices are keyed in **micro-dollars** (millionths of a dollar: Kalshi quotes up to 6 decimals,
  ``"0.2900"`` -> ``290_000``; 1 cent = 10_000);
* quantities are **hundredths of a contract** (Kalshi counts have 2 decimals, ``"12.34"`` -> 1234).

Validity is explicit: a book becomes valid only by applying a snapshot; a negative level, a crossed
book, an unparseable number, a sequence gap or a disconnect make it invalid, after which its deltas
are ignored (the collector's tape still records them) until the next snapshot. Invalid books are
never handed out as valid: the snapshot builder writes no levels for them.

This module is pure (no I/O, no clock). It is also the WebSocket hot path: the delta path is a
handful of dict operations with memoised string conversions and nothing allocated per delta
(``bench/bench_book.py`` measures it).
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Literal, NamedTuple

from kalshi_collector.kalshi.messages import OrderbookDelta, OrderbookSnapshot
from kalshi_collector.kalshi.numbers import CENTI_MEMO as _CENTI  # the converters' memo tables
from kalshi_collector.kalshi.numbers import PRICE_MICROS_MEMO as _MICROS
from kalshi_collector.kalshi.numbers import BadNumber, centi_contracts, price_micros

__all__ = [
    "BookCapture",
    "BookStatus",
    "OrderBook",
    "BookStore",
    "LevelDiff",
    "Side",
    "MICROS_PER_CENT",
    "CENTI_PER_CONTRACT",
]

Side = Literal["yes", "no"]
MICROS_PER_CENT = 10_000
CENTI_PER_CONTRACT = 100
_ONE_DOLLAR = 100 * MICROS_PER_CENT
_EMPTY = -1  # "no best price" sentinel: keeps the crossed test a single addition


class BookStatus(enum.Enum):
    """What applying one message did to its book; everything except APPLIED needs the caller."""

    APPLIED = "applied"
    # No valid book for this market (never snapshotted, or invalidated): the delta was ignored.
    NOT_READY = "not_ready"
    # A level went below zero: a delta was missed. The book is now invalid; resync it.
    NEGATIVE = "negative"
    # Best YES bid + best NO bid >= 100: impossible on a live exchange. Book invalid; resync it.
    CROSSED = "crossed"
    # A price or size string that cannot be parsed exactly. Book invalid; resync it.
    BAD_VALUE = "bad_value"


APPLIED = BookStatus.APPLIED
NOT_READY = BookStatus.NOT_READY
NEGATIVE = BookStatus.NEGATIVE
CROSSED = BookStatus.CROSSED
BAD_VALUE = BookStatus.BAD_VALUE


class LevelDiff(NamedTuple):
    """One price level where our book and a REST orderbook disagree (quantities in contracts)."""

    side: Side
    price_cents: float
    ours: float | None
    theirs: float | None


def cents_to_micros(price_cents: float) -> int:
    """Exact inverse of ``micros / MICROS_PER_CENT`` for any price Kalshi can quote."""
    scaled = float(price_cents) * MICROS_PER_CENT
    micros = round(scaled)
    if abs(scaled - micros) > 1e-6 or not 0 < micros < _ONE_DOLLAR:
        raise ValueError(f"price {price_cents!r}c is not a Kalshi price in (0, 100) cents")
    return micros


def contracts_to_centi(contracts: float) -> int:
    """Exact inverse of ``centi / CENTI_PER_CONTRACT`` for any two-decimal count."""
    scaled = float(contracts) * CENTI_PER_CONTRACT
    centi = round(scaled)
    if abs(scaled - centi) > 1e-6:
        raise ValueError(f"{contracts!r} contracts is not a whole number of hundredths")
    return centi


class OrderBook:
    """One market's book.

    ``yes_bids`` / ``no_bids`` map price (micro-dollars, int) to quantity (hundredths of a
    contract, int). They are readable (the snapshot builder reads them in bulk) but never write them
    from outside: use the apply methods.
    """

    __slots__ = ("ticker", "yes_bids", "no_bids", "_best_yes", "_best_no", "valid", "invalid_reason", "sid",
                 "_doubted")

    def __init__(self, ticker: str, doubted: set[str] | None = None) -> None:
        """``doubted``: the set of tickers whose book is not valid, kept by a :class:`BookStore`
        for all its books (this book's ticker is in it exactly while ``valid`` is False)."""
        self.ticker = ticker
        self._doubted = doubted if doubted is not None else set()
        self._doubted.add(ticker)
        self.yes_bids: dict[int, int] = {}
        self.no_bids: dict[int, int] = {}
        self._best_yes = _EMPTY
        self._best_no = _EMPTY
        self.valid = False
        self.invalid_reason: str | None = "no snapshot yet"
        self.sid: int | None = None  # subscription that delivered the last snapshot

    # --- applying ------------------------------------------------------------------------------------

    def apply_snapshot(
        self, yes_levels: Iterable[tuple[float, float]], no_levels: Iterable[tuple[float, float]]
    ) -> BookStatus:
        """Replace the book with ``(price_cents, contracts)`` levels (any order). Valid afterwards
        unless a level is unusable (BAD_VALUE) or the book is crossed (CROSSED)."""
        try:
            yes = {cents_to_micros(p): contracts_to_centi(q) for p, q in yes_levels}
            no = {cents_to_micros(p): contracts_to_centi(q) for p, q in no_levels}
        except ValueError as exc:
            self._clear(f"bad snapshot level: {exc}")
            return BAD_VALUE
        return self._load(yes, no)

    def apply_delta(self, side: Side, price_cents: float, delta: float) -> BookStatus:
        """Add ``delta`` contracts (signed) at ``price_cents`` on ``side``; see :class:`BookStatus`."""
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', not {side!r}")
        if not self.valid:
            return NOT_READY
        try:
            price = cents_to_micros(price_cents)
            centi = contracts_to_centi(delta)
        except ValueError as exc:
            self.invalidate(f"bad delta: {exc}")
            return BAD_VALUE
        return self._change(side == "yes", price, centi)

    def _clear(self, reason: str) -> None:
        """Drop all levels of an unusable snapshot: the old ones are no truer than the new ones."""
        self.yes_bids, self.no_bids = {}, {}
        self._best_yes = self._best_no = _EMPTY
        self.valid = False
        self.invalid_reason = reason
        self._doubted.add(self.ticker)

    def _load(self, yes: dict[int, int], no: dict[int, int]) -> BookStatus:
        if any(q <= 0 for q in yes.values()) or any(q <= 0 for q in no.values()):
            self._clear("snapshot has a level with zero or negative quantity")
            return BAD_VALUE
        self.yes_bids = yes
        self.no_bids = no
        self._best_yes = max(yes, default=_EMPTY)
        self._best_no = max(no, default=_EMPTY)
        if self._best_yes + self._best_no >= _ONE_DOLLAR:
            self.invalidate(f"snapshot crossed: {self._describe_top()}")
            return CROSSED
        self.valid = True
        self.invalid_reason = None
        self._doubted.discard(self.ticker)
        return APPLIED

    def _change(self, is_yes: bool, price: int, delta: int) -> BookStatus:
        """Any delta, in internal units. :meth:`BookStore.apply_delta` inlines the common case."""
        levels = self.yes_bids if is_yes else self.no_bids
        qty = levels.get(price, 0) + delta
        if qty > 0:
            levels[price] = qty
            if price > (self._best_yes if is_yes else self._best_no):
                return self._raise_best(is_yes, price)
            return APPLIED
        if qty == 0:
            if levels.pop(price, None) is not None:
                if is_yes:
                    if price == self._best_yes:
                        self._best_yes = max(levels, default=_EMPTY)
                elif price == self._best_no:
                    self._best_no = max(levels, default=_EMPTY)
            return APPLIED
        side = "yes" if is_yes else "no"
        had = (qty - delta) / CENTI_PER_CONTRACT
        self.invalidate(
            f"{side} level {price / MICROS_PER_CENT:g}c would go negative "
            f"({had:g} {delta / CENTI_PER_CONTRACT:+g} contracts)"
        )
        return NEGATIVE

    def _raise_best(self, is_yes: bool, price: int) -> BookStatus:
        """A bid above the best one on its side: the only moment the book can become crossed."""
        if is_yes:
            self._best_yes = price
        else:
            self._best_no = price
        if self._best_yes + self._best_no >= _ONE_DOLLAR:
            self.invalidate(f"crossed: {self._describe_top()}")
            return CROSSED
        return APPLIED

    def _describe_top(self) -> str:
        return (
            f"yes bid {self._best_yes / MICROS_PER_CENT:g}c + no bid {self._best_no / MICROS_PER_CENT:g}c >= 100c"
        )

    def invalidate(self, reason: str) -> None:
        """Stop trusting this book until the next snapshot (the first reason is kept, for the log)."""
        if self.valid or self.invalid_reason is None:
            self.invalid_reason = reason
        self.valid = False
        self._doubted.add(self.ticker)

    # --- reading (cents and contracts) ---------------------------------------------------------------

    @property
    def best_yes_bid(self) -> float | None:
        return None if self._best_yes < 0 else self._best_yes / MICROS_PER_CENT

    @property
    def best_no_bid(self) -> float | None:
        return None if self._best_no < 0 else self._best_no / MICROS_PER_CENT

    @property
    def best_yes_ask(self) -> float | None:
        """``100 - best NO bid``; ``None`` when nobody bids NO."""
        return None if self._best_no < 0 else (_ONE_DOLLAR - self._best_no) / MICROS_PER_CENT

    @property
    def best_yes_bid_size(self) -> float | None:
        return None if self._best_yes < 0 else self.yes_bids[self._best_yes] / CENTI_PER_CONTRACT

    @property
    def best_yes_ask_size(self) -> float | None:
        """Contracts offered at the best YES ask = size of the best NO bid."""
        return None if self._best_no < 0 else self.no_bids[self._best_no] / CENTI_PER_CONTRACT

    @property
    def crossed(self) -> bool:
        return self._best_yes + self._best_no >= _ONE_DOLLAR

    def top(self) -> tuple[float | None, float | None, float | None, float | None]:
        """``(yes_bid, yes_ask, yes_bid_size, yes_ask_size)`` in one call: a snapshot row's quote.
        ``None`` for an empty side."""
        by, bn = self._best_yes, self._best_no
        if by < 0:
            yes_bid = yes_bid_size = None
        else:
            yes_bid, yes_bid_size = by / MICROS_PER_CENT, self.yes_bids[by] / CENTI_PER_CONTRACT
        if bn < 0:
            yes_ask = yes_ask_size = None
        else:
            yes_ask, yes_ask_size = (_ONE_DOLLAR - bn) / MICROS_PER_CENT, self.no_bids[bn] / CENTI_PER_CONTRACT
        return yes_bid, yes_ask, yes_bid_size, yes_ask_size

    def _side(self, side: Side) -> dict[int, int]:
        if side == "yes":
            return self.yes_bids
        if side == "no":
            return self.no_bids
        raise ValueError(f"side must be 'yes' or 'no', not {side!r}")

    def levels(self, side: Side, depth: int = 0) -> list[tuple[float, float]]:
        """``(price_cents, contracts)`` bids of ``side``, **best first** (highest price first);
        ``depth`` 0 = all levels. NO-side prices are in NO terms, as Kalshi and REST give them."""
        levels = self._side(side)
        prices = heapq.nlargest(depth, levels) if 0 < depth < len(levels) else sorted(levels, reverse=True)
        return [(p / MICROS_PER_CENT, levels[p] / CENTI_PER_CONTRACT) for p in prices]

    def diff_rest(self, rest: Mapping[str, Sequence[Sequence[float]]], depth: int = 0) -> list[LevelDiff]:
        """Levels that differ from a REST orderbook ``{"yes": [[cents, contracts], ...], "no": [...]}``
        (any order, e.g. REST's ascending). With ``depth`` > 0 only the best ``depth`` levels of each
        side are compared, for a REST call made with ``?depth=``. Empty list = identical.

        Compared exactly: both sides are correctly rounded from the same decimal strings."""
        diffs: list[LevelDiff] = []
        side: Side
        for side in ("yes", "no"):
            theirs = {float(p): float(q) for p, q in rest.get(side, ())}
            if depth > 0:
                theirs = {p: theirs[p] for p in heapq.nlargest(depth, theirs)}
            ours = dict(self.levels(side, depth))
            for price in sorted(ours.keys() | theirs.keys(), reverse=True):
                mine, other = ours.get(price), theirs.get(price)
                if mine != other:
                    diffs.append(LevelDiff(side, price, mine, other))
        return diffs

    def matches_rest(self, rest: Mapping[str, Sequence[Sequence[float]]], depth: int = 0) -> bool:
        return not self.diff_rest(rest, depth)

    def __repr__(self) -> str:
        state = "valid" if self.valid else f"invalid: {self.invalid_reason}"
        return (
            f"OrderBook({self.ticker!r}, {state}, yes_bid={self.best_yes_bid}, yes_ask={self.best_yes_ask}, "
            f"levels={len(self.yes_bids)}/{len(self.no_bids)})"
        )


class BookCapture:
    """Copy-on-write for a snapshot built in chunks while the read loop goes on applying messages.

    While a snapshot is in progress (``on``), ``watched`` holds the tickers it reads and ``done``
    the ones it has read (or captured) already. Before :class:`BookStore` changes a watched book
    not done yet (a delta, a snapshot, an invalidation, a removal) it calls :meth:`before_change`,
    which hands the ticker to the snapshot's ``on_change`` (that reads the book as it still is, i.e.
    as it was at ``snapshot_ts``). With no snapshot in progress the delta path pays one attribute
    test (``on``). Starting costs nothing per market: ``watched`` is the snapshot builder's set,
    kept up to date as the market list changes, not built per snapshot.
    """

    __slots__ = ("on", "watched", "done", "_on_change")

    _NONE: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.on = False
        self.watched: set[str] | frozenset[str] = self._NONE
        self.done: set[str] = set()
        self._on_change: Callable[[str], None] | None = None

    def start(self, watched: set[str] | frozenset[str], on_change: Callable[[str], None]) -> None:
        """Watch ``watched`` until :meth:`stop`; ``on_change(ticker)`` runs before a watched book changes."""
        if self.on:
            raise RuntimeError("a snapshot capture is already in progress")
        self.watched, self._on_change = watched, on_change
        self.done.clear()
        self.on = True

    def stop(self) -> None:
        self.on = False
        self.watched, self._on_change = self._NONE, None
        self.done.clear()

    def before_change(self, ticker: str) -> None:
        if ticker in self.watched and ticker not in self.done:
            self.done.add(ticker)
            if self._on_change is not None:
                self._on_change(ticker)

    def before_all(self) -> None:
        """Every watched book is about to change (a disconnect): capture them all now."""
        if self.on:
            for ticker in list(self.watched):
                self.before_change(ticker)


def _delta_applier(books: dict[str, OrderBook], capture: BookCapture) -> Callable[[OrderbookDelta], BookStatus]:
    """Build :meth:`BookStore.apply_delta` as a closure over the store's dict and the memo tables.

    This is the hottest function of the collector. Everything it touches is a closure cell or a
    local (no ``self.`` or global lookups), the memos are read by subscript (no call), and the
    common case (a level that stays positive) is inlined; rarer cases go to ``OrderBook._change``.
    Each of those choices is worth a few percent in ``bench/bench_book.py``. The snapshot capture
    (:class:`BookCapture`) costs one attribute test here when no snapshot is running.
    """
    get_book = books.get
    before_change = capture.before_change
    prices = _MICROS
    centis = _CENTI
    applied, not_ready, bad_value = APPLIED, NOT_READY, BAD_VALUE

    def apply_delta(msg: OrderbookDelta) -> BookStatus:
        """Apply one ``orderbook_delta``; see :class:`BookStatus` for what the result asks of you."""
        body = msg.msg
        book = get_book(body.market_ticker)
        if book is None or not book.valid:
            return not_ready
        if capture.on:  # a snapshot is being built: let it read this book before it changes
            before_change(body.market_ticker)
        try:
            price = prices[body.price_dollars]
            delta = centis[body.delta_fp]
        except KeyError:  # first sight of this string: exact conversion (and memoised from now on)
            try:
                price = price_micros(body.price_dollars)
                delta = centi_contracts(body.delta_fp)
            except BadNumber as exc:
                book.invalidate(f"bad delta number: {exc}")
                return bad_value
        if body.side == "yes":
            levels = book.yes_bids
            qty = levels.get(price, 0) + delta
            if qty > 0:
                levels[price] = qty
                if price > book._best_yes:
                    return book._raise_best(True, price)
                return applied
            return book._change(True, price, delta)
        levels = book.no_bids
        qty = levels.get(price, 0) + delta
        if qty > 0:
            levels[price] = qty
            if price > book._best_no:
                return book._raise_best(False, price)
            return applied
        return book._change(False, price, delta)

    return apply_delta


class BookStore:
    """All books by market ticker, fed with decoded messages.

    ``apply_delta`` / ``apply_snapshot`` / ``apply`` return a :class:`BookStatus`; on NEGATIVE,
    CROSSED or BAD_VALUE the book is already invalid and the caller should ask Kalshi for a fresh
    snapshot (``update_subscription`` ``get_snapshot``); NOT_READY means the delta was ignored
    because no valid book exists (one is presumably being re-requested).
    """

    __slots__ = ("_books", "_doubted", "apply_delta", "capture")

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        self._doubted: set[str] = set()  # the tickers of books not valid, kept by the books themselves
        # a snapshot in progress reads the books it has not reached yet before they change
        self.capture = BookCapture()
        # apply_delta(msg) is a closure over this store's dict rather than a method: it is the
        # hottest call of the collector (see _delta_applier).
        self.apply_delta: Callable[[OrderbookDelta], BookStatus] = _delta_applier(self._books, self.capture)

    # --- messages ------------------------------------------------------------------------------------

    def apply(self, msg: OrderbookSnapshot | OrderbookDelta) -> BookStatus:
        if type(msg) is OrderbookDelta:
            return self.apply_delta(msg)
        if type(msg) is OrderbookSnapshot:
            return self.apply_snapshot(msg)
        raise TypeError(f"BookStore applies orderbook messages only, not {type(msg).__name__}")

    def apply_snapshot(self, msg: OrderbookSnapshot) -> BookStatus:
        """Replace the market's book (creating it on first sight); valid afterwards if usable."""
        body = msg.msg
        if self.capture.on:
            self.capture.before_change(body.market_ticker)
        book = self._books.get(body.market_ticker)
        if book is None:
            book = self._books[body.market_ticker] = OrderBook(body.market_ticker, self._doubted)
        book.sid = msg.sid
        try:
            yes = {price_micros(p): centi_contracts(q) for p, q in body.yes_dollars_fp}
            no = {price_micros(p): centi_contracts(q) for p, q in body.no_dollars_fp}
        except BadNumber as exc:
            book._clear(f"bad snapshot number: {exc}")
            return BAD_VALUE
        return book._load(yes, no)

    # --- lookup and lifecycle ------------------------------------------------------------------------

    def get(self, ticker: str) -> OrderBook | None:
        return self._books.get(ticker)

    @property
    def lookup(self) -> Callable[[str], OrderBook | None]:
        """:meth:`get` as the dict's own method, for a loop over many markets (the snapshot's): no
        Python call per lookup."""
        return self._books.get

    def __contains__(self, ticker: object) -> bool:
        return ticker in self._books

    def __len__(self) -> int:
        return len(self._books)

    def __iter__(self) -> Iterator[OrderBook]:
        return iter(self._books.values())

    def is_valid(self, ticker: str) -> bool:
        book = self._books.get(ticker)
        return book is not None and book.valid

    def not_valid(self, tickers: Iterable[str]) -> list[str]:
        """Those of ``tickers`` without a valid book, sorted. The resync retry asks this of every
        tracked market every second (20,000 at scale, in one loop turn): set operations in C over
        the store's set of doubted books, no Python step per market (a loop over the books held
        the read loop for ~2 ms a lane)."""
        wanted = tickers if isinstance(tickers, (set, frozenset)) else set(tickers)
        return sorted(wanted.intersection(self._doubted).union(wanted.difference(self._books)))

    def all_valid(self, tickers: Collection[str]) -> bool:
        """Whether ``tickers`` is not empty and each has a valid book (stops at the first that has not)."""
        get = self._books.get
        return bool(tickers) and all((book := get(t)) is not None and book.valid for t in tickers)

    def valid_count(self) -> int:
        return sum(1 for b in self._books.values() if b.valid)

    def invalidate(self, tickers: Iterable[str], reason: str) -> list[str]:
        """Mark these books stale (e.g. before ``get_snapshot``); returns those that were valid."""
        was_valid = []
        capture = self.capture
        for ticker in tickers:
            if capture.on:
                capture.before_change(ticker)
            book = self._books.get(ticker)
            if book is not None:
                if book.valid:
                    was_valid.append(ticker)
                book.invalidate(reason)
        return was_valid

    def tickers_for_sid(self, sid: int) -> list[str]:
        """Markets whose last snapshot came on subscription ``sid`` (what a gap on ``sid`` spoils)."""
        return [b.ticker for b in self._books.values() if b.sid == sid]

    def invalidate_sid(self, sid: int, reason: str) -> list[str]:
        """Invalidate every book fed by ``sid``; returns all their tickers, to re-request snapshots."""
        tickers = self.tickers_for_sid(sid)
        self.invalidate(tickers, reason)
        return tickers

    def invalidate_all(self, reason: str) -> None:
        """On disconnect: nothing is known any more until the new connection's snapshots arrive."""
        self.capture.before_all()
        for book in self._books.values():
            book.invalidate(reason)

    def remove(self, ticker: str) -> None:
        """Forget a market (no longer tracked, settled)."""
        if self.capture.on:
            self.capture.before_change(ticker)
        self._books.pop(ticker, None)
        self._doubted.discard(ticker)
