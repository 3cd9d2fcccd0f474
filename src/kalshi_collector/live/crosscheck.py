"""The REST cross-check: compare one local book with REST's order book, one market at a time.

REST and the stream are not atomic with each other: REST may already show a change whose delta is
still in flight. So a difference only counts when the local book stays unchanged for ``settle``
seconds after the answer and still differs; a book that moved while the request was in flight
proves nothing, and the check is tried again (up to ``attempts`` times).

A real difference goes to the ``on_mismatch(ticker, book, diffs)`` callable (the collector hands
resync's); this class only compares and counts. The other outcomes go to ``on_verdict(ticker,
verdict)`` (``same`` / ``inconclusive``: the raw tape keeps every verdict).
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Collection

from kalshi_collector.book import BookStore, LevelDiff, OrderBook
from kalshi_collector.kalshi.models import Orderbook
from kalshi_collector.kalshi.numbers import BadNumber
from kalshi_collector.kalshi.rest import ApiError
from kalshi_collector.live.counters import Counters

__all__ = ["CrossCheck", "rest_levels"]

log = logging.getLogger(__name__)

_SCAN = 32  # doubted books stepped over one by one before set operations find the next valid one

Fetch = Callable[[str], Awaitable[Orderbook]]
Mismatch = Callable[[str, OrderBook, list[LevelDiff]], None]


def rest_levels(book: Orderbook) -> dict[str, list[tuple[float, float]]]:
    """REST's book (its one dict form, :meth:`Orderbook.as_dict`) as the ``(price, size)`` pairs
    per side that :meth:`OrderBook.diff_rest` reads."""
    return {side: list(levels.items()) for side, levels in book.as_dict().items()}


class CrossCheck:
    def __init__(
        self,
        books: BookStore,
        fetch: Fetch,
        counters: Counters,
        *,
        on_mismatch: Mismatch,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_verdict: Callable[[str, str], None] | None = None,
    ) -> None:
        self._books = books
        self._fetch = fetch
        self._counters = counters
        self._on_mismatch = on_mismatch
        self._sleep = sleep
        self._on_verdict = on_verdict
        self._cursor = 0
        self._tracked: Collection[str] | None = None  # the markets ``_order`` sorts (held: compared by identity)
        self._order: list[str] = []

    def next_ticker(self, tracked: Collection[str]) -> str | None:
        """The next valid book to check, round robin over the tracked markets in ticker order.

        Why not sort the valid ones on every call: at 20,000 markets that was a Python step per
        market and a sort, 7-12 ms of the read loop's time once per check (measured). The order is sorted
        only when ``tracked`` changes (the collector replaces its dict on every change), and a
        valid book is usually the next one; past a few doubted ones, set operations in C find it.
        """
        order = self._order_of(tracked)
        if not order:
            return None
        start = self._cursor % len(order)
        for step in range(min(_SCAN, len(order))):
            ticker = order[(start + step) % len(order)]
            if self._books.is_valid(ticker):
                self._cursor = start + step + 1
                return ticker
        valid = sorted(set(order).difference(self._books.not_valid(order)))  # in C, but for the sort
        if not valid:
            return None
        ticker = valid[bisect_left(valid, order[start]) % len(valid)]
        self._cursor = bisect_left(order, ticker) + 1
        return ticker

    def _order_of(self, tracked: Collection[str]) -> list[str]:
        if tracked is not self._tracked or len(tracked) != len(self._order):
            self._tracked, self._order = tracked, sorted(tracked)
        return self._order

    def _state(self, ticker: str) -> tuple[dict, dict] | None:
        book = self._books.get(ticker)
        return (dict(book.yes_bids), dict(book.no_bids)) if book is not None and book.valid else None

    async def check(self, ticker: str, *, settle: float = 0.5, attempts: int = 3) -> bool | None:
        """True = same as REST, False = a real difference (handed on), None = inconclusive."""
        verdict = await self._check(ticker, settle, attempts)
        if verdict is not False and self._on_verdict is not None:
            self._on_verdict(ticker, "same" if verdict else "inconclusive")
        return verdict

    async def _check(self, ticker: str, settle: float, attempts: int) -> bool | None:
        for _ in range(attempts):
            before = self._state(ticker)
            if before is None:
                return None
            try:
                rest = rest_levels(await self._fetch(ticker))
            except (ApiError, BadNumber) as exc:  # no answer, or a REST book we cannot read exactly
                log.debug("cross-check of %s skipped: %s", ticker, exc)
                return None
            self._counters.rest_checks += 1
            book = self._books.get(ticker)
            if self._state(ticker) != before or book is None:
                continue  # moved while the request was in flight: proves nothing
            if book.matches_rest(rest):
                return True
            await self._sleep(settle)  # let deltas already sent by the exchange arrive
            book = self._books.get(ticker)
            if book is None or not book.valid:
                return None
            if book.matches_rest(rest):
                return True
            if self._state(ticker) != before:
                continue
            diffs = book.diff_rest(rest)
            self._counters.rest_mismatches += 1
            log.warning("book %s differs from REST at %d level(s) and stayed so for %.1f s; resyncing",
                        ticker, len(diffs), settle)
            self._on_mismatch(ticker, book, diffs)
            return False
        self._counters.rest_checks_inconclusive += 1
        return None
