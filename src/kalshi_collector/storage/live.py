"""LiveStore: the crash-safe, append-only store under the live collector.

Life of a row::

    append()  -> pending run: msgpack in memory (O(1), no I/O; ``rowruns.py``)
    sync()    -> journal frame + fsync            (now a kill -9 cannot lose it)
    flush()   -> part file per (table, UTC day)   (temp, fsync, rename), then the journal
                 segments it covered are deleted
    compact() -> one sorted file per finished day, parts deleted after a verified read-back

Every accepted row is at all times in memory, in the journal, or in a parquet file, and the
journal's coverage invariant (``journal/__init__.py``) makes recovery exactly-once. Errors never escape the
background paths: a failed sync or flush is logged at ERROR (the same error once a minute with a
count of repeats, :mod:`kalshi_collector.repeats`, and a line when it clears), counted in
:attr:`LiveStore.stats`, and retried by the next call with nothing dropped. Rows that cannot be stored at all (wrong width,
wrong types) are quarantined under ``_rejected/`` with the reason, never silently lost and never
allowed to block the good rows around them.

Threads: ``append``/``extend`` may be called from one thread (the event loop) while ``sync`` runs in
another (the store's own sync thread when ``journal_sync_interval`` is set) and ``flush``/
``compact`` in a third. ``append`` takes no store lock: each table's pending :class:`RowRuns` is
never replaced, and its own lock (held for one row's encoding) keeps a run from being taken
half-written by ``sync``/``flush``. ``_io_lock`` serialises
journal writes and every other buffer change; ``_flush_lock`` lets one flush or recovery run at a
time. Part files are written outside ``_io_lock``, so syncing goes on while a big flush writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from kalshi_collector.repeats import ErrorKind, RepeatedLog
from kalshi_collector.storage.arrowtables import check_table
from kalshi_collector.storage.buffers import RowBuffers
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.closing import StopReport, retry_until_stored
from kalshi_collector.storage.daycompactor import DayCompactor
from kalshi_collector.storage.fs import (
    StorageFS,
    data_root,
    default_journal_dir,
    is_object_store_url,
    open_data_dir,
)
from kalshi_collector.storage.journal import JournalOptions, JournalWriter
from kalshi_collector.storage.journalsync import JournalSync
from kalshi_collector.storage.partwrite import PartWriter
from kalshi_collector.storage.recovery import UNKNOWN_TABLE, JournalRecovery
from kalshi_collector.storage.rowruns import RowRuns, runs_of

__all__ = ["LiveStore"]

log = logging.getLogger(__name__)

_COLLECTOR_ID_RE = re.compile(r"^[A-Za-z0-9_]+$")


def _journal_path(data_dir: str | os.PathLike[str], root: Path,
                  journal_dir: str | os.PathLike[str] | None) -> Path:
    """The journal's folder: given, else ``DATA/_journal``, else (object store) a local state folder."""
    if journal_dir is not None:
        return Path(journal_dir)
    if is_object_store_url(data_dir):
        return default_journal_dir(data_dir)
    return Path(root) / "_journal"


def _refusal(closed: bool, table: str, rows: Sequence[Sequence[Any]]) -> Exception:
    """Why :meth:`LiveStore.append` refuses these rows."""
    if closed:
        return RuntimeError("LiveStore is closed")
    if table not in TABLES:
        return ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    width = TABLES[table].width
    bad = next(row for row in rows if len(row) != width)
    return ValueError(f"{table}: expected {width} values ({', '.join(TABLES[table].schema.names)}), "
                      f"got {len(bad)}: {bad!r}")


class LiveStore:
    """Append-only parquet store with a write-ahead journal. See the module docstring.

    ``journal_sync_interval``: when set (seconds), a daemon thread calls :meth:`sync` at that
    period, so the caller only appends; ``None`` leaves syncing to the caller.
    ``journal_dir`` defaults to ``DATA_DIR/_journal``; it must be a local disk (fsync). For an
    object-store ``data_dir`` (``s3://bucket/prefix``) it defaults to a local state folder
    (:func:`~kalshi_collector.storage.fs.default_journal_dir`).
    ``journal_options``: segment size (the disk space reserved for the journal) and the file layer
    (tests inject faults through it); see ``journal``.
    ``writer_process_min_rows``: parts this big are written by a helper process (``partjob.py``:
    the flush then takes none of the read loop's GIL time); None: all in this process.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        collector_id: str = "c0",
        journal_sync_interval: float | None = 0.2,
        *,
        journal_dir: str | os.PathLike[str] | None = None,
        fs: StorageFS | None = None,
        journal_options: JournalOptions | None = None,
        writer_process_min_rows: int | None = None,
    ) -> None:
        if not _COLLECTOR_ID_RE.match(collector_id):
            raise ValueError(f"collector_id {collector_id!r}: expected letters, digits or underscores only")
        if fs is None:
            self._fs, self.root = open_data_dir(data_dir)
        else:
            self._fs, self.root = fs, data_root(fs, data_dir)
        self.collector_id = collector_id
        self.journal_sync_interval = journal_sync_interval
        self._io_lock = threading.Lock()
        self._journal = JournalWriter(_journal_path(data_dir, self.root, journal_dir), collector_id,
                                      options=journal_options)
        self._parts = PartWriter(self._fs, self.root, collector_id, self._write_error, process_min_rows=writer_process_min_rows)
        self._compactor = DayCompactor(self._fs, self.root, collector_id)
        self._recovery = JournalRecovery(self._fs, self.root, collector_id, self._journal, self._io_lock)
        self._buffers = RowBuffers()
        self._sinks: dict[str, tuple[int, RowRuns]] = {  # the hot path's runs (never replaced)
            name: (spec.width, self._buffers.pending[name]) for name, spec in TABLES.items()
        }
        self._flush_lock = threading.Lock()
        self._tables = self._buffers.tables
        self._closed = False
        self._rows_written = dict.fromkeys(TABLES, 0)
        self._rows_recovered = dict.fromkeys(TABLES, 0)
        self._counters = dict.fromkeys(("write_errors", "flushes"), 0)
        self._timings = {"last_flush_seconds": 0.0, "last_flush_rows": 0}
        self._last_flush_ok = True
        self._last_error = ""  # the last storage write error, for the stop report
        self._write_errors = RepeatedLog(log)  # the same storage error at most once a minute, with a count
        self._data_dir = os.fspath(data_dir)
        self._waited = 0.0  # how long close() waited for space
        self._syncer = JournalSync(self._journal, self._buffers, self._tables, self._io_lock)
        if journal_sync_interval:
            self._syncer.start(float(journal_sync_interval))

    # -- hot path -----------------------------------------------------------------------------

    def append(self, table: str, row: Sequence[Any]) -> None:
        """Buffer one row (a tuple in schema column order, times as int epoch microseconds)."""
        sink = self._sinks.get(table)
        if sink is None or len(row) != sink[0]:
            raise _refusal(self._closed, table, [row])
        sink[1].append(row)

    def appender(self, table: str) -> Callable[[tuple], None]:
        """``table``'s bare append (``RowRuns.append``), for rows of the right width by construction
        (the raw tape's frames: there even :meth:`append`'s check costs); the flush checks them."""
        if table not in self._sinks:
            raise _refusal(self._closed, table, [()])
        return self._sinks[table][1].append

    def extend(self, table: str, rows: Iterable[Sequence[Any]]) -> None:
        """Buffer many rows of one table."""
        rows = rows if isinstance(rows, list) else list(rows)
        sink = self._sinks.get(table)
        if sink is None or any(len(row) != sink[0] for row in rows):
            raise _refusal(self._closed, table, rows)
        sink[1].extend(rows)

    def append_table(self, table: str, data: pa.Table) -> None:
        """Buffer a whole Arrow table of ``table`` (exactly its schema): journaled as Arrow IPC and
        written as it is, with no Python tuple per row (``arrowtables.py``)."""
        if self._closed:
            raise RuntimeError("LiveStore is closed")
        check_table(table, data)
        self._tables.add(table, data)

    # -- journal --------------------------------------------------------------------------------

    def sync(self) -> None:
        """Journal every row appended since the last sync and fsync it (``journalsync.py``).

        Once this returns without an error in the log, a kill -9 loses none of those rows. On a
        journal error (disk full...) it logs, counts ``journal_errors`` and keeps the rows pending
        for the next sync; it never raises.
        """
        self._syncer.sync()

    # -- flush ----------------------------------------------------------------------------------

    def flush(self) -> dict[str, int]:
        """Write every buffered row to new part files; return rows written per table.

        Never raises: a failed write is logged (ERROR), counted in ``write_errors``, and its rows
        stay buffered and journaled for the next flush.
        """
        with self._flush_lock:
            if self._journal.closed:
                return {}
            return self._flush_locked()

    def _flush_locked(self) -> dict[str, int]:
        if self._journal.inherited:
            log.warning("flush before recover(): recovering %d journal segments first",
                        len(self._journal.inherited))
            self._adopt_inherited()
        started = time.perf_counter()
        with self._io_lock:
            self._syncer.sync_locked()
            if self._buffers.idle:
                self._retire(self._journal.current - 1)
                self._last_flush_ok = True
                return {}
            try:
                cut = self._journal.rotate()
            except OSError as exc:
                self._write_error("cannot start a new journal segment; nothing flushed", exc)
                self._last_flush_ok = False
                return {}
            batch = self._buffers.take_all()
        written = dict.fromkeys(TABLES, 0)
        complete = False
        try:
            ok = True
            for name, spec in TABLES.items():
                written[name], table_ok = self._parts.write_table(spec, cut, batch.tables[name], batch.rejects)
                ok &= table_ok
            ok &= self._parts.write_rejects(cut, batch.rejects)
            complete = ok
        finally:
            with self._io_lock:
                self._buffers.give_back(batch)
                if complete:
                    self._retire(cut)
        if complete and self._write_errors.active:
            self._write_errors.clear_all("part files are written again; every buffered row is stored")
        for name, count in written.items():
            self._rows_written[name] += count
        self._counters["flushes"] += 1
        self._last_flush_ok = complete
        self._timings["last_flush_seconds"] = time.perf_counter() - started
        self._timings["last_flush_rows"] = sum(written.values())
        return {name: count for name, count in written.items() if count}

    def _retire(self, upto: int) -> None:
        try:
            self._journal.delete_upto(upto)
        except OSError as exc:
            # Harmless: recovery would find every row of them covered by parts. Retried next flush.
            log.warning("cannot delete journal segments up to %d: %s", upto, exc)

    def _write_error(self, what: str, exc: BaseException) -> None:
        self._counters["write_errors"] += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._write_errors.error(ErrorKind.of(exc), "storage write failed: %s: %s: %s", what, type(exc).__name__, exc)

    # -- recovery -------------------------------------------------------------------------------

    def recover(self) -> dict[str, int]:
        """Replay journal segments left by an earlier process into part files.

        Returns rows recovered per table (rows of the journal that no part held yet). Idempotent
        and crash-safe: see ``journal/__init__.py``. If writing fails, the rows stay buffered and journaled
        and the next flush retries them.
        """
        with self._flush_lock:
            counts = self._adopt_inherited()
            self._flush_locked()
        return counts

    def _adopt_inherited(self) -> dict[str, int]:
        found = self._recovery.adopt()
        with self._io_lock:
            for table, rows in found.rows.items():
                runs, bad = runs_of(TABLES[table], rows)
                self._buffers.add_journaled(table, runs)
                if bad:
                    self._buffers.rejects.setdefault(table, []).extend(bad)
                self._rows_recovered[table] += len(rows)
            for table, tables in found.tables.items():
                self._tables.journaled[table][:0] = tables
                self._rows_recovered[table] += sum(t.num_rows for t in tables)
            if found.strays:
                self._buffers.rejects.setdefault(UNKNOWN_TABLE, []).extend(found.strays)
        return found.counts

    # -- compaction -----------------------------------------------------------------------------

    def compact(self, today: dt.date) -> list[str]:
        """Merge this collector's parts of every finished day into its day files; return the files
        written. A day that fails is logged, counted and left as parts (``daycompactor.py``: shards
        sharing a folder never touch each other's files)."""
        return self._compactor.compact(today)

    # -- state ----------------------------------------------------------------------------------

    @property
    def buffered_rows(self) -> int:
        """Rows accepted but not yet in a part file (pending, journaled, or being written)."""
        return self._buffers.buffered_rows

    @property
    def unsynced_rows(self) -> int:
        """Rows a kill -9 right now would lose."""
        return self._buffers.unsynced_rows

    @property
    def stats(self) -> dict[str, Any]:
        return {
            "rows_written": dict(self._rows_written),
            "rows_recovered": dict(self._rows_recovered),
            "rows_rejected": dict.fromkeys(TABLES, 0) | self._parts.rows_rejected,
            **self._counters,
            "journal_errors": self._syncer.errors,
            "syncs": self._syncer.syncs,
            "journal_bytes": self._syncer.bytes,
            "last_sync_seconds": self._syncer.last_seconds,
            "compaction_errors": self._compactor.errors,
            **self._parts.counts,
            "days_compacted": self._compactor.days_compacted,
            "torn_journal_bytes": self._recovery.torn_bytes,
            "damaged_journal_bytes": self._recovery.damaged_bytes,
            **self._timings,
            "last_flush_ok": self._last_flush_ok,
            "buffered_rows": self.buffered_rows,
            "unsynced_rows": self.unsynced_rows,
            "journal_segments": len(self._journal.owned),
            "journal_reserve_bytes": self._journal.reserve.total,
        }

    def close(self, wait_for_space_seconds: float = 0.0) -> StopReport:
        """Stop the sync thread, then flush; while part files cannot be written (a full disk) retry
        for up to ``wait_for_space_seconds``, then journal what is left (into the journal's reserved
        space) for the next start's :meth:`recover`. Returns what was left and where (logged at
        ERROR when anything was)."""
        if not self._closed:
            self._closed = True
            self._sinks = {}  # from now on append() refuses
            self._syncer.stop()
            self._waited = retry_until_stored(self, wait_for_space_seconds)
            self._parts.close()
        report = StopReport(self.buffered_rows, self.unsynced_rows, self._journal.directory, self._data_dir,
                            self._waited, self._last_error)
        if not self._journal.closed:
            if not report.clean:
                log.error("closing: %s", report.message())
            self._journal.close()
        return report

    def __enter__(self) -> LiveStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

