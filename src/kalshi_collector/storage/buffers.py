"""The live store's rows between ``append`` and a part file: pending, journaled, being written.

Every accepted row is always in exactly one of: ``pending`` (appended, not yet journaled),
``journaled`` (in the journal, not yet in a part), a flush's :class:`FlushBatch` (being written;
counted in :attr:`RowBuffers.inflight`), or a part file. Whole Arrow tables
(``LiveStore.append_table``) follow the same path in :class:`~.arrowtables.ArrowTables`. The store
calls these methods under its I/O lock; ``pending``'s lists are never replaced (the hot path
appends to them without a lock), only cut from their front.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kalshi_collector.storage.arrowtables import ArrowTables
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.journal.pieces import Buffer
from kalshi_collector.storage.partjob import EncodedRows
from kalshi_collector.storage.partwrite import TableRows
from kalshi_collector.storage.rows import Rejected

__all__ = ["FlushBatch", "RowBuffers"]


_RELEASE_SLICE = 4096


def _empty() -> dict[str, list]:
    return {name: [] for name in TABLES}


@dataclass
class FlushBatch:
    """What one flush writes: per table its rows and tables, and the rows to quarantine."""

    tables: dict[str, TableRows]
    rejects: dict[str, list[Rejected]]

    def release(self) -> None:
        """Free the flushed rows a slice at a time (after :meth:`RowBuffers.give_back`).

        Dropping a list of 100,000 row tuples frees them all in one C call that holds the GIL for
        tens of milliseconds, a stall of the read loop; freed in slices, with a turn for the loop
        between them, each hold is well under a millisecond.
        """
        for rows in self.tables.values():
            rows.encoded = None
            for column in (rows.journaled, rows.pending):
                while column:
                    del column[-_RELEASE_SLICE:]
                    time.sleep(0)


class RowBuffers:
    """Owns the row buffers; see the module docstring."""

    def __init__(self) -> None:
        self.pending: dict[str, list] = _empty()  # appended, not yet journaled (lists never replaced)
        self.journaled: dict[str, list] = _empty()  # journaled, not yet in a part file
        self.tables = ArrowTables()  # whole Arrow tables, pending and journaled
        self.rejects: dict[str, list[Rejected]] = {}  # could not be stored, quarantine not yet written
        self.encoded = {name: EncodedRows() for name in TABLES}  # the journaled rows' msgpack (their tail)
        self.inflight = 0

    # -- journal ------------------------------------------------------------------------------------

    def take_pending(self) -> list[tuple[str, list]]:
        """Copy the rows appended so far; they stay pending until :meth:`journaled_now`."""
        return [(name, rows[: len(rows)]) for name, rows in self.pending.items() if rows]

    def journaled_now(self, taken: list[tuple[str, list]],
                      encoded: Mapping[str, list[Sequence[Buffer]] | None] | None = None) -> None:
        """``taken`` (from :meth:`take_pending`) is in the journal; ``encoded``: per table the
        msgpack chunks the journal wrote them from (None: not usable), kept for the flush."""
        for name, rows in taken:
            del self.pending[name][: len(rows)]
            self.journaled[name].extend(rows)
            self.encoded[name].add((encoded or {}).get(name), len(rows))

    # -- flush --------------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        return not (any(self.journaled.values()) or any(self.pending.values()) or self.rejects or self.tables.rows)

    def take_all(self) -> FlushBatch:
        """Everything buffered, for one flush (pending rows too: the journal may be failing)."""
        journaled, self.journaled = self.journaled, _empty()
        encoded, self.encoded = self.encoded, {name: EncodedRows() for name in TABLES}
        taken = self.take_pending()
        for name, rows in taken:
            del self.pending[name][: len(rows)]
        pending = {name: [] for name in TABLES} | dict(taken)
        rejects, self.rejects = self.rejects, {}
        tables_j, tables_p = self.tables.take_all()
        self.inflight = (sum(map(len, journaled.values())) + sum(map(len, pending.values()))
                         + ArrowTables.count(tables_j) + ArrowTables.count(tables_p))
        return FlushBatch({name: TableRows(journaled[name], pending[name], tables_journaled=tables_j[name],
                                           tables_pending=tables_p[name], encoded=encoded[name])
                           for name in TABLES}, rejects)

    def give_back(self, batch: FlushBatch) -> None:
        """What the flush could not write goes back in front, in order, where it came from."""
        for name, rows in batch.tables.items():
            if rows.back_journaled:
                self.journaled[name][:0] = rows.back_journaled
            if rows.back_pending:
                self.pending[name][:0] = rows.back_pending
        self.tables.give_back({n: r.back_tables_journaled for n, r in batch.tables.items()},
                              {n: r.back_tables_pending for n, r in batch.tables.items()})
        for name, bad in batch.rejects.items():
            self.rejects.setdefault(name, [])[:0] = bad
        self.inflight = 0

    # -- counts -------------------------------------------------------------------------------------

    @property
    def buffered_rows(self) -> int:
        """Rows accepted but not yet in a part file (pending, journaled, or being written)."""
        return (sum(map(len, self.pending.values())) + sum(map(len, self.journaled.values()))
                + self.tables.rows + self.inflight)

    @property
    def unsynced_rows(self) -> int:
        """Rows a kill -9 right now would lose."""
        return sum(map(len, self.pending.values())) + self.tables.unjournaled_rows
