"""LiveStore: the crash-safe, append-only store under the live collector.

Life of a row::

    append()  -> pending buffer (memory, O(1), no I/O)
    sync()    -> journal frame + fsync            (now a kill -9 cannot lose it)
    flush()   -> part file per (table, UTC day)   (temp, fsync, rename), then the journal
                 segments it covered are deleted
    compact() -> one sorted file per finished day, parts deleted after a verified read-back

Every accepted row is at all times in memory, in the journal, or in a parquet file, and the
journal's coverage invariant (``journal/__init__.py``) makes recovery exactly-once. Errors never escape the
background paths: a failed sync or flush is logged at ERROR, counted in :attr:`LiveStore.stats`,
and retried by the next call with nothing dropped. Rows that cannot be stored at all (wrong width,
wrong types) are quarantined under ``_rejected/`` with the reason, never silently lost and never
allowed to block the good rows around them.

Threads: ``append``/``extend`` may be called from one thread (the event loop) while ``sync`` runs in
another (the store's own sync thread when ``journal_sync_interval`` is set) and ``flush``/
``compact`` in a third. ``append`` takes no lock: each table's pending list is never replaced, only
appended to at its end (by ``append``) and cut from its front (by ``sync``/``flush``, which first
read its length), and each of those list operations is atomic in CPython. ``_io_lock`` serialises
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
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.storage.catalog import TABLES, TableSpec
from kalshi_collector.storage.compact import compact_day, merged_part_names
from kalshi_collector.storage.fs import (
    StorageFS,
    data_root,
    default_journal_dir,
    is_object_store_url,
    open_data_dir,
)
from kalshi_collector.storage.journal import (
    JournalOptions,
    JournalWriter,
    SegmentScan,
    damaged_path,
    encode_frame,
    encode_rejects,
    read_segment,
)
from kalshi_collector.storage.layout import PartName, day_from_index, parse_part_name
from kalshi_collector.storage.rows import Rejected, row_day, rows_to_table, split_by_day

__all__ = ["LiveStore"]

log = logging.getLogger(__name__)

_COLLECTOR_ID_RE = re.compile(r"^[A-Za-z0-9_]+$")
_UNKNOWN_TABLE = "_unknown_table"
_UNREADABLE = ".unreadable"  # suffix of a journal segment that could not be read at all


def _empty() -> dict[str, list]:
    return {name: [] for name in TABLES}


class LiveStore:
    """Append-only parquet store with a write-ahead journal. See the module docstring.

    ``journal_sync_interval``: when set (seconds), a daemon thread calls :meth:`sync` at that
    period, so the caller only appends; ``None`` leaves syncing to the caller.
    ``journal_dir`` defaults to ``DATA_DIR/_journal``; it must be a local disk (fsync). For an
    object-store ``data_dir`` (``s3://bucket/prefix``) it defaults to a local state folder
    (:func:`~kalshi_collector.storage.fs.default_journal_dir`).
    ``compact_takeover_seconds``: see :meth:`compact` (collectors sharing one bucket).
    ``journal_options``: segment size (the disk space reserved for the journal) and the file layer
    (tests inject faults through it); see ``journal``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        collector_id: str = "c0",
        journal_sync_interval: float | None = 0.2,
        *,
        journal_dir: str | os.PathLike[str] | None = None,
        fs: StorageFS | None = None,
        compact_takeover_seconds: float = 6 * 3600.0,
        journal_options: JournalOptions | None = None,
    ) -> None:
        if not _COLLECTOR_ID_RE.match(collector_id):
            raise ValueError(f"collector_id {collector_id!r}: expected letters, digits or underscores only")
        if fs is None:
            self._fs, self.root = open_data_dir(data_dir)
        else:
            self._fs, self.root = fs, data_root(fs, data_dir)
        self.collector_id = collector_id
        self.journal_sync_interval = journal_sync_interval
        self.compact_takeover_seconds = compact_takeover_seconds
        if journal_dir is not None:
            journal_path = Path(journal_dir)
        elif is_object_store_url(data_dir):
            journal_path = default_journal_dir(data_dir)
        else:
            journal_path = Path(self.root) / "_journal"
        self._journal = JournalWriter(journal_path, collector_id, options=journal_options)
        self._pending: dict[str, list] = _empty()  # appended, not yet journaled (lists never replaced)
        self._sinks: dict[str, tuple[int, list]] = {
            name: (spec.width, self._pending[name]) for name, spec in TABLES.items()
        }
        self._io_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self._journaled: dict[str, list] = _empty()  # journaled, not yet in a part file
        self._rejects: dict[str, list[Rejected]] = {}  # could not be stored, quarantine not yet written
        self._inflight = 0
        self._closed = False
        self._rows_written = dict.fromkeys(TABLES, 0)
        self._rows_recovered = dict.fromkeys(TABLES, 0)
        self._rows_rejected: dict[str, int] = dict.fromkeys(TABLES, 0)
        self._counters = {
            "write_errors": 0,
            "journal_errors": 0,
            "compaction_errors": 0,
            "flushes": 0,
            "syncs": 0,
            "journal_bytes": 0,
            "torn_journal_bytes": 0,
            "damaged_journal_bytes": 0,
            "parts_written": 0,
            "days_compacted": 0,
        }
        self._timings = {"last_flush_seconds": 0.0, "last_sync_seconds": 0.0, "last_flush_rows": 0}
        self._last_flush_ok = True
        self._stop = threading.Event()
        self._sync_thread: threading.Thread | None = None
        if journal_sync_interval:
            self._sync_thread = threading.Thread(target=self._sync_loop, name="kc-journal-sync", daemon=True)
            self._sync_thread.start()

    # -- hot path -----------------------------------------------------------------------------

    def append(self, table: str, row: Sequence[Any]) -> None:
        """Buffer one row (a tuple in schema column order, times as int epoch microseconds)."""
        sink = self._sinks.get(table)
        if sink is None or len(row) != sink[0]:
            raise self._refusal(table, [row])
        sink[1].append(row)

    def appender(self, table: str) -> Callable[[tuple], None]:
        """The bare ``append`` of ``table``'s pending list, for a caller whose rows have the table's
        width by construction (the raw tape: one per WebSocket frame, where even :meth:`append`'s
        width check is a measurable share of the read loop). Rows are checked at the flush as always."""
        if table not in self._sinks:
            raise self._refusal(table, [()])
        return self._sinks[table][1].append

    def extend(self, table: str, rows: Iterable[Sequence[Any]]) -> None:
        """Buffer many rows of one table."""
        rows = rows if isinstance(rows, list) else list(rows)
        sink = self._sinks.get(table)
        if sink is None or any(len(row) != sink[0] for row in rows):
            raise self._refusal(table, rows)
        sink[1].extend(rows)

    def _refusal(self, table: str, rows: Sequence[Sequence[Any]]) -> Exception:
        if self._closed:
            return RuntimeError("LiveStore is closed")
        if table not in TABLES:
            return ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        width = TABLES[table].width
        bad = next(row for row in rows if len(row) != width)
        return ValueError(f"{table}: expected {width} values ({', '.join(TABLES[table].schema.names)}), "
                          f"got {len(bad)}: {bad!r}")

    # -- journal --------------------------------------------------------------------------------

    def sync(self) -> None:
        """Journal every row appended since the last sync and fsync it.

        Once this returns without an error in the log, a kill -9 loses none of those rows. On a
        journal error (disk full...) it logs, counts ``journal_errors`` and keeps the rows pending
        for the next sync; it never raises.
        """
        with self._io_lock:
            if not self._journal.closed:
                self._sync_locked()

    def _take_pending(self) -> list[tuple[str, list]]:
        """Copy the rows appended so far; they stay pending until :meth:`_drop_pending`."""
        return [(name, rows[: len(rows)]) for name, rows in self._pending.items() if rows]

    def _drop_pending(self, taken: list[tuple[str, list]]) -> None:
        for name, rows in taken:
            del self._pending[name][: len(rows)]

    def _sync_locked(self) -> bool:
        batches = self._take_pending()
        if not batches:
            return True
        started = time.perf_counter()
        try:
            frame = encode_frame(batches)
            self._journal.append(frame)
        except OSError as exc:
            self._counters["journal_errors"] += 1
            log.error("journal write failed, %d rows kept in memory for the next sync: %s",
                      sum(len(rows) for _, rows in batches), exc)
            return False
        self._drop_pending(batches)
        for name, rows in batches:
            self._journaled[name].extend(rows)
        self._counters["syncs"] += 1
        self._counters["journal_bytes"] += len(frame)
        self._timings["last_sync_seconds"] = time.perf_counter() - started
        return True

    def _sync_loop(self) -> None:
        interval = float(self.journal_sync_interval or 0.2)
        while not self._stop.wait(interval):
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - the sync thread must outlive any surprise
                log.exception("journal sync failed")

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
            self._sync_locked()
            idle = not (any(self._journaled.values()) or any(self._pending.values()) or self._rejects)
            if idle:
                self._retire(self._journal.current - 1)
                self._last_flush_ok = True
                return {}
            try:
                cut = self._journal.rotate()
            except OSError as exc:
                self._write_error("cannot start a new journal segment; nothing flushed", exc)
                self._last_flush_ok = False
                return {}
            journaled, self._journaled = self._journaled, _empty()
            taken = self._take_pending()  # not journaled: the journal is failing, or they just arrived
            self._drop_pending(taken)
            pending = {name: [] for name in TABLES} | dict(taken)
            rejects, self._rejects = self._rejects, {}
            self._inflight = sum(map(len, journaled.values())) + sum(map(len, pending.values()))
        back_journaled, back_pending = _empty(), _empty()
        written = dict.fromkeys(TABLES, 0)
        complete = False
        try:
            ok = True
            for name, spec in TABLES.items():
                ok &= self._write_table(spec, cut, journaled[name], pending[name], written,
                                        back_journaled[name], back_pending[name], rejects)
            ok &= self._write_rejects(cut, rejects)
            complete = ok
        finally:
            with self._io_lock:
                for name in TABLES:
                    if back_journaled[name]:
                        self._journaled[name][:0] = back_journaled[name]
                    if back_pending[name]:
                        self._pending[name][:0] = back_pending[name]
                for name, bad in rejects.items():
                    self._rejects.setdefault(name, [])[:0] = bad
                self._inflight = 0
                if complete:
                    self._retire(cut)
        for name, count in written.items():
            self._rows_written[name] += count
        self._counters["flushes"] += 1
        self._last_flush_ok = complete
        self._timings["last_flush_seconds"] = time.perf_counter() - started
        self._timings["last_flush_rows"] = sum(written.values())
        return {name: count for name, count in written.items() if count}

    def _write_table(
        self,
        spec: TableSpec,
        cut: int,
        journaled: list,
        pending: list,
        written: dict[str, int],
        back_journaled: list,
        back_pending: list,
        rejects: dict[str, list[Rejected]],
    ) -> bool:
        """Write one part per UTC day of this table's rows; put back the rows of any day that failed."""
        if not journaled and not pending:
            return True
        try:
            by_day_j, bad = split_by_day(spec, journaled)
            by_day_p, bad_p = split_by_day(spec, pending) if pending else ({}, [])
        except Exception as exc:  # noqa: BLE001 - cannot even sort rows into days: keep them all
            back_journaled.extend(journaled)
            back_pending.extend(pending)
            self._write_error(f"{spec.name}: cannot partition {len(journaled) + len(pending)} rows", exc)
            return False
        bad += bad_p
        complete = True
        for day in sorted(by_day_j.keys() | by_day_p.keys()):
            rows_j, rows_p = by_day_j.get(day, []), by_day_p.get(day, [])
            path = None
            try:
                table, bad_rows = rows_to_table(spec, rows_j + rows_p if rows_p else rows_j)
                if not table.num_rows:
                    bad += bad_rows
                    continue
                span = pc.min_max(table.column(0).cast(pa.int64()))
                name = PartName(self.collector_id, span["min"].as_py(), span["max"].as_py(), cut)
                path = spec.layout.part_file(self.root, day_from_index(day), name)
                self._fs.write_parquet(path, table, **spec.part_options)
            except Exception as exc:  # noqa: BLE001 - any failure: keep the rows, report, go on
                if path is None or self._discard(path):
                    back_journaled.extend(rows_j)
                    back_pending.extend(rows_p)
                    complete = False
                    self._write_error(f"{spec.name} {day_from_index(day)}: {len(rows_j) + len(rows_p)} rows "
                                      f"kept for the next flush; writing {path} failed", exc)
                    continue
            bad += bad_rows
            written[spec.name] += table.num_rows
            self._counters["parts_written"] += 1
        if bad:
            rejects.setdefault(spec.name, []).extend(bad)
        return complete

    def _discard(self, path: Path) -> bool:
        """After a failed part write, make sure no part is left; False if one is there to stay."""
        if not self._fs.isfile(path):
            return True
        try:
            self._fs.remove([path])
            return True
        except OSError as exc:
            log.error("a failed write left %s in place and it cannot be deleted (%s): keeping it as written",
                      path, exc)
            return False

    def _write_rejects(self, cut: int, rejects: dict[str, list[Rejected]]) -> bool:
        complete = True
        for name in list(rejects):
            bad = rejects[name]
            if not bad:
                del rejects[name]
                continue
            path = self.root / "_rejected" / name / f"{self.collector_id}-{cut}.msgpack"
            try:
                self._fs.write_bytes(path, encode_rejects(bad))
            except Exception as exc:  # noqa: BLE001
                complete = False
                self._write_error(f"cannot quarantine {len(bad)} bad {name} rows at {path}", exc)
                continue
            self._rows_rejected[name] = self._rows_rejected.get(name, 0) + len(bad)
            log.error("%d %s rows could not be stored and were quarantined in %s; first: %s",
                      len(bad), name, path, bad[0][1])
            del rejects[name]
        return complete

    def _retire(self, upto: int) -> None:
        try:
            self._journal.delete_upto(upto)
        except OSError as exc:
            # Harmless: recovery would find every row of them covered by parts. Retried next flush.
            log.warning("cannot delete journal segments up to %d: %s", upto, exc)

    def _write_error(self, what: str, exc: BaseException) -> None:
        self._counters["write_errors"] += 1
        log.error("storage write failed: %s: %s: %s", what, type(exc).__name__, exc)

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
        counts = dict.fromkeys(TABLES, 0)
        with self._io_lock:
            segments = self._journal.adopt_inherited()
        if not segments:
            return counts
        coverage: dict[tuple[str, int], int] = {}
        adopted = _empty()
        strays: list[Rejected] = []
        skipped = 0
        for number, path in segments:
            scan = self._read_inherited(number, path)
            for table, rows in scan.batches():
                if table not in TABLES:
                    strays += [((table, row), f"unknown table {table!r} in the journal") for row in rows]
                    continue
                bucket = adopted[table]
                for row in rows:
                    day = row_day(row)
                    if day is not None:
                        key = (table, day)
                        covered = coverage.get(key)
                        if covered is None:
                            covered = coverage[key] = self._covered_upto(table, day)
                        if covered >= number:
                            skipped += 1
                            continue
                    bucket.append(row)
        with self._io_lock:
            for table, rows in adopted.items():
                self._journaled[table][:0] = rows
                counts[table] = len(rows)
                self._rows_recovered[table] += len(rows)
            if strays:
                self._rejects.setdefault(_UNKNOWN_TABLE, []).extend(strays)
        log.info("journal recovery: %d segments, %d rows to store, %d already stored",
                 len(segments), sum(counts.values()), skipped)
        return counts

    def _read_inherited(self, number: int, path: Path) -> SegmentScan:
        """Every intact frame of an inherited segment; a damaged one is kept, never deleted."""
        try:
            scan = read_segment(path)
        except OSError as exc:
            with self._io_lock:
                self._journal.disown(number)
            self._set_aside(path, exc)
            return SegmentScan()
        if scan.torn_bytes:
            self._counters["torn_journal_bytes"] += scan.torn_bytes
            log.warning("journal segment %s: dropping an incomplete last frame of %d bytes (a write cut "
                        "short by the stop; it was never synced, so no acknowledged row is lost)",
                        path.name, scan.torn_bytes)
        if scan.damaged:
            self._counters["damaged_journal_bytes"] += scan.damaged_bytes
            with self._io_lock:
                self._journal.quarantine(number)
            log.error("journal segment %s is damaged: %d intact frames (%d rows) recovered, %d bytes "
                      "unreadable (%s); rows in those bytes are missing. It is never deleted: once the "
                      "recovered rows are stored it is renamed %s; keep it to inspect or salvage by hand "
                      "(python -m kalshi_collector.storage.journal FILE), delete it once you accept the loss",
                      path, len(scan.frames), scan.rows, scan.damaged_bytes, scan.describe(),
                      damaged_path(path).name)
        return scan

    def _set_aside(self, path: Path, exc: OSError) -> None:
        """Move an unreadable segment out of the journal: read later under its old number, its rows
        would be taken for stored (newer parts cover that number), so it must not stay a ``.wal``."""
        aside = path.with_name(path.name + _UNREADABLE)
        try:
            os.replace(path, aside)
            where = f"moved to {aside.name}"
        except OSError as move_exc:
            where = f"left in place (cannot move it aside: {move_exc})"
        log.error("cannot read journal segment %s (%s): %s, not recovered; once it can be read, recover "
                  "it under a newer number as docs/operations.md says (Damaged journal segments)",
                  path, exc, where)

    def _covered_upto(self, table: str, day: int) -> int:
        """Largest N of this collector's parts of (table, day), merged ones included; 0 if none."""
        date, layout = day_from_index(day), TABLES[table].layout
        names = {path.name for path in layout.parts(self._fs, self.root, date)}
        try:
            names |= merged_part_names(self._fs, layout.day_file(self.root, date))
        except Exception as exc:  # noqa: BLE001 - an unreadable day file: replay rather than risk a loss
            log.error("cannot read the merged-parts list of %s (%s): replaying its journal rows",
                      layout.day_file(self.root, date), exc)
        best = 0
        for name in names:
            part = parse_part_name(name)
            if part and part.collector_id == self.collector_id:
                best = max(best, part.n)
        return best

    # -- compaction -----------------------------------------------------------------------------

    def compact(self, today: dt.date) -> list[str]:
        """Merge the parts of every day before ``today`` into day files; return the files written.

        A day that fails is logged, counted (``compaction_errors``) and left as parts for next time.

        Collectors sharing one data folder (a bucket, each with its own ``collector_id``) must not
        compact the same day at once: each would rewrite the day file from what it read and one
        could drop the rows the other had just merged. So a day is compacted only by the collector
        with the smallest id among the day's parts, or by anyone once that collector's newest part
        of the day is older than ``compact_takeover_seconds`` (it has stopped: a running collector
        compacts within the hour). A lone collector always compacts its own days.
        """
        done: list[str] = []
        with self._compact_lock:
            for name, spec in TABLES.items():
                for day in spec.layout.part_days(self._fs, self.root, end=today - dt.timedelta(days=1)):
                    if not self._is_compactor(spec.layout.parts(self._fs, self.root, day)):
                        continue
                    try:
                        written = compact_day(self._fs, self.root, spec, day)
                    except Exception as exc:  # noqa: BLE001
                        self._counters["compaction_errors"] += 1
                        log.error("compaction of %s %s failed, parts kept: %s: %s",
                                  name, day, type(exc).__name__, exc)
                        continue
                    if written is not None:
                        done.append(str(written))
                        self._counters["days_compacted"] += 1
        return done

    def _is_compactor(self, parts: list[PurePath]) -> bool:
        """Whether this collector compacts the day of ``parts`` (its part files; see :meth:`compact`)."""
        smaller = [path for path in parts
                   if (part := parse_part_name(path.name)) and part.collector_id < self.collector_id]
        if not smaller:
            return True
        owners = sorted({parse_part_name(path.name).collector_id for path in smaller})  # type: ignore[union-attr]
        try:
            newest = max(self._fs.modified(path) for path in smaller)
        except FileNotFoundError:  # that collector is compacting the day right now
            return False
        if time.time() - newest >= self.compact_takeover_seconds:
            log.warning("compacting %s for collector(s) %s, silent for %.0f h", smaller[0].parent, owners,
                        (time.time() - newest) / 3600)
            return True
        log.debug("leaving %s to collector %s", smaller[0].parent, owners[0])
        return False

    # -- state ----------------------------------------------------------------------------------

    @property
    def buffered_rows(self) -> int:
        """Rows accepted but not yet in a part file (pending, journaled, or being written)."""
        return (sum(map(len, self._pending.values())) + sum(map(len, self._journaled.values()))
                + self._inflight)

    @property
    def unsynced_rows(self) -> int:
        """Rows a kill -9 right now would lose."""
        return sum(map(len, self._pending.values()))

    @property
    def stats(self) -> dict[str, Any]:
        return {
            "rows_written": dict(self._rows_written),
            "rows_recovered": dict(self._rows_recovered),
            "rows_rejected": dict(self._rows_rejected),
            **self._counters,
            **self._timings,
            "last_flush_ok": self._last_flush_ok,
            "buffered_rows": self.buffered_rows,
            "unsynced_rows": self.unsynced_rows,
            "journal_segments": len(self._journal.owned),
            "journal_reserve_bytes": self._journal.reserve.total,
        }

    def close(self) -> None:
        """Stop the sync thread, then a final sync and flush. Rows that still cannot be written
        stay in the journal for the next start's :meth:`recover`."""
        if self._closed:
            return
        self._closed = True
        self._sinks = {}  # from now on append() refuses
        self._stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join()
        self.flush()
        self.sync()
        left = self.buffered_rows
        if left:
            log.error("closing with %d rows not in part files; %d of them journaled for recovery",
                      left, left - self.unsynced_rows)
        self._journal.close()

    def __enter__(self) -> LiveStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

