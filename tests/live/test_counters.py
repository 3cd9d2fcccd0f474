"""Typed counters: every kind declared once, and a copy that does not move with the original."""

from __future__ import annotations

import pytest

from kalshi_collector.book import BookStatus
from kalshi_collector.live.counters import BAD_BOOKS, SEQ_BREAKS, Counters, Lag, SnapshotTrigger
from kalshi_collector.live.sequence import SeqStatus


def test_keyed_counts_start_at_zero_for_every_kind() -> None:
    c = Counters()
    assert c.seq_breaks == dict.fromkeys(SEQ_BREAKS, 0) and SeqStatus.OK not in c.seq_breaks
    assert c.bad_books == dict.fromkeys(BAD_BOOKS, 0) and BookStatus.APPLIED not in c.bad_books
    assert c.snapshots == {SnapshotTrigger.PERIODIC: 0, SnapshotTrigger.SPIKE: 0}


def test_a_misspelt_counter_is_an_error_not_a_silent_zero() -> None:
    with pytest.raises(AttributeError):
        Counters().mesages += 1  # type: ignore[attr-defined]


def test_a_copy_is_one_instant() -> None:
    c = Counters()
    c.messages += 2
    c.seq_breaks[SeqStatus.GAP] += 1
    snap = c.copy()
    c.messages += 1
    c.seq_breaks[SeqStatus.GAP] += 1
    assert (snap.messages, snap.seq_breaks[SeqStatus.GAP]) == (2, 1)
    lag = Lag(total=1.5, count=3, period_max=0.9)
    assert lag.copy() == lag and lag.copy() is not lag
