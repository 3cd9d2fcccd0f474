"""Sequence checking per WebSocket subscription (``sid``), never per ticker.

Kalshi numbers the messages of each subscription ``1, 2, 3...`` (API.md 7). One orderbook sid covers
many markets, and every message on it consumes a number: snapshots, deltas, trades, lifecycle
events, and also the control replies ``ok`` (update_subscription), ``unsubscribed`` and a
sid-scoped ``error``. All of them must be observed here, or the next data message reads as a gap.

* The first number seen on a sid sets the baseline (Kalshi's first value is not documented).
* ``seq == last + 1`` is OK.
* ``seq > last + 1`` is a GAP: messages were lost. The tracker moves to the new position at once
  (the collector resyncs the books of that sid; waiting for the missing numbers would stall it).
* ``seq <= last`` is either a DUPLICATE (a number already seen) or OUT_OF_ORDER (a number skipped by
  an earlier gap, arriving late). Neither moves the position. The tracker remembers the holes of
  recent gaps to tell the two apart.

A new connection restarts every sid's numbering: call :meth:`SequenceTracker.reset_all` (or
:meth:`forget` each sid) when reconnecting. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["SeqStatus", "SeqCheck", "SequenceTracker", "SEQ_OK"]

# Holes remembered per sid (a hole is one gap's skipped range), to classify late arrivals.
_MAX_HOLES = 32


class SeqStatus(enum.Enum):
    OK = "ok"
    GAP = "gap"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"


class SeqCheck(NamedTuple):
    """Result of one observation. ``expected`` is the number that should have come (None for OK
    results and baselines); ``received`` the one that came."""

    status: SeqStatus
    expected: int | None = None
    received: int | None = None


SEQ_OK = SeqCheck(SeqStatus.OK)
"""The result of every in-order message: one shared object, so the hot path allocates nothing."""


class _SidState:
    __slots__ = ("last", "holes")

    def __init__(self, last: int) -> None:
        self.last = last
        self.holes: list[tuple[int, int]] = []  # inclusive ranges skipped by gaps, oldest first


class SequenceTracker:
    __slots__ = ("_sids",)

    def __init__(self) -> None:
        self._sids: dict[int, _SidState] = {}

    def observe(self, sid: int, seq: int) -> SeqCheck:
        """Check one message's ``seq`` on ``sid`` and advance; returns :data:`SEQ_OK` when in order."""
        state = self._sids.get(sid)
        if state is None:
            self._sids[sid] = _SidState(seq)
            return SEQ_OK
        expected = state.last + 1
        if seq == expected:
            state.last = seq
            return SEQ_OK
        if seq > expected:
            state.last = seq
            holes = state.holes
            holes.append((expected, seq - 1))
            if len(holes) > _MAX_HOLES:
                del holes[0]
            return SeqCheck(SeqStatus.GAP, expected, seq)
        if self._fill_hole(state, seq):
            return SeqCheck(SeqStatus.OUT_OF_ORDER, expected, seq)
        return SeqCheck(SeqStatus.DUPLICATE, expected, seq)

    def observe_message(self, msg: object) -> SeqCheck | None:
        """:meth:`observe` for any decoded message that carries both ``sid`` and ``seq``: data
        messages, ``ok``/``unsubscribed`` replies, sid-scoped errors, unknown types on our sids.
        ``None`` for messages outside any sequence (``ticker``, ``subscribed``, plain errors)."""
        sid = getattr(msg, "sid", None)
        seq = getattr(msg, "seq", None)
        if sid is None or seq is None:
            return None
        return self.observe(sid, seq)

    @staticmethod
    def _fill_hole(state: _SidState, seq: int) -> bool:
        """If ``seq`` lies in a remembered hole, take it out of the hole and say so."""
        for i, (lo, hi) in enumerate(state.holes):
            if lo <= seq <= hi:
                pieces = [(a, b) for a, b in ((lo, seq - 1), (seq + 1, hi)) if a <= b]
                state.holes[i : i + 1] = pieces
                return True
        return False

    def last(self, sid: int) -> int | None:
        """The highest number seen on ``sid`` (None before its first message)."""
        state = self._sids.get(sid)
        return None if state is None else state.last

    def reset(self, sid: int) -> None:
        """Forget ``sid``'s position: its next message sets a new baseline (e.g. resubscribed)."""
        self._sids.pop(sid, None)

    def forget(self, sid: int) -> None:
        """Drop ``sid`` entirely (unsubscribed, or a new ``subscribed`` reuses the number)."""
        self._sids.pop(sid, None)

    def reset_all(self) -> None:
        """A new connection: every sid's numbering starts again."""
        self._sids.clear()

    def __contains__(self, sid: object) -> bool:
        return sid in self._sids
