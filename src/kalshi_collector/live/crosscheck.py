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
from collections.abc import Awaitable, Callable, Iterable

from kalshi_collector.book import BookStore, LevelDiff, OrderBook
from kalshi_collector.kalshi.models import Orderbook
from kalshi_collector.kalshi.numbers import BadNumber
from kalshi_collector.kalshi.rest import ApiError
from kalshi_collector.live.counters import Counters

__all__ = ["CrossCheck", "rest_levels"]

log = logging.getLogger(__name__)

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

    def next_ticker(self, tracked: Iterable[str]) -> str | None:
        """The next valid book to check, round robin over the tracked markets in ticker order."""
        candidates = sorted(t for t in tracked if self._books.is_valid(t))
        if not candidates:
            return None
        ticker = candidates[self._cursor % len(candidates)]
        self._cursor += 1
        return ticker

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
