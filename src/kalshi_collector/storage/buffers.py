"""The live store's rows between ``append`` and a part file: pending, journaled, being written.

Every accepted row is always in exactly one of: ``pending`` (appended, not yet journaled),
``journaled`` (in the journal, not yet in a part), a flush's :class:`FlushBatch` (being written;
counted in :attr:`RowBuffers.inflight`), or a part file. Rows are msgpack runs from the moment
they are appended (``rowruns.py``); whole Arrow tables (``LiveStore.append_table``) follow the same
path in :class:`~.arrowtables.ArrowTables`. The store calls these methods under its I/O lock;
``pending``'s :class:`~.rowruns.RowRuns` are never replaced (the hot path appends to them).
"""

from __future__ import annotations

from dataclasses import dataclass

from kalshi_collector.storage.arrowtables import ArrowTables
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.partwrite import TableRows
from kalshi_collector.storage.rowruns import RowRuns, Run, run_rows
from kalshi_collector.storage.rows import Rejected

__all__ = ["FlushBatch", "RowBuffers"]


def _no_runs() -> dict[str, list[Run]]:
    return {name: [] for name in TABLES}


@dataclass
class FlushBatch:
    """What one flush writes: per table its runs and tables, and the rows to quarantine."""

    tables: dict[str, TableRows]
    rejects: dict[str, list[Rejected]]


class RowBuffers:
    """Owns the row buffers; see the module docstring."""

    def __init__(self) -> None:
        # appended, not yet journaled (never replaced: the hot path holds their append)
        self.pending = {name: RowRuns(spec.large_values) for name, spec in TABLES.items()}
        self.journaled = _no_runs()  # journaled, not yet in a part file
        self.tables = ArrowTables()  # whole Arrow tables, pending and journaled
        self.rejects: dict[str, list[Rejected]] = {}  # could not be stored, quarantine not yet written
        self.inflight = 0

    # -- journal ------------------------------------------------------------------------------------

    def take_pending(self) -> list[tuple[str, list[Run]]]:
        """The runs appended so far; they stay pending until :meth:`journaled_now`."""
        return [(name, runs) for name, pending in self.pending.items() if (runs := pending.sealed())]

    def journaled_now(self, taken: list[tuple[str, list[Run]]]) -> None:
        """``taken`` (from :meth:`take_pending`) is in the journal."""
        for name, runs in taken:
            self.pending[name].drop(len(runs))
            self.journaled[name].extend(runs)

    def add_journaled(self, table: str, runs: list[Run]) -> None:
        """Runs found in the journal (recovery), in front of the rest."""
        self.journaled[table][:0] = runs

    # -- flush --------------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        return not (any(self.journaled.values()) or any(map(len, self.pending.values())) or self.rejects
                    or self.tables.rows)

    def take_all(self) -> FlushBatch:
        """Everything buffered, for one flush (pending rows too: the journal may be failing)."""
        journaled, self.journaled = self.journaled, _no_runs()
        pending = _no_runs()
        for name, runs in self.take_pending():
            self.pending[name].drop(len(runs))
            pending[name] = runs
        rejects, self.rejects = self.rejects, {}
        tables_j, tables_p = self.tables.take_all()
        self.inflight = (sum(map(run_rows, journaled.values())) + sum(map(run_rows, pending.values()))
                         + ArrowTables.count(tables_j) + ArrowTables.count(tables_p))
        return FlushBatch({name: TableRows(journaled[name], pending[name], tables_journaled=tables_j[name],
                                           tables_pending=tables_p[name])
                           for name in TABLES}, rejects)

    def give_back(self, batch: FlushBatch) -> None:
        """What the flush could not write goes back in front, in order, where it came from."""
        for name, rows in batch.tables.items():
            if rows.back_journaled:
                self.journaled[name][:0] = rows.back_journaled
            self.pending[name].put_back(rows.back_pending)
        self.tables.give_back({n: r.back_tables_journaled for n, r in batch.tables.items()},
                              {n: r.back_tables_pending for n, r in batch.tables.items()})
        for name, bad in batch.rejects.items():
            self.rejects.setdefault(name, [])[:0] = bad
        self.inflight = 0

    # -- counts -------------------------------------------------------------------------------------

    @property
    def buffered_rows(self) -> int:
        """Rows accepted but not yet in a part file (pending, journaled, or being written)."""
        return (sum(map(len, self.pending.values())) + sum(map(run_rows, self.journaled.values()))
                + self.tables.rows + self.inflight)

    @property
    def unsynced_rows(self) -> int:
        """Rows a kill -9 right now would lose."""
        return sum(map(len, self.pending.values())) + self.tables.unjournaled_rows
