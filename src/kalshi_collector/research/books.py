"""Book states of one market over a time range, read from a data folder.

The tape (``orderbook_deltas`` + ``book_events``) is read one UTC day at a time through
:class:`~kalshi_collector.storage.ParquetStorage` (so the catalog's layouts decide which files),
kept to the one market, and replayed by :mod:`kalshi_collector.research.replay`. The replay starts
from the last snapshot at or before ``start``: the days before it are searched back, up to
``max_days_back``.

A market without a tape (data of the original collector, which recorded none) is replayed from
``orderbook_snapshots`` instead: its baseline + delta rows rebuilt into full books by
:func:`~kalshi_collector.storage.reconstruct.replay_snapshots`, one state per snapshot time.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterator
from itertools import chain

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.book import cents_to_micros, contracts_to_centi
from kalshi_collector.errors import UsageError
from kalshi_collector.research.records import SNAPSHOTS, TAPE, BookState
from kalshi_collector.research.replay import (
    BookReplayer,
    FullBook,
    break_events,
    merge_messages,
    states,
    tape_messages,
    to_micros,
)
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.storage.catalog import dataset
from kalshi_collector.storage.layout import LiveDaily
from kalshi_collector.storage.reconstruct import BASELINE, replay_snapshots

__all__ = ["book_states", "book_at", "market_tickers", "last_recorded_day", "UnknownMarketError", "as_utc", "SOURCES"]

SOURCES = ("auto", TAPE, SNAPSHOTS)
_ORIGINAL = "as the original collector recorded it (baseline + delta snapshots; it recorded no validity)"


class UnknownMarketError(UsageError, LookupError):
    """No tape and no order-book snapshot of the market in the data folder (a mistyped ticker?)."""


def as_utc(value: object, what: str = "time") -> pd.Timestamp:
    """A datetime, pandas Timestamp or ISO string as a UTC Timestamp (naive = UTC)."""
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise ValueError(f"{what}: expected a time such as '2026-02-11 18:30' (UTC), got {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _us(ts: pd.Timestamp) -> int:
    return ts.value // 1000


def _every_us(every: object) -> int | None:
    if every is None:
        return None
    if isinstance(every, int | float):
        return round(every * 1_000_000)
    return round(pd.Timedelta(every).total_seconds() * 1_000_000)  # type: ignore[arg-type]


class _MarketDays:
    """One market's rows of a table, a UTC day at a time (each day read once)."""

    def __init__(self, storage: ParquetStorage, kind: str, ticker: str, *, with_unnamed: bool = False) -> None:
        self.storage, self.kind, self.ticker, self.with_unnamed = storage, kind, ticker, with_unnamed
        self._cache: dict[dt.date, pa.Table] = {}

    def days(self, start: dt.date | None, end: dt.date | None) -> list[dt.date]:
        layout = dataset(self.kind).layout
        assert isinstance(layout, LiveDaily), f"{self.kind} is not a live table"
        return layout.days(self.storage.fs, self.storage.root, start, end)

    def take(self, day: dt.date) -> pa.Table:
        """:meth:`rows` of ``day``, forgotten afterwards (a replay reads each day once, in order)."""
        rows = self.rows(day)
        del self._cache[day]
        return rows

    def rows(self, day: dt.date) -> pa.Table:
        if day not in self._cache:
            table = self.storage.read_arrow(self.kind, day, day)
            keep = pc.equal(table["market_ticker"], self.ticker)
            if self.with_unnamed:  # book_events rows about a whole subscription name no market
                keep = pc.or_kleene(keep, pc.is_null(table["market_ticker"]))
            self._cache[day] = table.filter(pc.fill_null(keep, False))
        return self._cache[day]


def book_states(
    storage: ParquetStorage,
    ticker: str,
    start: object,
    end: object | None = None,
    *,
    every: object | None = None,
    source: str = "auto",
    max_days_back: int = 31,
) -> Iterator[BookState]:
    """``ticker``'s book as of ``start``, then at every change up to ``end`` (``None``: the end of
    the data), or, with ``every`` (seconds or a timedelta), one state every ``every`` up to ``end``.

    ``source``: ``"tape"``, ``"snapshots"`` (the original collector's data) or ``"auto"`` (the tape
    where the market has one). :class:`UnknownMarketError` when the folder has neither for it.
    """
    if source not in SOURCES:
        raise ValueError(f"source {source!r}: expected one of {', '.join(SOURCES)}")
    start_ts = as_utc(start, "start")
    end_ts = None if end is None else as_utc(end, "end")
    if end_ts is not None and end_ts < start_ts:
        raise ValueError(f"end {end_ts} is before start {start_ts}")
    every_us = _every_us(every)
    if every_us is not None and (end_ts is None or every_us <= 0):
        raise ValueError(f"every={every!r}: a positive interval, and an end time to stop at")
    window = (start_ts.date() - dt.timedelta(days=max_days_back), None if end_ts is None else end_ts.date())
    tape = _MarketDays(storage, "orderbook_deltas", ticker)
    if source != SNAPSHOTS:
        first = _first_tape_day(tape, start_ts, window)
        if first is not None or source == TAPE:
            messages = _tape_stream(storage, tape, ticker, first or start_ts.date(), window[1])
            return states(BookReplayer(ticker), messages, _us(start_ts), _us_or_none(end_ts), every_us)
    snaps = _MarketDays(storage, "orderbook_snapshots", ticker)
    first = _first_snapshot_day(snaps, start_ts, window)
    if first is None:
        raise UnknownMarketError(no_market_message(storage, ticker, *window))
    messages = _snapshot_stream(snaps, first, window[1])
    return states(BookReplayer(ticker, source=SNAPSHOTS), messages, _us(start_ts), _us_or_none(end_ts), every_us)


def book_at(storage: ParquetStorage, ticker: str, at: object, **options: object) -> BookState:
    """``ticker``'s book at the instant ``at`` (options as :func:`book_states`)."""
    return next(book_states(storage, ticker, at, at, **options))  # type: ignore[arg-type]


def _us_or_none(ts: pd.Timestamp | None) -> int | None:
    return None if ts is None else _us(ts)


def _first_tape_day(tape: _MarketDays, start: pd.Timestamp, window: tuple) -> dt.date | None:
    """The last day at or before ``start`` with a snapshot of the market before ``start``; else
    ``start``'s day when the market has any tape in the window (its book is unknown until its first
    snapshot); else None."""
    for day in reversed(tape.days(window[0], start.date())):
        rows = tape.rows(day)
        snaps = rows.filter(pc.equal(rows["kind"], "snapshot"))
        if snaps.num_rows and min(to_micros(snaps["recv_ts"])) <= _us(start):
            return day
    if any(tape.rows(day).num_rows for day in tape.days(window[0], window[1])):
        return start.date()
    return None


def _tape_stream(storage: ParquetStorage, tape: _MarketDays, ticker: str, first: dt.date, last: dt.date | None):
    events = _MarketDays(storage, "book_events", ticker, with_unnamed=True)
    tape_msgs = chain.from_iterable(tape_messages(tape.take(day)) for day in tape.days(first, last))
    event_msgs = chain.from_iterable(break_events(events.take(day), ticker) for day in events.days(first, last))
    return merge_messages(tape_msgs, event_msgs)


def _first_snapshot_day(snaps: _MarketDays, start: pd.Timestamp, window: tuple) -> dt.date | None:
    """The last day at or before ``start`` with a full book (a baseline, or a row of ours) of the
    market before ``start``; else the first day of the window with any of its rows; else None."""
    for day in reversed(snaps.days(window[0], start.date())):
        rows = snaps.rows(day)
        full = rows if "snapshot_type" not in rows.column_names else rows.filter(
            pc.fill_null(pc.equal(rows["snapshot_type"], BASELINE), True))
        if full.num_rows and min(to_micros(full["snapshot_ts"])) <= _us(start):
            return day
    return next((day for day in snaps.days(window[0], window[1]) if snaps.rows(day).num_rows), None)


def _snapshot_stream(snaps: _MarketDays, first: dt.date, last: dt.date | None) -> Iterator[FullBook]:
    tables = [snaps.rows(day) for day in snaps.days(first, last)]
    df = pa.concat_tables(tables, promote_options="default").to_pandas()
    for ts, books in replay_snapshots(df):
        book = books.get(snaps.ticker, {})
        yield FullBook(_us(as_utc(ts)), _exact(book.get("yes", {})), _exact(book.get("no", {})), _ORIGINAL)


def _exact(levels: dict[float, float]) -> dict[int, int]:
    return {cents_to_micros(p): contracts_to_centi(q) for p, q in levels.items() if q > 0}


def last_recorded_day(storage: ParquetStorage) -> dt.date | None:
    """The latest UTC day with order-book data (tape or snapshots) in the folder."""
    days = [d for kind in ("orderbook_deltas", "orderbook_snapshots") for d in _MarketDays(storage, kind, "").days(None, None)]
    return max(days, default=None)


def market_tickers(storage: ParquetStorage, start: dt.date | None = None, end: dt.date | None = None) -> set[str]:
    """Every market with a tape or order-book snapshot row in the date range (only that column is read)."""
    found: set[str] = set()
    for kind in ("orderbook_deltas", "orderbook_snapshots"):
        for path in storage.files(kind, start, end):
            column = storage.fs.read_table(path, columns=["market_ticker"])["market_ticker"]
            found.update(t for t in pc.unique(column).to_pylist() if t is not None)
    return found


def no_market_message(storage: ParquetStorage, ticker: str, start: dt.date | None, end: dt.date | None) -> str:
    """Why ``ticker`` has nothing from ``start`` to ``end``: ``no market T in DATA; did you mean ...``
    (the closest tickers recorded on any day), or that its data is on other days."""
    known = market_tickers(storage)
    where = storage.fs.url(storage.root)
    if ticker in known:
        return (f"no order-book data of {ticker} in {where} from {start} to {end or 'the end'} "
                f"(it has some on other days)")
    if not known:
        return f"no market {ticker} in {where}: no order-book data recorded there"
    close = difflib.get_close_matches(ticker, sorted(known), n=3, cutoff=0.6)
    if close:
        return f"no market {ticker} in {where}; did you mean {', '.join(close)}?"
    sample = ", ".join(sorted(known)[:3])
    return f"no market {ticker} in {where} ({len(known)} markets recorded there, e.g. {sample})"
