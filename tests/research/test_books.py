"""Book states replayed from a real data folder (tests/research/sample.py): every change, every N,
across a day boundary and a compacted day, through a gap and its resync, exact to the hundredth."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from kalshi_collector.research import UnknownMarketError, open_data
from tests.research import sample
from tests.research.sample import A, B


def exact(book: dict) -> dict:
    return {side: {Decimal(str(p)): Decimal(str(q)) for p, q in levels.items()} for side, levels in book.items()}


def test_every_change_from_before_the_first_snapshot(sample_dir) -> None:
    states = list(open_data(sample_dir).books(A, sample.at(sample.D1, 23, 0)))
    assert [s.ts for s in states] == [
        sample.at(sample.D1, 23, 0), sample.T_SNAP, sample.T_D1, sample.T_D2a, sample.T_D2b, sample.T_GAP,
        sample.T_D2c, sample.T_RESNAP]
    assert [s.valid for s in states] == [False, True, True, True, True, False, False, True]
    books = [sample.BOOK_AT_SNAP, sample.BOOK_AT_D1, sample.BOOK_AT_D2a, sample.BOOK_AT_D2b, sample.BOOK_AT_D2b,
             sample.BOOK_AT_D2c, sample.BOOK_AT_RESNAP]
    assert [s.as_dict() for s in states[1:]] == [exact(b) for b in books]
    assert states[0].reason == "no orderbook snapshot recorded before that time" and not states[0].yes
    assert states[5].reason.startswith("gap at 2026-02-12 00:12:00")
    assert all(s.ticker == A and s.source == "tape" for s in states)


def test_levels_and_best_prices_are_exact(sample_dir) -> None:
    state = open_data(sample_dir).book_at(A, sample.T_RESNAP)
    assert state.valid and state.deltas_applied == 0 and state.snapshot_ts == sample.T_RESNAP
    assert [(lv.price, lv.size) for lv in state.no] == [(Decimal("60"), Decimal("3")), (Decimal("55.5"), Decimal("4"))]
    assert state.no[1].price_micros == 555_000 and state.yes[1].size_centi == 1250
    assert (state.best_bid, state.best_ask, state.spread, state.mid) == (Decimal(31), Decimal(40), Decimal(9),
                                                                         Decimal("35.5"))
    assert (state.best_bid_size, state.best_ask_size) == (Decimal(2), Decimal(3))
    assert state.levels("yes") == state.yes


def test_book_at_looks_back_to_the_previous_day_for_its_snapshot(sample_dir) -> None:
    state = open_data(sample_dir).book_at(A, "2026-02-12 00:11")
    assert state.valid and state.as_dict() == exact(sample.BOOK_AT_D2b)
    assert state.deltas_applied == 3 and state.snapshot_ts == sample.T_SNAP
    assert state.exchange_ts == pd.Timestamp(sample.T_D2b) - pd.Timedelta(milliseconds=40)


def test_every_n_seconds_samples_the_book_as_of_each_instant(sample_dir) -> None:
    data = open_data(sample_dir)
    start, end = sample.at(sample.D2, 0, 4), sample.at(sample.D2, 0, 14)
    states = list(data.books(A, start, end, every=dt.timedelta(minutes=2)))
    assert [s.ts for s in states] == [start + dt.timedelta(minutes=2 * k) for k in range(6)]
    # 00:04, 00:06, 00:08 | 00:10 (the delta at 00:10 counts), 00:12 (the gap at 00:12 counts) | 00:14
    assert [s.as_dict() for s in states] == [exact(b) for b in (
        sample.BOOK_AT_D1, sample.BOOK_AT_D2a, sample.BOOK_AT_D2a, sample.BOOK_AT_D2b, sample.BOOK_AT_D2b,
        sample.BOOK_AT_RESNAP)]
    assert [s.valid for s in states] == [True, True, True, True, False, True]
    assert [s.ts for s in data.books(A, start, end, every=120)] == [s.ts for s in states]


def test_an_empty_side_and_another_market(sample_dir) -> None:
    state = open_data(sample_dir).book_at(B, sample.T_D2c)
    assert state.valid is False  # the gap concerned the whole subscription
    assert state.as_dict() == {"yes": {Decimal(40): Decimal("1.5")}, "no": {}}
    assert state.best_ask is None and state.spread is None and state.mid is None


def test_end_bounds_the_changes(sample_dir) -> None:
    states = list(open_data(sample_dir).books(A, sample.T_SNAP, sample.T_D2a))
    assert [s.ts for s in states] == [sample.T_SNAP, sample.T_D1, sample.T_D2a]


def test_a_mistyped_ticker_is_named_with_close_matches(sample_dir) -> None:
    with pytest.raises(UnknownMarketError, match=r"no market KXHIGHCHI-26FEB12-B34 in .*did you mean "
                       r"KXHIGHCHI-26FEB12-B34.5"):
        list(open_data(sample_dir).books("KXHIGHCHI-26FEB12-B34", sample.T_D2a))
    assert open_data(sample_dir).markets() == [A, B]


def test_bad_arguments_are_clear(sample_dir) -> None:
    data = open_data(sample_dir)
    with pytest.raises(ValueError, match="every=60: a positive interval, and an end time"):
        list(data.books(A, sample.T_SNAP, every=60))
    with pytest.raises(ValueError, match="source 'x'"):
        data.books(A, sample.T_SNAP, source="x")
    with pytest.raises(ValueError, match=r"start: expected a time such as '2026-02-11 18:30' \(UTC\), got NaT"):
        data.books(A, pd.NaT)  # e.g. the min() of an empty column
    with pytest.raises(ValueError, match=r"end: expected a time .* got 'soon'"):
        data.books(A, sample.T_SNAP, "soon")
    with pytest.raises(ValueError, match="is before start"):
        data.books(A, sample.T_D2a, sample.T_SNAP)
