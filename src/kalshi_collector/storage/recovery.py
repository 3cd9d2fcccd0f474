"""Journal recovery: which rows of the segments an earlier process left no part file holds yet.

A segment numbered N covers rows that parts named ``…-N.parquet`` (or later) of the same collector
hold once a flush succeeded (the coverage invariant, ``journal/__init__.py``). So a row of segment N
is replayed unless this collector already has a part of that (table, day) numbered N or higher.
Damaged segments give up every intact frame and are kept (renamed ``*.wal.damaged`` once the rows
are stored); an unreadable one is moved aside so that a later start cannot take its rows for stored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from kalshi_collector.storage.arrowtables import base_name, check_table, frame_name, from_ipc, split_by_day
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.journal import JournalWriter, SegmentScan, damaged_path, read_segment
from kalshi_collector.storage.layout import day_from_index, parse_part_name
from kalshi_collector.storage.rows import Rejected, row_day

__all__ = ["UNKNOWN_TABLE", "JournalRecovery", "Recovered"]

log = logging.getLogger(__name__)

UNKNOWN_TABLE = "_unknown_table"
_UNREADABLE = ".unreadable"  # suffix of a journal segment that could not be read at all


@dataclass
class Recovered:
    """What the inherited segments hold that no part does yet."""

    rows: dict[str, list] = field(default_factory=lambda: {name: [] for name in TABLES})
    tables: dict[str, list[pa.Table]] = field(default_factory=lambda: {name: [] for name in TABLES})  # @arrow
    strays: list[Rejected] = field(default_factory=list)  # rows of a table this version does not know
    segments: int = 0
    skipped: int = 0  # rows already stored by a part

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(rows) + sum(t.num_rows for t in self.tables[name]) for name, rows in self.rows.items()}


class JournalRecovery:
    """Reads inherited segments (``JournalWriter.adopt_inherited``) into :class:`Recovered` rows.

    ``lock`` guards every change of the journal's segment list (the store's I/O lock).
    """

    def __init__(self, fs: StorageFS, root: Path, collector_id: str, journal: JournalWriter,
                 lock: AbstractContextManager[object]) -> None:
        self._fs, self._root, self._collector_id = fs, root, collector_id
        self._journal, self._lock = journal, lock
        self.torn_bytes = 0  # incomplete last frames dropped (never synced)
        self.damaged_bytes = 0  # unreadable bytes inside damaged segments

    def adopt(self) -> Recovered:
        with self._lock:
            segments = self._journal.adopt_inherited()
        found = Recovered(segments=len(segments))
        coverage: dict[tuple[str, int], int] = {}

        def covered(table: str, day: int) -> int:
            key = (table, day)
            if key not in coverage:
                coverage[key] = self._covered_upto(table, day)
            return coverage[key]

        for number, path in segments:
            for table, rows in self._read(number, path).batches():
                if base_name(table) in TABLES:
                    self._adopt_tables(found, base_name(table), rows, lambda t, d, n=number: covered(t, d) >= n)
                    continue
                if table not in TABLES:
                    found.strays += [((table, row), f"unknown table {table!r} in the journal") for row in rows]
                    continue
                bucket = found.rows[table]
                for row in rows:
                    day = row_day(row)
                    if day is not None and covered(table, day) >= number:
                        found.skipped += 1
                        continue
                    bucket.append(row)
        if segments:
            log.info("journal recovery: %d segments, %d rows to store, %d already stored",
                     len(segments), sum(found.counts.values()), found.skipped)
        return found

    @staticmethod
    def _adopt_tables(found: Recovered, table: str, blobs: list,
                      stored: Callable[[str, int], bool]) -> None:
        """Arrow tables of a journal batch (``arrowtables.py``): each day's slice by the rows' rule."""
        for blob in blobs:
            try:
                data = from_ipc(blob)
                check_table(table, data)
            except (pa.ArrowException, ValueError, TypeError) as exc:
                found.strays.append(((frame_name(table), blob),
                                     f"unreadable Arrow table in the journal: {exc}"))
                continue
            for day, parts in split_by_day([data]).items():
                for part in parts:
                    if stored(table, day):
                        found.skipped += part.num_rows
                    else:
                        found.tables[table].append(part)

    def _read(self, number: int, path: Path) -> SegmentScan:
        """Every intact frame of an inherited segment; a damaged one is kept, never deleted."""
        try:
            scan = read_segment(path)
        except OSError as exc:
            with self._lock:
                self._journal.disown(number)
            self._set_aside(path, exc)
            return SegmentScan()
        if scan.torn_bytes:
            self.torn_bytes += scan.torn_bytes
            log.warning("journal segment %s: dropping an incomplete last frame of %d bytes (a write cut "
                        "short by the stop; it was never synced, so no acknowledged row is lost)",
                        path.name, scan.torn_bytes)
        if scan.damaged:
            self.damaged_bytes += scan.damaged_bytes
            with self._lock:
                self._journal.quarantine(number)
            log.error("journal segment %s is damaged: %d intact frames (%d rows) recovered, %d bytes "
                      "unreadable (%s); rows in those bytes are missing. It is never deleted: once the "
                      "recovered rows are stored it is renamed %s; keep it to inspect or salvage by hand "
                      "(python -m kalshi_collector.storage.journal FILE), delete it once you accept the loss",
                      path, len(scan.frames), scan.rows, scan.damaged_bytes, scan.describe(),
                      damaged_path(path).name)
        return scan

    @staticmethod
    def _set_aside(path: Path, exc: OSError) -> None:
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
        names = {path.name for path in layout.parts(self._fs, self._root, date)}
        try:
            names |= layout.merged_parts(self._fs, self._root, date)
        except Exception as exc:  # noqa: BLE001 - an unreadable day file: replay rather than risk a loss
            log.error("cannot read the merged-parts list of a %s day file of %s (%s): replaying its journal "
                      "rows", table, date, exc)
        best = 0
        for name in names:
            part = parse_part_name(name)
            if part and part.collector_id == self._collector_id:
                best = max(best, part.n)
        return best
