"""Resync: the typed record of each waiting book, and its operations (break, bad book, REST
mismatch, lost connection, retry, recovered), with requests going out through a callable."""

from __future__ import annotations

import json

import pytest

from kalshi_collector.book import BookStatus, BookStore
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.resync import AwaitingBook, Resync
from kalshi_collector.live.sequence import SeqCheck, SeqStatus
from tests.live.frame_helpers import Clock, Rows

A, B, C = "KXHIGHCHI-26FEB11-B32.5", "KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11-B36.5"
T0 = 1_770_834_581.0
US = 1_000_000


def snapshot(ticker: str, sid: int = 1, seq: int = 1) -> wm.OrderbookSnapshot:
    msg = wm.decode(json.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": seq,
                                "msg": {"market_ticker": ticker, "yes_dollars_fp": [["0.3000", "10.00"]]}}))
    assert isinstance(msg, wm.OrderbookSnapshot)
    return msg


class Harness:
    def __init__(self, *, sendable: bool = True, retry_seconds: float = 10.0) -> None:
        self.books, self.rows, self.counters, self.clock = BookStore(), Rows(), Counters(), Clock(T0)
        self.requests: list[tuple[int, list[str]]] = []
        self.sendable = sendable
        self.resync = Resync(self.books, self.rows, self.counters, request=self.request,
                             retry_seconds=retry_seconds, clock=self.clock)
        for t in (A, B, C):
            self.books.apply_snapshot(snapshot(t))

    def request(self, sid: int, tickers: list[str]) -> bool:
        if self.sendable:
            self.requests.append((sid, tickers))
        return self.sendable


@pytest.fixture()
def h() -> Harness:
    return Harness()


def test_a_sequence_break_spoils_every_book_of_the_sid_and_asks_once(h: Harness) -> None:
    gap = SeqCheck(SeqStatus.GAP, 7, 9)
    h.resync.sequence_break(int(T0 * US), 1, gap, {B, A})
    assert h.books.valid_count() == 1 and h.books.is_valid(C)
    assert h.requests == [(1, [A, B])]
    assert h.resync.awaiting == {A: AwaitingBook(int(T0 * US), 1, 7, 9), B: AwaitingBook(int(T0 * US), 1, 7, 9)}
    # a second doubt before the snapshot keeps the first one's time: the wait is measured from there
    h.clock.now = T0 + 2
    h.resync.sequence_break(int((T0 + 2) * US), 1, SeqCheck(SeqStatus.DUPLICATE, 12, 11), {A})
    assert h.resync.awaiting[A].since_us == int(T0 * US)
    assert h.resync.waiting_since() == (T0, T0)
    assert h.rows.actions() == ["resync_requested", "resync_requested"]
    assert h.counters.resync_requests == 2


def test_a_bad_book_asks_at_most_once_a_second(h: Harness) -> None:
    for i in range(5):  # the exchange keeps sending a crossed book
        h.clock.now = T0 + i * 0.3
        h.resync.bad_book(h.clock.now, 1, A, BookStatus.CROSSED)
    assert len(h.requests) == 2, "at 0.0 s and at 1.2 s"
    assert h.counters.bad_books[BookStatus.CROSSED] == 5
    assert h.rows.actions().count("crossed") == 5
    assert h.resync.awaiting == {A: AwaitingBook(int(T0 * US), 1)}


def test_a_request_that_cannot_be_sent_leaves_no_trace() -> None:
    h = Harness(sendable=False)
    h.resync.bad_book(T0, 1, A, BookStatus.NEGATIVE)
    assert h.counters.resync_requests == 0 and h.rows.actions() == ["negative"]
    assert A in h.resync.awaiting


def test_a_snapshot_recovers_the_book_with_a_row_pointing_back_at_the_doubt(h: Harness) -> None:
    h.resync.sequence_break(int(T0 * US), 1, SeqCheck(SeqStatus.GAP, 7, 9), {A})
    h.resync.snapshot_applied(int((T0 + 0.4) * US), A, 1, 10)
    h.resync.snapshot_applied(int((T0 + 0.5) * US), B, 1, 11)  # nobody waited for B: no row
    assert h.rows.tables["book_events"][-1] == (int(T0 * US), A, 1, 7, 9, "recovered", "resynced by snapshot seq 10",
                                                int((T0 + 0.4) * US))
    assert h.counters.recovered == 1 and not h.resync.awaiting


def test_a_rest_mismatch_invalidates_and_asks(h: Harness) -> None:
    h.resync.rest_mismatch(B, 1, "2 levels differ")
    assert not h.books.is_valid(B) and h.requests == [(1, [B])]
    assert h.rows.tables["book_events"][0] == (int(T0 * US), B, 1, None, None, "rest_mismatch", "2 levels differ", None)


def test_a_lost_connection_forgets_the_requests_but_not_the_doubts(h: Harness) -> None:
    h.resync.bad_book(T0, 1, A, BookStatus.CROSSED)
    h.books.invalidate_all("disconnected")
    h.resync.connection_lost(int((T0 + 0.1) * US), [B, C])
    assert h.resync.awaiting == {A: AwaitingBook(int(T0 * US), 1), B: AwaitingBook(int((T0 + 0.1) * US), 0),
                                 C: AwaitingBook(int((T0 + 0.1) * US), 0)}
    h.clock.now = T0 + 0.2
    h.resync.bad_book(h.clock.now, 1, A, BookStatus.CROSSED)  # the rate limit died with the connection
    assert len(h.requests) == 2


def test_the_retry_asks_again_for_books_stuck_longer_than_the_retry_time(h: Harness) -> None:
    subscribed_at = T0
    h.books.invalidate([A, B], "never snapshotted on this connection")
    h.clock.now = T0 + 5
    h.resync.bad_book(h.clock.now, 1, B, BookStatus.CROSSED)  # asked for B at +5 s
    h.clock.now = T0 + 10.5
    h.resync.retry_stuck(1, [A, B, C], subscribed_at)
    assert h.requests[-1] == (1, [A]), "A counts from the subscription, B from its request"
    h.clock.now = T0 + 15.5
    h.resync.retry_stuck(1, [A, B, C], subscribed_at)
    assert h.requests[-1] == (1, [B])
    h.resync.retry_stuck(None, [A, B, C], subscribed_at)  # no orderbook subscription: nothing to ask on
    assert len(h.requests) == 3


def test_a_retry_time_of_zero_never_retries() -> None:
    h = Harness(retry_seconds=0)
    h.books.invalidate([A], "stuck")
    h.clock.now = T0 + 3600
    h.resync.retry_stuck(1, [A], T0)
    assert h.requests == []


def test_markets_no_longer_tracked_wait_for_nothing(h: Harness) -> None:
    h.resync.rest_mismatch(A, 1, "x")
    h.resync.forget([A])
    assert not h.resync.awaiting
