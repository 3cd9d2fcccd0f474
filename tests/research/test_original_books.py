"""Book states of the original collector's data: no tape, baseline + delta ``orderbook_snapshots``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from kalshi_collector.research import open_data
from tests.research.original_sample import DAY, A, B, at


def book(state) -> dict:  # type: ignore[no-untyped-def]
    return {side: {float(p): float(q) for p, q in levels.items()} for side, levels in state.as_dict().items()}


def test_every_snapshot_time_from_the_baseline_a_day_before(original: Path) -> None:
    states = list(open_data(original).books(A, at(0), at(3)))
    assert [s.ts for s in states] == [at(0), at(1), at(2), at(3)]
    assert [book(s) for s in states] == [
        {"yes": {30: 10}, "no": {60: 4}},
        {"yes": {31: 2, 30: 12}, "no": {60: 4}},
        {"yes": {31: 2, 30: 12}, "no": {}},
        {"yes": {33: 1}, "no": {}},
    ]
    assert all(s.valid and s.source == "snapshots" and "original collector" in s.reason for s in states)
    assert states[1].best_bid == Decimal(31) and states[1].best_ask == Decimal(40)


def test_a_market_a_snapshot_time_does_not_name_keeps_its_book(original: Path) -> None:
    state = open_data(original).book_at(B, at(2))
    assert book(state) == {"yes": {12: 1}, "no": {}}
    assert state.snapshot_ts == at(0, DAY - dt.timedelta(days=1))


def test_every_n_and_the_tape_source_refused(original: Path) -> None:
    states = list(open_data(original).books(A, at(0), at(3), every=90))
    assert [book(s)["yes"] for s in states] == [{30: 10}, {31: 2, 30: 12}, {33: 1}]  # 10:00, 10:01:30, 10:03
    only_tape = list(open_data(original).books(A, at(1), source="tape"))
    assert len(only_tape) == 1 and not only_tape[0].valid  # no tape: nothing known
