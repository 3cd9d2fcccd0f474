"""The REST cross-check against a real REST client and a local HTTP server serving the order book.

A difference counts only if the local book stays unchanged for the settle time and still differs;
a change REST already shows whose delta arrives during the settle time is no difference.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kalshi_collector.book import BookStore, LevelDiff, OrderBook
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.models import Orderbook
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.crosscheck import CrossCheck, rest_levels
from tests.live.frame_helpers import M, fixture


class RestBook:
    """``GET /markets/{ticker}/orderbook`` answering with ``body`` (or 404 for other tickers)."""

    def __init__(self, fixtures: Path) -> None:
        self.body: dict[str, Any] = json.loads((fixtures / "rest_get_market_orderbook.json").read_text())
        self.requests = 0
        self.on_request: Callable[[], None] = lambda: None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.on_request()
        if request.match_info["ticker"] != M:
            return web.json_response({"error": {"code": "not_found", "message": "not found"}}, status=404)
        return web.json_response(self.body)

    def set_no_level(self, price: str, size: str) -> None:
        levels = self.body["orderbook_fp"]["no_dollars"]
        levels[:] = [lv for lv in levels if lv[0] != price] + [[price, size]]


@pytest.fixture()
async def rest(kalshi_fixtures: Path) -> AsyncIterator[tuple[RestBook, KalshiRestClient]]:
    book = RestBook(kalshi_fixtures)
    app = web.Application()
    app.router.add_get("/trade-api/v2/markets/{ticker}/orderbook", book.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = KalshiRestClient(f"http://127.0.0.1:{port}/trade-api/v2", requests_per_second=0, max_retries=0)
    await client.open()
    yield book, client
    await client.close()
    await runner.cleanup()


class Harness:
    def __init__(self, fixtures: Path, client: KalshiRestClient) -> None:
        self.fixtures = fixtures
        self.books = BookStore()
        self.counters = Counters()
        self.mismatches: list[tuple[str, list[LevelDiff]]] = []
        self.during_settle: Callable[[], None] = lambda: None
        self.check = CrossCheck(self.books, client.get_orderbook, self.counters, on_mismatch=self.mismatch,
                                sleep=self.settle)
        self.seq = 1
        self.apply(fixture(fixtures, "ws_orderbook_snapshot"))  # the same levels as the REST fixture

    def mismatch(self, ticker: str, book: OrderBook, diffs: list[LevelDiff]) -> None:
        self.mismatches.append((ticker, diffs))

    async def settle(self, seconds: float) -> None:
        self.during_settle()

    def apply(self, frame: dict) -> None:
        msg = wm.decode(json.dumps(frame))
        if isinstance(msg, wm.OrderbookSnapshot):
            self.books.apply_snapshot(msg)
        else:
            assert isinstance(msg, wm.OrderbookDelta)
            self.books.apply_delta(msg)

    def delta(self, price: str, d: str) -> None:
        self.seq += 1
        self.apply(fixture(self.fixtures, "ws_orderbook_delta", seq=self.seq,
                           msg={"market_ticker": M, "price_dollars": price, "delta_fp": d, "side": "no"}))


@pytest.fixture()
def h(kalshi_fixtures: Path, rest: tuple[RestBook, KalshiRestClient]) -> Harness:
    return Harness(kalshi_fixtures, rest[1])


async def test_the_same_book_matches(h: Harness) -> None:
    assert await h.check.check(M) is True
    assert (h.counters.rest_checks, h.counters.rest_mismatches) == (1, 0)


async def test_a_difference_that_stays_is_handed_on(h: Harness, rest: tuple[RestBook, KalshiRestClient]) -> None:
    rest[0].set_no_level("0.6700", "35.00")  # REST has 35 at 67, we have 60
    assert await h.check.check(M) is False
    assert h.mismatches == [(M, [LevelDiff("no", 67.0, 60.0, 35.0)])]
    assert h.counters.rest_mismatches == 1


async def test_a_delta_arriving_while_we_settle_is_no_difference(h: Harness, rest: tuple[RestBook, KalshiRestClient]) -> None:
    rest[0].set_no_level("0.6700", "35.00")
    h.during_settle = lambda: h.delta("0.6700", "-25.00")  # the delta REST already showed
    assert await h.check.check(M) is True
    assert h.mismatches == []


async def test_a_book_that_keeps_moving_is_inconclusive(h: Harness, rest: tuple[RestBook, KalshiRestClient]) -> None:
    rest[0].set_no_level("0.6700", "35.00")
    rest[0].on_request = lambda: h.delta("0.6000", "1.00")  # every answer is overtaken by a delta
    assert await h.check.check(M, attempts=3) is None
    assert rest[0].requests == 3 and h.counters.rest_checks_inconclusive == 1 and h.mismatches == []


async def test_invalid_books_and_rest_errors_prove_nothing(h: Harness, rest: tuple[RestBook, KalshiRestClient]) -> None:
    assert await h.check.check("KXHIGHCHI-26FEB11-T30") is None  # no local book: REST not even asked
    assert rest[0].requests == 0
    h.books.apply_snapshot(wm.decode(json.dumps(fixture(h.fixtures, "ws_orderbook_snapshot", msg={
        "market_ticker": "KXHIGHCHI-26FEB11-T30", "yes_dollars_fp": [["0.1000", "1.00"]]}))))  # type: ignore[arg-type]
    assert await h.check.check("KXHIGHCHI-26FEB11-T30") is None  # REST says 404
    assert h.counters.rest_checks == 0


async def test_rest_levels_sent_as_numbers_still_match(h: Harness, rest: tuple[RestBook, KalshiRestClient]) -> None:
    book = rest[0].body["orderbook_fp"]
    for side in ("yes_dollars", "no_dollars"):
        book[side] = [[float(p), float(q)] for p, q in book.get(side) or ()]
    assert await h.check.check(M) is True


async def test_an_unreadable_rest_level_is_inconclusive_not_a_mismatch(h: Harness,
                                                                      rest: tuple[RestBook, KalshiRestClient]) -> None:
    rest[0].set_no_level("0.6700", "")
    assert await h.check.check(M) is None
    assert h.mismatches == [] and h.counters.rest_mismatches == 0


def test_the_next_ticker_goes_round_the_valid_books(h: Harness) -> None:
    other = "KXHIGHCHI-26FEB11-B36.5"
    h.books.apply_snapshot(wm.decode(json.dumps(fixture(h.fixtures, "ws_orderbook_snapshot", msg={
        "market_ticker": other}))))  # type: ignore[arg-type]
    tracked = [other, M, "KXHIGHCHI-26FEB11-T30"]  # T30 has no book
    assert [h.check.next_ticker(tracked) for _ in range(3)] == [M, other, M]
    h.books.invalidate([M, other], "gap")
    assert h.check.next_ticker(tracked) is None


def test_the_next_ticker_steps_over_a_long_run_of_doubted_books_and_follows_a_new_market_set(h: Harness) -> None:
    """Past a few doubted books in a row the next valid one is found by set operations (the same
    round robin as a step at a time); a replaced set of markets is sorted afresh."""
    def book(ticker: str) -> None:
        h.books.apply_snapshot(wm.decode(json.dumps(fixture(h.fixtures, "ws_orderbook_snapshot", msg={
            "market_ticker": ticker}))))  # type: ignore[arg-type]

    tickers = [f"KXTEST-{i:03d}" for i in range(100)]
    for t in tickers:
        book(t)
    h.books.invalidate(tickers[1:80], "gap")
    valid = tickers[:1] + tickers[80:]
    assert [h.check.next_ticker(tickers) for _ in range(25)] == (valid * 2)[:25]
    fewer = {t: None for t in tickers[90:]}  # the collector hands a new dict on every change
    assert h.check.next_ticker(fewer) in fewer
    h.books.invalidate(tickers, "gap")
    assert h.check.next_ticker(tickers) is None


def test_rest_levels_read_the_one_dict_form_of_the_rest_book() -> None:
    ob = Orderbook(yes=((30.0, 10.0), (31.0, 2.0)), no=())
    assert rest_levels(ob) == {"yes": [(30.0, 10.0), (31.0, 2.0)], "no": []}
