"""Order books from the reference frames: exact level arithmetic, best prices, validity, the REST
cross-check, and a long random walk checked against an independent Decimal model."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from kalshi_collector.book import BookStatus, BookStore, OrderBook
from kalshi_collector.kalshi import messages as wm

TICKER = "KXHIGHCHI-26FEB11-B34.5"


def _decode(raw: bytes | str | dict) -> wm.Message:
    if isinstance(raw, dict):
        raw = json.dumps(raw)
    return wm.decode(raw)


def _delta(ticker: str, side: str, price: str, delta: str, sid: int = 1, seq: int = 1) -> wm.OrderbookDelta:
    msg = _decode({"type": "orderbook_delta", "sid": sid, "seq": seq,
                   "msg": {"market_ticker": ticker, "price_dollars": price, "delta_fp": delta, "side": side}})
    assert isinstance(msg, wm.OrderbookDelta)
    return msg


def _snapshot(ticker: str, yes: list[tuple[str, str]], no: list[tuple[str, str]], sid: int = 1) -> wm.OrderbookSnapshot:
    body: dict = {"market_ticker": ticker, "market_id": "x"}
    if yes:
        body["yes_dollars_fp"] = [list(level) for level in yes]
    if no:
        body["no_dollars_fp"] = [list(level) for level in no]
    msg = _decode({"type": "orderbook_snapshot", "sid": sid, "seq": 1, "msg": body})
    assert isinstance(msg, wm.OrderbookSnapshot)
    return msg


def _rest_book(path: Path) -> dict[str, list[list[float]]]:
    """A REST orderbook in the cross-check's shape, converted exactly like the REST client does."""
    fp = json.loads(path.read_text())["orderbook_fp"]
    return {
        side: [[wm.price_cents(p), float(Decimal(q))] for p, q in fp[f"{side}_dollars"]] for side in ("yes", "no")
    }


@pytest.fixture()
def store(kalshi_fixtures: Path) -> BookStore:
    store = BookStore()
    msg = _decode((kalshi_fixtures / "ws_orderbook_snapshot.json").read_bytes())
    assert isinstance(msg, wm.OrderbookSnapshot)
    assert store.apply(msg) is BookStatus.APPLIED
    return store


def _book(store: BookStore, ticker: str = TICKER) -> OrderBook:
    book = store.get(ticker)
    assert book is not None
    return book


def test_reference_snapshot_builds_the_book(store: BookStore) -> None:
    book = _book(store)
    assert book.valid and book.invalid_reason is None and book.sid == 1
    assert (book.best_yes_bid, book.best_no_bid, book.best_yes_ask) == (31.0, 67.0, 33.0)
    assert book.top() == (31.0, 33.0, 145.0, 60.0)
    assert book.levels("yes") == [(31.0, 145.0), (30.0, 220.0), (29.0, 500.0), (28.0, 350.0), (25.0, 1200.0)]
    assert book.levels("no", depth=2) == [(67.0, 60.0), (66.0, 95.0)]
    assert not book.crossed
    assert store.valid_count() == 1 and store.is_valid(TICKER) and TICKER in store and len(store) == 1


def test_reference_deltas_apply(store: BookStore, kalshi_fixtures: Path) -> None:
    take = _decode((kalshi_fixtures / "ws_orderbook_delta.json").read_bytes())
    new_level = _decode((kalshi_fixtures / "ws_orderbook_delta_new_level.json").read_bytes())
    assert store.apply(take) is BookStatus.APPLIED  # type: ignore[arg-type]
    book = _book(store)
    assert book.levels("no", depth=1) == [(67.0, 35.0)]  # 60 - 25
    assert store.apply(new_level) is BookStatus.APPLIED  # type: ignore[arg-type]
    assert (book.best_no_bid, book.best_yes_ask, book.best_yes_ask_size) == (68.0, 32.0, 40.0)


def test_a_level_that_reaches_zero_disappears_and_best_moves_down(store: BookStore) -> None:
    assert store.apply_delta(_delta(TICKER, "yes", "0.3100", "-145.00")) is BookStatus.APPLIED
    book = _book(store)
    assert 310_000 not in book.yes_bids
    assert (book.best_yes_bid, book.best_yes_bid_size) == (30.0, 220.0)
    for price, qty in (("0.3000", "220.00"), ("0.2900", "500.00"), ("0.2800", "350.00"), ("0.2500", "1200.00")):
        store.apply_delta(_delta(TICKER, "yes", price, "-" + qty))
    assert book.levels("yes") == [] and book.best_yes_bid is None and book.top()[0] is None
    assert book.valid  # an empty side is a legitimate book


def test_fractional_contracts_sum_exactly() -> None:
    store = BookStore()
    store.apply_snapshot(_snapshot("M", [], []))
    # 0.1 + 0.2 - 0.3 is 5.5e-17 in floats: a phantom level (or a false "negative") without exact sums.
    for delta in ("0.10", "0.20", "-0.30"):
        assert store.apply_delta(_delta("M", "yes", "0.4000", delta)) is BookStatus.APPLIED
    assert _book(store, "M").yes_bids == {}
    store.apply_delta(_delta("M", "yes", "0.4000", "12.34"))
    assert _book(store, "M").levels("yes") == [(40.0, 12.34)]


def test_sub_penny_prices() -> None:
    store = BookStore()
    store.apply_snapshot(_snapshot("M", [("0.0150", "10.00"), ("0.0200", "5.00")], [("0.9750", "3.00")]))
    book = _book(store, "M")
    assert book.levels("yes") == [(2.0, 5.0), (1.5, 10.0)]
    assert book.best_yes_ask == 2.5
    assert not book.crossed  # 2 + 97.5 < 100


def test_negative_level_invalidates_until_a_fresh_snapshot(store: BookStore) -> None:
    assert store.apply_delta(_delta(TICKER, "no", "0.6700", "-61.00")) is BookStatus.NEGATIVE
    book = _book(store)
    assert not book.valid and "negative" in (book.invalid_reason or "")
    assert store.valid_count() == 0
    # deltas for an invalid book are ignored, however harmless
    assert store.apply_delta(_delta(TICKER, "no", "0.6700", "1.00")) is BookStatus.NOT_READY
    assert store.apply_snapshot(_snapshot(TICKER, [("0.3000", "1.00")], [("0.6000", "2.00")])) is BookStatus.APPLIED
    assert book.valid and book.top() == (30.0, 40.0, 1.0, 2.0)


def test_a_delta_that_crosses_the_book_invalidates_it(store: BookStore) -> None:
    # best NO bid is 67: a YES bid at 33 would have matched it.
    assert store.apply_delta(_delta(TICKER, "yes", "0.3300", "5.00")) is BookStatus.CROSSED
    book = _book(store)
    assert not book.valid and "crossed" in (book.invalid_reason or "")


def test_a_bid_just_below_crossing_is_fine(store: BookStore) -> None:
    assert store.apply_delta(_delta(TICKER, "yes", "0.3200", "5.00")) is BookStatus.APPLIED
    assert _book(store).top() == (32.0, 33.0, 5.0, 60.0)


def test_a_crossed_snapshot_is_not_valid() -> None:
    store = BookStore()
    assert store.apply_snapshot(_snapshot("M", [("0.5000", "1.00")], [("0.5000", "1.00")])) is BookStatus.CROSSED
    assert not store.is_valid("M")


def test_unparseable_numbers_invalidate_rather_than_guess(store: BookStore) -> None:
    bad = wm.OrderbookDelta(sid=1, seq=9, msg=wm.OrderbookDeltaBody(
        market_ticker=TICKER, price_dollars="0.67.00", delta_fp="1.00", side="no"))
    assert store.apply_delta(bad) is BookStatus.BAD_VALUE
    assert not store.is_valid(TICKER)
    store.apply_snapshot(_snapshot(TICKER, [("0.3000", "1.00")], []))
    finer = wm.OrderbookDelta(sid=1, seq=10, msg=wm.OrderbookDeltaBody(
        market_ticker=TICKER, price_dollars="0.3000", delta_fp="0.005", side="yes"))
    assert store.apply_delta(finer) is BookStatus.BAD_VALUE
    bad_snapshot = _snapshot(TICKER, [("1.5000", "1.00")], [])
    assert store.apply_snapshot(bad_snapshot) is BookStatus.BAD_VALUE
    assert _book(store).yes_bids == {} and not store.is_valid(TICKER)
    assert store.apply_snapshot(_snapshot(TICKER, [("0.3000", "0.00")], [])) is BookStatus.BAD_VALUE


def test_deltas_before_any_snapshot_are_not_applied() -> None:
    store = BookStore()
    assert store.apply_delta(_delta("NEW", "yes", "0.5000", "1.00")) is BookStatus.NOT_READY
    assert store.get("NEW") is None


def test_one_sided_reference_snapshot(kalshi_fixtures: Path) -> None:
    store = BookStore()
    msg = _decode((kalshi_fixtures / "ws_orderbook_snapshot_one_side_empty.json").read_bytes())
    assert store.apply(msg) is BookStatus.APPLIED  # type: ignore[arg-type]
    book = _book(store, "KXHIGHCHI-26FEB11-T30")
    assert book.top() == (3.0, None, 410.0, None)


def test_store_invalidation_and_lifecycle(store: BookStore) -> None:
    store.apply_snapshot(_snapshot("OTHER", [("0.1000", "1.00")], [], sid=7))
    assert sorted(store.tickers_for_sid(1)) == [TICKER] and store.tickers_for_sid(7) == ["OTHER"]
    assert store.invalidate([TICKER, "UNKNOWN"], "gap on sid 1") == [TICKER]
    assert store.invalidate([TICKER], "again") == []  # already invalid
    assert _book(store).invalid_reason == "gap on sid 1"  # the first reason is kept
    assert store.not_valid(["OTHER", TICKER, "UNKNOWN"]) == [TICKER, "UNKNOWN"]  # no book is not a valid one
    assert store.all_valid(["OTHER"]) and not store.all_valid(["OTHER", TICKER]) and not store.all_valid([])
    assert store.invalidate_sid(7, "gap on sid 7") == ["OTHER"]
    assert store.valid_count() == 0
    store.apply_snapshot(_snapshot("OTHER", [("0.1000", "1.00")], [], sid=7))
    store.invalidate_all("disconnected")
    assert [b.valid for b in store] == [False, False]
    store.remove("OTHER")
    store.remove("OTHER")
    assert "OTHER" not in store and len(store) == 1


def test_apply_refuses_other_messages(kalshi_fixtures: Path) -> None:
    ticker = _decode((kalshi_fixtures / "ws_ticker.json").read_bytes())
    with pytest.raises(TypeError):
        BookStore().apply(ticker)  # type: ignore[arg-type]


def test_numeric_api_in_cents_and_contracts() -> None:
    book = OrderBook("M")
    assert book.apply_delta("yes", 30.0, 1.0) is BookStatus.NOT_READY
    assert book.apply_snapshot([(30.0, 1.5), (29.0, 2.0)], [(60.0, 3.25)]) is BookStatus.APPLIED
    assert book.apply_delta("yes", 30.0, -1.5) is BookStatus.APPLIED
    assert book.apply_delta("no", 60.5, 0.01) is BookStatus.APPLIED
    assert book.levels("no") == [(60.5, 0.01), (60.0, 3.25)]
    assert book.apply_delta("no", 61.0, 0.001) is BookStatus.BAD_VALUE
    assert not book.valid
    with pytest.raises(ValueError):
        book.apply_delta("maybe", 30.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        book.levels("maybe")  # type: ignore[arg-type]
    assert book.apply_snapshot([(100.0, 1.0)], []) is BookStatus.BAD_VALUE


# --- REST cross-check -------------------------------------------------------------------------------


def test_book_matches_the_reference_rest_orderbook(store: BookStore, kalshi_fixtures: Path) -> None:
    rest = _rest_book(kalshi_fixtures / "rest_get_market_orderbook.json")
    book = _book(store)
    assert book.matches_rest(rest)
    depth2 = _rest_book(kalshi_fixtures / "rest_get_market_orderbook_depth2.json")
    assert book.matches_rest(depth2, depth=2)
    assert not book.matches_rest(depth2)  # all levels vs a depth-2 answer: the deeper ones differ


def test_diff_names_each_differing_level(store: BookStore, kalshi_fixtures: Path) -> None:
    rest = _rest_book(kalshi_fixtures / "rest_get_market_orderbook.json")
    store.apply_delta(_delta(TICKER, "no", "0.6700", "-25.00"))
    store.apply_delta(_delta(TICKER, "yes", "0.2500", "-1200.00"))
    store.apply_delta(_delta(TICKER, "yes", "0.2700", "5.00"))
    diffs = _book(store).diff_rest(rest)
    assert [(d.side, d.price_cents, d.ours, d.theirs) for d in diffs] == [
        ("yes", 27.0, 5.0, None),
        ("yes", 25.0, None, 1200.0),
        ("no", 67.0, 35.0, 60.0),
    ]


def test_empty_book_matches_empty_rest(kalshi_fixtures: Path) -> None:
    book = OrderBook("M")
    book.apply_snapshot([], [])
    assert book.matches_rest(_rest_book(kalshi_fixtures / "rest_get_market_orderbook_empty.json"))


# --- a long walk against an independent model ---------------------------------------------------------


def test_random_walk_matches_a_decimal_model() -> None:
    """Thousands of realistic deltas (partial and full removals, new levels, fractional sizes) on
    several markets; the book must equal a model kept in Decimal, level by level, throughout."""
    rng = random.Random(20260211)
    store = BookStore()
    tickers = [f"M{i}" for i in range(5)]
    model: dict[str, dict[str, dict[Decimal, Decimal]]] = {t: {"yes": {}, "no": {}} for t in tickers}
    for t in tickers:
        store.apply_snapshot(_snapshot(t, [], []))
    for step in range(4000):
        t = rng.choice(tickers)
        side = rng.choice(("yes", "no"))
        levels = model[t][side]
        if levels and rng.random() < 0.5:
            price = rng.choice(list(levels))
            delta = -min(levels[price], Decimal(rng.randint(1, 5000)) / 100)
        else:
            price = Decimal(rng.randint(1, 49)) / 100  # YES and NO both below 50c: never crossed
            delta = Decimal(rng.randint(1, 5000)) / 100
        levels[price] = levels.get(price, Decimal(0)) + delta
        if levels[price] == 0:
            del levels[price]
        status = store.apply_delta(_delta(t, side, f"{price:.4f}", f"{delta:.2f}", seq=step + 2))
        assert status is BookStatus.APPLIED
        if step % 97 == 0 or step == 3999:
            for ticker in tickers:
                book = _book(store, ticker)
                for s in ("yes", "no"):
                    expected = sorted(((float(p * 100), float(q)) for p, q in model[ticker][s].items()), reverse=True)
                    assert book.levels(s) == expected
                yes, no = model[ticker]["yes"], model[ticker]["no"]
                assert book.best_yes_bid == (float(max(yes) * 100) if yes else None)
                assert book.best_yes_ask == (float(100 - max(no) * 100) if no else None)


def test_not_valid_follows_every_way_a_book_gains_or_loses_trust() -> None:
    """``not_valid`` reads the store's set of doubted books (kept by the books themselves) rather
    than every book: after any mix of snapshots, bad ones, crossing and negative deltas,
    invalidations, disconnects and removals it names exactly the books that are not valid."""
    rng = random.Random(7)
    store = BookStore()
    tickers = [f"M{i}" for i in range(12)]
    for _ in range(3_000):
        t = rng.choice(tickers)
        op = rng.randrange(8)
        if op <= 1:
            store.apply_snapshot(_snapshot(t, [("0.4000", "5.00")], [("0.5000", "5.00")]))
        elif op == 2:
            store.apply_snapshot(_snapshot(t, [("0.6000", "1.00")], [("0.5000", "1.00")]))  # crossed
        elif op == 3:
            store.apply_snapshot(_snapshot(t, [("0.4000", "-1.00")], []))  # negative level
        elif op == 4:
            store.apply_delta(_delta(t, "yes", "0.4000", rng.choice(["-9.00", "1.00", "-5.00"])))
        elif op == 5:
            store.apply_delta(_delta(t, "no", "0.7000", "1.00"))  # crosses
        elif op == 6:
            store.invalidate([t], "doubt") if rng.random() < 0.9 else store.invalidate_all("disconnected")
        else:
            store.remove(t)
        assert store.not_valid(tickers) == sorted(t for t in tickers if not store.is_valid(t))
    assert store.not_valid(set(tickers[:3])) == sorted(t for t in tickers[:3] if not store.is_valid(t))
