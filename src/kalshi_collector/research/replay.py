"""Replaying a market's book from the recorded tape: pure, no I/O.

The tape (``orderbook_deltas``) holds every ``orderbook_snapshot`` level and every
``orderbook_delta`` exactly as received, in receive order. The book at time T (the collector's
receive clock) is the last snapshot message received at or before T plus every delta received
after it, on the same connection, up to T. The ledger (``book_events``) says whether it can be
trusted: a gap, duplicate, reorder, disconnect, crossed/negative book, bad value or REST mismatch on
the market (or on its whole subscription) after the snapshot means the collector itself did not
trust its book from then until the next snapshot, and neither does the replay (``valid=False``).

:func:`tape_messages` turns tape rows into messages, :func:`break_events` ledger rows into the
events that matter, :class:`BookReplayer` applies them one at a time, and :func:`states` turns a
time-ordered stream of them into :class:`~kalshi_collector.research.records.BookState` records:
one per change, or one every N. ``kalshi-collector replay``, :mod:`kalshi_collector.live.replay`
and the research API (:mod:`kalshi_collector.research.books`) all go through here.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.book import cents_to_micros, contracts_to_centi
from kalshi_collector.research.records import TAPE, BookState, Level

__all__ = [
    "BREAK_ACTIONS",
    "SnapshotMessage",
    "DeltaMessage",
    "BreakEvent",
    "FullBook",
    "BookReplayer",
    "tape_messages",
    "break_events",
    "merge_messages",
    "states",
    "to_micros",
]

# book_events actions after which a book is not trusted until the next snapshot.
BREAK_ACTIONS = frozenset(
    {"gap", "duplicate", "out_of_order", "disconnect", "stopped", "negative", "crossed", "bad_value", "rest_mismatch"}
)
_NO_SNAPSHOT = "no orderbook snapshot recorded before that time"
_TAPE_ORDER = ("recv_ts", "conn", "sid", "seq")


@dataclass(frozen=True, slots=True)
class SnapshotMessage:
    """One ``orderbook_snapshot`` message: all its tape rows (prices in micros, sizes in centi)."""

    ts_us: int
    conn: int | None
    sid: int | None
    yes: dict[int, int]
    no: dict[int, int]
    bad: str | None = None  # a level we could not read exactly: the book is not usable


@dataclass(frozen=True, slots=True)
class DeltaMessage:
    """One ``orderbook_delta``: ``change_centi`` (signed) at ``price_micros`` on one side."""

    ts_us: int
    conn: int | None
    is_yes: bool
    price_micros: int
    change_centi: int
    exchange_us: int | None


@dataclass(frozen=True, slots=True)
class BreakEvent:
    """A ``book_events`` row that breaks trust in a book (its market, or its whole sid when null)."""

    ts_us: int
    action: str
    market_ticker: str | None
    sid: int | None


@dataclass(frozen=True, slots=True)
class FullBook:
    """A whole book from ``orderbook_snapshots`` (the original collector's data, reconstructed)."""

    ts_us: int
    yes: dict[int, int]
    no: dict[int, int]
    reason: str


Message = SnapshotMessage | DeltaMessage | BreakEvent | FullBook


def to_micros(column: pa.ChunkedArray | pa.Array) -> list[int | None]:
    """A timestamp column as epoch microseconds (UTC), whatever its unit."""
    return pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False), pa.int64()).to_pylist()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(us: int) -> datetime:
    """Epoch microseconds as a UTC datetime, exactly (a tenth of the cost of a pandas Timestamp)."""
    return _EPOCH + timedelta(microseconds=us)


@dataclass
class BookReplayer:
    """One market's book, moved on one message at a time; :meth:`state` reads it out."""

    ticker: str
    source: str = TAPE
    yes: dict[int, int] = field(default_factory=dict)
    no: dict[int, int] = field(default_factory=dict)
    valid: bool = False
    reason: str = _NO_SNAPSHOT
    snapshot_us: int | None = None
    conn: int | None = None
    sid: int | None = None
    deltas_applied: int = 0
    exchange_us: int | None = None
    # each side's levels as last handed out; None once that side changed (a delta touches one side)
    _yes_levels: tuple[Level, ...] | None = field(default=None, repr=False)
    _no_levels: tuple[Level, ...] | None = field(default=None, repr=False)
    _made: dict[tuple[int, int], Level] = field(default_factory=dict, repr=False)

    def apply(self, message: Message) -> bool:
        """Apply one message; whether the book or its validity changed."""
        if isinstance(message, DeltaMessage):
            return self._delta(message)
        if isinstance(message, BreakEvent):
            return self._break(message)
        self._yes_levels = self._no_levels = None
        if isinstance(message, SnapshotMessage):
            return self._snapshot(message)
        self.yes, self.no, self.snapshot_us = dict(message.yes), dict(message.no), message.ts_us
        self.valid, self.reason = True, message.reason
        return True

    def _snapshot(self, m: SnapshotMessage) -> bool:
        self.yes, self.no = dict(m.yes), dict(m.no)
        self.snapshot_us, self.conn, self.sid = m.ts_us, m.conn, m.sid
        self.deltas_applied, self.exchange_us = 0, None
        if m.bad:
            self.yes, self.no = {}, {}
            self.valid, self.reason = False, f"snapshot at {_ts(m.ts_us)} unreadable: {m.bad}"
        else:
            self.valid, self.reason = True, "snapshot plus every delta after it"
        return True

    def _delta(self, m: DeltaMessage) -> bool:
        if self.snapshot_us is None or m.conn != self.conn:
            return False  # before any snapshot, or on another connection: not part of this book
        if m.is_yes:
            levels, self._yes_levels = self.yes, None
        else:
            levels, self._no_levels = self.no, None
        qty = levels.get(m.price_micros, 0) + m.change_centi
        if qty > 0:
            levels[m.price_micros] = qty
        else:
            levels.pop(m.price_micros, None)
        self.deltas_applied += 1
        if m.exchange_us is not None:
            self.exchange_us = m.exchange_us
        return True

    def _break(self, e: BreakEvent) -> bool:
        concerns = e.market_ticker == self.ticker or (e.market_ticker is None and e.sid in (None, self.sid))
        if not (self.valid and concerns and self.snapshot_us is not None):
            return False
        self.valid = False
        self.reason = f"{e.action} at {_ts(e.ts_us)} after the last snapshot; not trusted until the next one"
        return True

    def state(self, ts_us: int) -> BookState:
        """The book as it stands, stamped ``ts_us``."""
        if self._yes_levels is None:
            self._yes_levels = _levels(self.yes, self._made)
        if self._no_levels is None:
            self._no_levels = _levels(self.no, self._made)
        return BookState(
            ts=_ts(ts_us), ticker=self.ticker, valid=self.valid, reason=self.reason,
            yes=self._yes_levels, no=self._no_levels, source=self.source,
            snapshot_ts=None if self.snapshot_us is None else _ts(self.snapshot_us),
            deltas_applied=self.deltas_applied,
            exchange_ts=None if self.exchange_us is None else _ts(self.exchange_us),
        )


def _levels(book: dict[int, int], made: dict[tuple[int, int], Level]) -> tuple[Level, ...]:
    """The side's levels, best first; ``made`` keeps the Level of each (price, size) seen, so a
    state after one delta makes one new Level, not one per level of the book."""
    out = []
    for price in sorted(book, reverse=True):
        key = (price, book[price])
        level = made.get(key)
        if level is None:
            level = made[key] = Level(price, key[1])
        out.append(level)
    return tuple(out)


def tape_messages(tape: pa.Table) -> Iterator[SnapshotMessage | DeltaMessage]:
    """``orderbook_deltas`` rows of one market as messages, in tape order.

    The rows of one snapshot message share ``recv_ts, conn, sid, seq``; the one row of an empty
    book's snapshot has no side. A delta whose numbers cannot be read exactly is skipped (the
    snapshot that follows the collector's resync repairs the book)."""
    if tape.num_rows == 0:
        return
    tape = tape.take(pc.sort_indices(tape, [(c, "ascending") for c in _TAPE_ORDER if c in tape.column_names]))
    recv, ets = to_micros(tape["recv_ts"]), to_micros(tape["exchange_ts"])
    cols = [tape[c].to_pylist() for c in ("conn", "sid", "seq", "kind", "side", "price_cents", "quantity")]
    pending: list[tuple] = []
    for ts, exchange_us, conn, sid, seq, kind, side, price, qty in zip(recv, ets, *cols, strict=True):
        if pending and (kind != "snapshot" or (ts, conn, sid, seq) != pending[0][:4]):
            yield _snapshot_message(pending)
            pending = []
        if kind == "snapshot":
            pending.append((ts, conn, sid, seq, side, price, qty))
        elif kind == "delta" and side in ("yes", "no"):
            try:
                yield DeltaMessage(ts, conn, side == "yes", cents_to_micros(price), contracts_to_centi(qty), exchange_us)
            except (TypeError, ValueError):
                continue
    if pending:
        yield _snapshot_message(pending)


def _snapshot_message(rows: list[tuple]) -> SnapshotMessage:
    ts, conn, sid, _ = rows[0][:4]
    yes: dict[int, int] = {}
    no: dict[int, int] = {}
    try:
        for *_, side, price, qty in rows:
            if side in ("yes", "no"):
                (yes if side == "yes" else no)[cents_to_micros(price)] = contracts_to_centi(qty)
    except (TypeError, ValueError) as exc:
        return SnapshotMessage(ts, conn, sid, {}, {}, bad=str(exc))
    return SnapshotMessage(ts, conn, sid, yes, no)


def break_events(events: pa.Table, ticker: str) -> list[BreakEvent]:
    """The ``book_events`` rows that can break ``ticker``'s book (its own, and whole-sid ones)."""
    if events.num_rows == 0:
        return []
    rows = zip(to_micros(events["ts"]), events["action"].to_pylist(), events["market_ticker"].to_pylist(),
               events["sid"].to_pylist(), strict=True)
    found = [BreakEvent(ts, action, market, sid) for ts, action, market, sid in rows
             if action in BREAK_ACTIONS and market in (ticker, None)]
    found.sort(key=lambda e: e.ts_us)
    return found


def merge_messages(tape: Iterable[Message], events: Iterable[BreakEvent]) -> Iterator[Message]:
    """Both streams in time order; on a tie the tape message comes first (an event at the very
    instant of a snapshot is taken as after it)."""
    return heapq.merge(tape, events, key=lambda m: m.ts_us)


def states(
    replayer: BookReplayer, messages: Iterable[Message], start_us: int, end_us: int | None, every_us: int | None
) -> Iterator[BookState]:
    """The book as of ``start_us``, then one state per change up to ``end_us`` (``every_us`` None),
    or one state every ``every_us`` after ``start_us`` up to ``end_us`` (each as of that instant)."""
    if every_us is not None and (end_us is None or every_us <= 0):
        raise ValueError("every: a positive interval, with an end time")
    it = iter(messages)
    first: list[Message] = []
    for message in it:
        if message.ts_us > start_us:
            first = [message]
            break
        replayer.apply(message)
    yield replayer.state(start_us)
    rest = chain(first, it)
    if every_us is None:
        for message in rest:
            if end_us is not None and message.ts_us > end_us:
                return
            if replayer.apply(message):
                yield replayer.state(message.ts_us)
        return
    assert end_us is not None
    t = start_us + every_us
    for message in rest:
        while t < message.ts_us and t <= end_us:
            yield replayer.state(t)
            t += every_us
        if t > end_us:
            return
        replayer.apply(message)
    while t <= end_us:
        yield replayer.state(t)
        t += every_us
