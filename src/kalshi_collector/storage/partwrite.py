"""Part files of one flush: a table's rows, split by UTC day, one atomic part per day.

A day whose write fails keeps its rows (handed back to the caller, who keeps them journaled for the
next flush); rows that cannot be stored at all go to the quarantine (``_rejected/``), never lost and
never allowed to block the good rows around them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from kalshi_collector.storage.arrowtables import split_by_day as split_tables
from kalshi_collector.storage.catalog import TableSpec
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.gcpause import paused_gc
from kalshi_collector.storage.journal import encode_rejects
from kalshi_collector.storage.layout import day_from_index
from kalshi_collector.storage.partjob import PartProcess, PartTarget, build_and_write
from kalshi_collector.storage.rowruns import Run, decode_runs, run_rows, runs_by_day
from kalshi_collector.storage.rows import Rejected

__all__ = ["PartWriter", "TableRows"]

log = logging.getLogger(__name__)

_PAUSE_MIN_ROWS = 20_000
"""An in-process part this big is built with the garbage collector paused (gcpause.py); below it
the read loop's young collections stay short and spread out (live/priority.py)."""


@dataclass
class TableRows:
    """One table's rows of a flush, as runs (``rowruns.py``): journaled ones, and pending ones the
    journal could not take; ``tables_*`` the same for whole Arrow tables (``LiveStore.append_table``,
    ``arrowtables.py``).

    After :meth:`PartWriter.write_table`, ``back_*`` hold the runs (tables) of days that were not written.
    """

    journaled: list[Run]
    pending: list[Run]
    back_journaled: list[Run] = field(default_factory=list)
    back_pending: list[Run] = field(default_factory=list)
    tables_journaled: list[pa.Table] = field(default_factory=list)
    tables_pending: list[pa.Table] = field(default_factory=list)
    back_tables_journaled: list[pa.Table] = field(default_factory=list)
    back_tables_pending: list[pa.Table] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.journaled or self.pending or self.tables_journaled or self.tables_pending)


class PartWriter:
    """Writes parts named ``part-CID-FIRSTUS-LASTUS-N`` (N: the journal cut the flush covers).

    ``on_error(what, exc)`` reports a failed write (the store logs and counts it).
    ``process_min_rows``: parts of at least that many rows are built and written by a helper
    process (``partjob.py``); None: every part in this process.
    """

    def __init__(self, fs: StorageFS, root: Path, collector_id: str,
                 on_error: Callable[[str, BaseException], None], *,
                 process_min_rows: int | None = None) -> None:
        self._fs, self._root, self._collector_id, self._on_error = fs, root, collector_id, on_error
        self._target = PartTarget(fs, root, collector_id)
        self._process = PartProcess() if process_min_rows is not None else None
        self._process_min_rows = process_min_rows or 0
        self.parts_written = 0
        self.rows_rejected: dict[str, int] = {}

    def write_table(self, spec: TableSpec, cut: int, rows: TableRows,
                    rejects: dict[str, list[Rejected]]) -> tuple[int, bool]:
        """Write one part per UTC day; return (rows written, every day written)."""
        if not rows:
            return 0, True
        return self._write_days(spec, cut, rows, rejects)

    def _write_days(self, spec: TableSpec, cut: int, rows: TableRows,
                    rejects: dict[str, list[Rejected]]) -> tuple[int, bool]:
        try:
            by_day_j, bad = runs_by_day(spec, rows.journaled)
            by_day_p, bad_p = runs_by_day(spec, rows.pending)
            tables_j, tables_p = split_tables(rows.tables_journaled), split_tables(rows.tables_pending)
        except Exception as exc:  # noqa: BLE001 - cannot even sort rows into days: keep them all
            rows.back_journaled.extend(rows.journaled)
            rows.back_pending.extend(rows.pending)
            rows.back_tables_journaled.extend(rows.tables_journaled)
            rows.back_tables_pending.extend(rows.tables_pending)
            self._on_error(f"{spec.name}: cannot partition {run_rows(rows.journaled) + run_rows(rows.pending)} rows",
                           exc)
            return 0, False
        bad += bad_p
        complete, written = True, 0
        for day in sorted(by_day_j.keys() | by_day_p.keys() | tables_j.keys() | tables_p.keys()):
            runs_j, runs_p = by_day_j.get(day, []), by_day_p.get(day, [])
            day_tables_j, day_tables_p = tables_j.get(day, []), tables_p.get(day, [])
            count, bad_rows = self._write_day(spec, cut, day, runs_j + runs_p, day_tables_j + day_tables_p)
            if count is None:
                rows.back_journaled.extend(runs_j)
                rows.back_pending.extend(runs_p)
                rows.back_tables_journaled.extend(day_tables_j)
                rows.back_tables_pending.extend(day_tables_p)
                complete = False
                continue
            bad += bad_rows
            written += count
        if bad:
            rejects.setdefault(spec.name, []).extend(bad)
        return written, complete

    def _write_day(self, spec: TableSpec, cut: int, day: int, runs: list[Run],
                   tables: list[pa.Table]) -> tuple[int | None, list[Rejected]]:
        """Rows written (None: failed, rows to keep) and the rows that cannot be stored at all.

        A big part is built and written by the helper process (``partjob.py``: the runs go down
        its pipe as they are, and the read loop keeps the GIL); a small one right here.
        """
        size = run_rows(runs) + sum(t.num_rows for t in tables)
        if self._process is not None and size >= self._process_min_rows:
            done = self._process.write(self._target, spec, cut, day, runs, tables)
        else:
            # A big part built here (no helper process) pauses the garbage collector while its
            # columns are built (a tracked object per row: see gcpause.py). A small one does not:
            # the pause is process-wide and every young collection the read loop would have run
            # meanwhile runs at once when it ends, one long stop instead of many short ones.
            pause = paused_gc() if size >= _PAUSE_MIN_ROWS else nullcontext()
            with pause:
                done = build_and_write(self._target, spec, cut, day, decode_runs(runs), tables)
        if done.error is not None:
            if done.path is None or self._discard(done.path):
                self._on_error(f"{spec.name} {day_from_index(day)}: {size} rows kept for the next "
                               f"flush; writing {done.path} failed", done.error)
                return None, []
        elif done.count == 0:
            return 0, done.bad_rows
        self.parts_written += 1
        return done.count, done.bad_rows

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

    def close(self) -> None:
        """Stop the helper process, if one was started."""
        if self._process is not None:
            self._process.close()

    @property
    def process(self) -> PartProcess | None:
        return self._process

    @property
    def counts(self) -> dict[str, int]:
        """For the store's stats: parts written, and the helper process's jobs and restarts."""
        helper = self._process
        return {"parts_written": self.parts_written, "writer_process_jobs": helper.jobs if helper else 0,
                "writer_process_restarts": helper.restarts if helper else 0}

    def write_rejects(self, cut: int, rejects: dict[str, list[Rejected]]) -> bool:
        """Quarantine rows that cannot be stored; the ones written leave ``rejects``."""
        complete = True
        for name in list(rejects):
            bad = rejects[name]
            if not bad:
                del rejects[name]
                continue
            path = self._root / "_rejected" / name / f"{self._collector_id}-{cut}.msgpack"
            try:
                self._fs.write_bytes(path, encode_rejects(bad))
            except Exception as exc:  # noqa: BLE001
                complete = False
                self._on_error(f"cannot quarantine {len(bad)} bad {name} rows at {path}", exc)
                continue
            self.rows_rejected[name] = self.rows_rejected.get(name, 0) + len(bad)
            log.error("%d %s rows could not be stored and were quarantined in %s; first: %s",
                      len(bad), name, path, bad[0][1])
            del rejects[name]
        return complete
