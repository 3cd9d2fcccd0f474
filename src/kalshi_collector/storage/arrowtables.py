"""Whole Arrow tables in the live store (``LiveStore.append_table``), beside the row tuples.

Why: a snapshot of 20,000 markets is half a million order-book levels. Built as Arrow columns
(``live/snapshot.py``), turning them into Python tuples for the row path costs the read loop
hundreds of milliseconds, and msgpack-encoding those tuples costs the journal thread as much again.
So a table goes through the store as it is:

* in memory: a list of tables per dataset (``pending`` until journaled, then ``journaled``), the
  same life as the rows (``storage/live.py``);
* in the journal: inside the ordinary frame, as the batch ``[TABLE@arrow, [ipc, ipc, ...]]``,
  each ``ipc`` one table in the Arrow IPC stream format (zstd-compressed buffers). A frame is still
  "a list of (name, list)" to the journal: only the content is new. Recovery and the inspect tool
  (``python -m kalshi_collector.storage.journal``) read the ``@arrow`` batches with :func:`from_ipc`;
  the coverage rule is the rows' (a table's rows of day D in segment N are stored when a part of
  (table, D) numbered N or higher exists), applied to each day's slice of the table;
* at flush: each day's slice of the tables is concatenated with the table built from that day's
  rows, into the one part file of (table, day).

A table must have exactly the dataset's schema and times within the store's range: checked in
:func:`check_table` when it is appended (a programming error, raised to the caller), so the flush
never has to reject a row of one.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.layout import DAY_US, MAX_US

__all__ = [
    "ARROW_SUFFIX",
    "ArrowTables",
    "base_name",
    "check_table",
    "from_ipc",
    "frame_name",
    "split_by_day",
    "to_ipc",
]

ARROW_SUFFIX = "@arrow"
# zstd: the compression runs in Arrow's C++ without the GIL (the journal thread), and the smaller
# the blob, the shorter the msgpack copy that does hold it (a 20,000-market snapshot: 3.2 MB, ~1 ms;
# LZ4 4.7 MB; none 19 MB).
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def frame_name(table: str) -> str:
    """The journal batch name of ``table``'s Arrow tables."""
    return table + ARROW_SUFFIX


def base_name(batch: str) -> str | None:
    """The table of a journal batch of Arrow tables; None for a batch of rows."""
    return batch[: -len(ARROW_SUFFIX)] if batch.endswith(ARROW_SUFFIX) else None


def to_ipc(table: pa.Table) -> memoryview:
    """The table as an Arrow IPC stream: a view of Arrow's buffer (msgpack copies it into the frame
    once; no copy to ``bytes`` first)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


def from_ipc(blob: bytes | memoryview) -> pa.Table:
    """One table journaled by :func:`to_ipc`; raises ``pa.ArrowInvalid`` if it is not one."""
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


def check_table(table_name: str, table: pa.Table) -> None:
    """Refuse a table the store could not write as it is, with what to fix."""
    if table_name not in TABLES:
        raise ValueError(f"unknown table {table_name!r}; expected one of {', '.join(TABLES)}")
    spec = TABLES[table_name]
    if not isinstance(table, pa.Table):
        raise TypeError(f"{table_name}: append_table takes a pyarrow.Table, got {type(table).__name__}")
    if not table.schema.equals(spec.schema):
        raise ValueError(f"{table_name}: the table's schema must be storage.schemas' exactly "
                         f"({spec.schema.to_string(show_schema_metadata=False)}), got "
                         f"{table.schema.to_string(show_schema_metadata=False)}")
    if table.num_rows:
        times = table.column(0)
        span = pc.min_max(times.cast(pa.int64()))
        if times.null_count or not 0 <= span["min"].as_py() <= span["max"].as_py() < MAX_US:
            raise ValueError(f"{table_name}.{spec.time_column}: every time must be set, from 1970 to "
                             f"{MAX_US // DAY_US} days later")


def split_by_day(tables: Iterable[pa.Table]) -> dict[int, list[pa.Table]]:
    """Each table's rows by the UTC day of their time column (column 0), as the rows are split."""
    by_day: dict[int, list[pa.Table]] = {}
    for table in tables:
        if not table.num_rows:
            continue
        days = pc.divide(table.column(0).cast(pa.int64()), DAY_US)
        span = pc.min_max(days)
        first, last = span["min"].as_py(), span["max"].as_py()
        if first == last:  # the usual case: a snapshot is one instant
            by_day.setdefault(first, []).append(table)
            continue
        for day in pc.unique(days).to_pylist():
            by_day.setdefault(day, []).append(table.filter(pc.equal(days, day)))
    return by_day


def _empty() -> dict[str, list[pa.Table]]:
    return {name: [] for name in TABLES}


class ArrowTables:
    """The store's Arrow tables not yet in a part file: ``pending`` (not journaled) and ``journaled``.

    Same threading as the store's row lists: ``add`` (the event loop) only appends to a pending
    list that is never replaced; the journal and the flush cut from its front under the store's
    I/O lock, having read its length first.
    """

    def __init__(self) -> None:
        self.pending: dict[str, list[pa.Table]] = _empty()
        self.journaled: dict[str, list[pa.Table]] = _empty()

    def add(self, table_name: str, table: pa.Table) -> None:
        self.pending[table_name].append(table)

    def take_pending(self) -> list[tuple[str, list[pa.Table]]]:
        """The tables appended so far (they stay pending until :meth:`drop_pending`)."""
        return [(name, tables[: len(tables)]) for name, tables in self.pending.items() if tables]

    def drop_pending(self, taken: list[tuple[str, list[pa.Table]]]) -> None:
        for name, tables in taken:
            del self.pending[name][: len(tables)]

    @staticmethod
    def frame_batches(taken: list[tuple[str, list[pa.Table]]]) -> list[tuple[str, list[memoryview]]]:
        """The journal batches of tables taken by :meth:`take_pending`."""
        return [(frame_name(name), [to_ipc(t) for t in tables]) for name, tables in taken]

    def journal(self, taken: list[tuple[str, list[pa.Table]]]) -> None:
        """Tables taken by :meth:`take_pending` are now in the journal."""
        self.drop_pending(taken)
        for name, tables in taken:
            self.journaled[name].extend(tables)

    def take_all(self) -> tuple[dict[str, list[pa.Table]], dict[str, list[pa.Table]]]:
        """Everything, for a flush: (journaled, pending); the store is left empty."""
        journaled, self.journaled = self.journaled, _empty()
        taken = self.take_pending()
        self.drop_pending(taken)
        return journaled, _empty() | dict(taken)

    def give_back(self, journaled: dict[str, list[pa.Table]], pending: dict[str, list[pa.Table]]) -> None:
        """Tables a flush could not write, in front of what arrived since."""
        for name, tables in journaled.items():
            self.journaled[name][:0] = tables
        for name, tables in pending.items():
            self.pending[name][:0] = tables

    @staticmethod
    def count(tables: dict[str, list[pa.Table]]) -> int:
        return sum(t.num_rows for ts in tables.values() for t in ts)

    @property
    def unjournaled_rows(self) -> int:
        return self.count(self.pending)

    @property
    def rows(self) -> int:
        return self.count(self.pending) + self.count(self.journaled)
