"""The live collector's counters: one typed record, written by the parts, read by stats and metrics.

Plain ``int`` attributes of a slots dataclass: ``counters.messages += 1`` is as cheap as it gets on
the hot path, and a misspelt name is an ``AttributeError`` instead of a silent zero. Counts with a
kind (sequence breaks, bad books, snapshot triggers) are keyed by the enum that names the kind, so
the metric label and the counted thing are declared once.

Every part is handed the one :class:`Counters` of its collector and writes only its own fields
(noted per group below); readers take a :meth:`Counters.copy` so that a scrape sees one instant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from kalshi_collector.book import BookStatus
from kalshi_collector.kalshi.lax import FieldRepair
from kalshi_collector.kalshi.messages import UnknownField
from kalshi_collector.live.sequence import SeqStatus

__all__ = ["Counters", "Lag", "SnapshotTrigger", "SEQ_BREAKS", "BAD_BOOKS", "OTHER_TYPES", "MAX_NAMED_TYPES"]

MAX_NAMED_TYPES = 50
"""Unknown message types counted by name, at most this many (each is a metric label); later ones
are counted under :data:`OTHER_TYPES`, so a stream of made-up types cannot grow the metrics."""
OTHER_TYPES = "other"
MAX_UNKNOWN_FIELDS = 200
"""Distinct undeclared (type, field) pairs counted at most (each is a metric label)."""

SEQ_BREAKS = (SeqStatus.GAP, SeqStatus.DUPLICATE, SeqStatus.OUT_OF_ORDER)
"""The sequence results that are breaks (metric label = ``status.value``)."""

BAD_BOOKS = (BookStatus.NEGATIVE, BookStatus.CROSSED, BookStatus.BAD_VALUE)
"""The book results that invalidate a book and ask for a snapshot."""


class SnapshotTrigger(enum.Enum):
    """Why a snapshot cycle ran; ``value`` is what the ``trigger`` column holds."""

    PERIODIC = "periodic"
    SPIKE = "spike"


def _zeros(kinds: tuple[enum.Enum, ...] | type[enum.Enum]) -> dict:
    return dict.fromkeys(kinds, 0)


@dataclass(slots=True)
class Counters:
    # stream (connections)
    connects: int = 0
    disconnects: int = 0
    handshake_refused: int = 0
    stream_errors: int = 0
    # frame handler
    messages: int = 0
    malformed: int = 0
    unknown_type: int = 0
    handler_errors: int = 0
    ws_errors: int = 0
    unknown_types: dict[str, int] = field(default_factory=dict)  # unknown message types, by name
    field_repairs: dict[FieldRepair, int] = field(default_factory=dict)  # tolerant decoder's repairs
    # undeclared fields of known types, by (type, field), in the sampled frames (FrameHandler.CENSUS_EVERY)
    unknown_fields: dict[UnknownField, int] = field(default_factory=dict)
    # records that could not be decoded, by source ("ws", "rest:markets"...): the `rejects` table
    rejects: dict[str, int] = field(default_factory=dict)
    seq_breaks: dict[SeqStatus, int] = field(default_factory=lambda: _zeros(SEQ_BREAKS))
    # resync
    bad_books: dict[BookStatus, int] = field(default_factory=lambda: _zeros(BAD_BOOKS))
    resync_requests: int = 0
    recovered: int = 0
    # cross-check
    rest_checks: int = 0
    rest_mismatches: int = 0
    rest_checks_inconclusive: int = 0
    # snapshots
    snapshots: dict[SnapshotTrigger, int] = field(default_factory=lambda: _zeros(SnapshotTrigger))

    def copy(self) -> Counters:
        """An independent copy (the keyed counts too): what one scrape or test reads."""
        return replace(self, seq_breaks=dict(self.seq_breaks), bad_books=dict(self.bad_books),
                       snapshots=dict(self.snapshots), unknown_types=dict(self.unknown_types),
                       field_repairs=dict(self.field_repairs), rejects=dict(self.rejects),
                       unknown_fields=dict(self.unknown_fields))

    def note_unknown_type(self, name: str) -> None:
        self.unknown_type += 1
        known = self.unknown_types
        key = name if name in known or len(known) < MAX_NAMED_TYPES else OTHER_TYPES
        known[key] = known.get(key, 0) + 1

    def note_repair(self, repair: FieldRepair) -> None:
        """One field the tolerant decoder repaired (the set of keys is bounded by our structs' fields)."""
        self.field_repairs[repair] = self.field_repairs.get(repair, 0) + 1

    def note_unknown_fields(self, found: list[UnknownField]) -> None:
        known = self.unknown_fields
        for f in found:
            if f in known or len(known) < MAX_UNKNOWN_FIELDS:
                known[f] = known.get(f, 0) + 1

    def note_reject(self, source: str) -> None:
        self.rejects[source] = self.rejects.get(source, 0) + 1


@dataclass(slots=True)
class Lag:
    """Exchange-to-receive lag of order-book deltas (seconds): monotonic totals for the metrics
    summary, and the largest value since the stats line last reset ``period_max``."""

    total: float = 0.0
    count: int = 0
    period_max: float = 0.0

    def copy(self) -> Lag:
        return replace(self)
