"""Resync: which books wait for a fresh snapshot, since when and why, and asking Kalshi for them.

A book goes doubtful four ways, each one operation here: a sequence break on its orderbook sid
(:meth:`Resync.sequence_break`), a message that leaves it impossible — negative, crossed or an
unparseable number (:meth:`Resync.bad_book`), a REST cross-check that finds it different
(:meth:`Resync.rest_mismatch`), or a lost connection (:meth:`Resync.connection_lost`). It is
recovered by the next snapshot applied to it (:meth:`Resync.snapshot_applied`), which writes a
``recovered`` row pointing back at when the doubt began. A snapshot that never comes would leave
the book invalid for ever, so :meth:`Resync.retry_stuck` asks again after ``retry_seconds``.

Requests go out through the ``request(sid, tickers) -> sent`` callable this class is handed (the
collector sends an ``update_subscription`` ``get_snapshot``; a replay may just note it). No I/O,
no event loop: the clock is handed in too, and every time a row carries is the time of the event
that caused it (a frame's receive time, a raw-tape record's), kept in integer microseconds, so a
rebuild from the raw tape computes the same rows and takes the same decisions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from kalshi_collector.book import BookStatus, BookStore
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.sequence import SeqCheck
from kalshi_collector.live.tape import BOOK_EVENTS, US, BookEvent, RowSink

__all__ = ["AwaitingBook", "Resync", "SnapshotRequest", "BAD_BOOK_REQUEST_INTERVAL"]

log = logging.getLogger(__name__)

SnapshotRequest = Callable[[int, list[str]], bool]
"""Ask for fresh snapshots of ``tickers`` on orderbook ``sid``; False when it could not be sent."""

BAD_BOOK_REQUEST_INTERVAL = 1.0
"""A book the exchange itself reports crossed would otherwise bounce snapshot requests back and
forth: at most one immediate request per market per this many seconds (the retry asks later)."""


@dataclass(frozen=True, slots=True)
class AwaitingBook:
    """Why and since when one book waits for a snapshot (what its ``recovered`` row will say)."""

    since_us: int
    sid: int  # 0: not tied to a subscription (a lost connection)
    expected: int | None = None
    received: int | None = None


class Resync:
    def __init__(
        self,
        books: BookStore,
        sink: RowSink,
        counters: Counters,
        *,
        request: SnapshotRequest,
        retry_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        on_retry: Callable[[int, int, list[str]], None] | None = None,
    ) -> None:
        self._books = books
        self._sink = sink
        self._counters = counters
        self._request = request
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._on_retry = on_retry  # (now_us, sid, tickers): the raw tape's record of a retry
        self._awaiting: dict[str, AwaitingBook] = {}
        # when each market's snapshot was last asked for (us): the retry waits from here, and the
        # bad-book rate limit reads it; cleared by the snapshot and by a lost connection
        self._requested_at: dict[str, int] = {}

    # --- reading ------------------------------------------------------------------------------------

    @property
    def awaiting(self) -> Mapping[str, AwaitingBook]:
        return self._awaiting

    def waiting_since(self) -> tuple[float, ...]:
        """When each still-waiting book became doubtful (seconds), for the health rules."""
        return tuple(a.since_us / US for a in list(self._awaiting.values()))

    # --- doubts -------------------------------------------------------------------------------------

    def sequence_break(self, recv_us: int, sid: int, check: SeqCheck, tickers: Collection[str]) -> None:
        """A gap, duplicate or reorder on orderbook ``sid`` spoils every book it feeds."""
        kind = check.status.value
        self._books.invalidate(tickers, f"{kind} on sid {sid}")
        doubt = AwaitingBook(recv_us, sid, check.expected, check.received)
        for t in tickers:
            self._awaiting.setdefault(t, doubt)
        log.warning("%s on orderbook sid %d (expected %s, got %s): resyncing %d books",
                    kind, sid, check.expected, check.received, len(tickers))
        self.ask(sid, sorted(tickers), recv_us)

    def bad_book(self, recv_ts: float, sid: int, ticker: str, status: BookStatus) -> None:
        """Applying a message left the book impossible (it is already invalid)."""
        self._counters.bad_books[status] += 1
        now_us = int(recv_ts * US)
        self._sink.append(BOOK_EVENTS, BookEvent(now_us, ticker, sid, None, None, status.value, "book invalidated"))
        self._awaiting.setdefault(ticker, AwaitingBook(now_us, sid))
        if now_us - self._requested_at.get(ticker, 0) >= BAD_BOOK_REQUEST_INTERVAL * US:
            self.ask(sid, [ticker], now_us)

    def rest_mismatch(self, ticker: str, sid: int, detail: str, now_us: int | None = None) -> None:
        """REST's book stayed different from ours: ours is wrong until a snapshot says otherwise.

        ``now_us``: the time of the ``crosscheck`` record on the raw tape (default: the clock)."""
        if now_us is None:
            now_us = int(self._clock() * US)
        self._sink.append(BOOK_EVENTS, BookEvent(now_us, ticker, sid, None, None, "rest_mismatch", detail))
        self._books.invalidate([ticker], "differs from REST")
        self._awaiting.setdefault(ticker, AwaitingBook(now_us, sid))
        self.ask(sid, [ticker], now_us)

    def connection_lost(self, now_us: int, tickers: Iterable[str]) -> None:
        """Every book was invalidated; those that were valid now wait (requests died with the
        connection, so the next connection's subscription snapshots are not rate-limited)."""
        self._requested_at.clear()
        doubt = AwaitingBook(now_us, 0)
        for t in tickers:
            self._awaiting.setdefault(t, doubt)

    # --- recovery -----------------------------------------------------------------------------------

    def snapshot_applied(self, recv_us: int, ticker: str, sid: int, seq: int) -> None:
        """A snapshot made the book exact again: close its doubt in the ledger."""
        self._requested_at.pop(ticker, None)
        waiting = self._awaiting.pop(ticker, None)
        if waiting is None:
            return
        self._counters.recovered += 1
        self._sink.append(BOOK_EVENTS, BookEvent(
            waiting.since_us, ticker, waiting.sid or sid, waiting.expected, waiting.received, "recovered",
            f"resynced by snapshot seq {seq}", recv_us))

    def retry_stuck(self, sid: int | None, tracked: Iterable[str], subscribed_at: float) -> None:
        """Ask again for every tracked market still invalid ``retry_seconds`` after its last request.

        A market never asked for counts from ``subscribed_at``, so the snapshots a fresh
        subscription is still delivering are not requested twice. ``retry_seconds`` 0: never.
        """
        if sid is None or not self.retry_seconds:
            return
        now_us = int(self._clock() * US)
        since_us, wait_us = int(subscribed_at * US), self.retry_seconds * US
        asked_at = self._requested_at.get
        stale = sorted(t for t in self._books.not_valid(tracked) if now_us - asked_at(t, since_us) > wait_us)
        if stale:
            if self._on_retry is not None:
                self._on_retry(now_us, sid, stale)
            self.ask(sid, stale, now_us)

    def forget(self, tickers: Iterable[str]) -> None:
        """Markets no longer tracked wait for nothing."""
        for t in tickers:
            self._awaiting.pop(t, None)

    def ask(self, sid: int, tickers: list[str], now_us: int) -> None:
        """Ask for snapshots of ``tickers`` (the retry's decision replayed from the raw tape comes here)."""
        if not tickers or not self._request(sid, tickers):
            return
        for t in tickers:
            self._requested_at[t] = now_us
        self._counters.resync_requests += 1
        self._sink.append(BOOK_EVENTS, BookEvent(now_us, None, sid, None, None, "resync_requested",
                                                 f"{len(tickers)} markets"))
