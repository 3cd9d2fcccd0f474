"""``rebuild``: the derived live tables of a date range, regenerated from the raw tape into a folder.

Reading: ``raw_ws`` of the range, in ``n`` order. A collector run is a contiguous range of ``n``
(``live.rawtape``); a run that began before the range is replayed from its first record (earlier
days are read back while the day before ends with the record just before), and one still open at
the end of the range is replayed on into the next day until every doubt that began inside the range
is resolved (a ``recovered`` row is dated when its doubt began). Only rows dated inside the range
are written. The raw records are streamed a batch at a time (:meth:`_RawFiles.records`).

Collectors sharing the folder (shards: their own part and day-file names) are replayed apart.

Writing: the same layout as the data folder (``TABLE/YYYY-MM-DD.parquet``, sorted as compaction
sorts), through part files and :func:`~kalshi_collector.storage.compact.compact_day`, so memory is
bounded by a day's rows of one table, as for the daily compaction. ``OUT`` must not hold those
tables' days already (a rebuild never mixes with earlier output).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.errors import UsageError
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.rebuild import Decoder, Replayer
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.storage.catalog import RAW_TABLES, RAW_WS, TABLES
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import StorageFS, open_data_dir
from kalshi_collector.storage.layout import (
    DAY_US,
    DEFAULT_COLLECTOR,
    PartName,
    day_from_index,
    parse_day_file,
    parse_part_name,
)
from kalshi_collector.storage.rows import rows_to_table, split_by_day
from kalshi_collector.storage.schemas import conform

__all__ = ["RebuildReport", "rebuild", "DERIVED"]

log = logging.getLogger(__name__)

DERIVED = tuple(name for name in TABLES if name not in RAW_TABLES)
"""The tables a rebuild writes: every live table but the raw tape itself."""

_BATCH = 65_536  # raw records converted to Python at a time
_FLUSH_ROWS = 500_000  # derived rows held before a part file is written
_LOOKBACK_DAYS = 62


@dataclass
class RebuildReport:
    records: int = 0
    runs: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DERIVED, 0))
    rejected_rows: int = 0
    malformed_frames: int = 0
    files: list[str] = field(default_factory=list)


class _PartSink:
    """The replay's RowSink: keeps rows dated in the range, writes them out as part files."""

    def __init__(self, fs: StorageFS, root: PurePath, first_day: int, last_day: int, report: RebuildReport) -> None:
        self._fs, self._root = fs, root
        self._days = (first_day, last_day)
        self._rows: dict[str, list] = {name: [] for name in DERIVED}
        self._held = 0
        self._cut = 0
        self.report = report
        self.written: set[tuple[str, dt.date]] = set()

    def append(self, table: str, row) -> None:
        self._rows[table].append(row)
        self._held += 1
        if self._held >= _FLUSH_ROWS:
            self.flush()

    def extend(self, table: str, rows) -> None:
        self._rows[table].extend(rows)
        self._held += len(rows)
        if self._held >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        self._cut += 1
        for name, rows in self._rows.items():
            if rows:
                self._write(name, rows)
            rows.clear()
        self._held = 0

    def _write(self, name: str, rows: list) -> None:
        spec = TABLES[name]
        by_day, bad = split_by_day(spec, rows)
        self.report.rejected_rows += len(bad)
        for day, day_rows in by_day.items():
            if not self._days[0] <= day <= self._days[1]:
                continue
            table, bad_rows = rows_to_table(spec, day_rows)
            self.report.rejected_rows += len(bad_rows)
            if not table.num_rows:
                continue
            date = day_from_index(day)
            part = PartName(DEFAULT_COLLECTOR, day * DAY_US, day * DAY_US + DAY_US - 1, self._cut)
            self._fs.write_parquet(spec.layout.part_file(self._root, date, part), table)
            self.report.rows[name] += table.num_rows
            self.written.add((name, date))


class _Span(NamedTuple):
    first: int
    last: int
    ordered: bool
    path: PurePath


def _collector_of(path: PurePath) -> str | None:
    """Whose records a raw file holds: its part name or shard day-file name says."""
    part = parse_part_name(path.name)
    if part is not None:
        return part.collector_id
    day_file = parse_day_file(path.name)
    return day_file[1] if day_file else None


class _RawFiles:
    """``raw_ws`` files by UTC day and collector: collectors sharing a folder (shards) number their
    runs independently, so each collector's records are replayed apart."""

    def __init__(self, storage: ParquetStorage) -> None:
        self._fs, self._root = storage.fs, storage.root

    def days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        return RAW_WS.layout.days(self._fs, self._root, start, end)

    def paths(self, day: dt.date) -> dict[str, list[PurePath]]:
        found: dict[str, list[PurePath]] = {}
        for path in RAW_WS.layout.day_paths(self._fs, self._root, day):
            cid = _collector_of(path)
            if cid is not None:
                found.setdefault(cid, []).append(path)
        return found

    def collectors(self, start: dt.date, end: dt.date) -> list[str]:
        return sorted({cid for day in self.days(start, end) for cid in self.paths(day)})

    def spans(self, cid: str, day: dt.date) -> list[_Span]:
        """Each of a collector's files of a day with its ``n`` range (its ``n`` column only), in ``n`` order."""
        found = []
        for path in self.paths(day).get(cid, []):
            n = self._fs.read_table(path, columns=["n"]).column("n").combine_chunks()
            if len(n):
                ordered = len(n) < 2 or pc.all(pc.greater(pc.pairwise_diff(n)[1:], 0)).as_py()
                found.append(_Span(pc.min(n).as_py(), pc.max(n).as_py(), bool(ordered), path))
        return sorted(found, key=lambda span: (span.first, span.last))

    def n_bounds(self, cid: str, day: dt.date) -> tuple[int, int] | None:
        """The first and last ``n`` of a collector's records of a day, or None."""
        spans = self.spans(cid, day)
        return (spans[0].first, max(span.last for span in spans)) if spans else None

    def first_day(self, cid: str, start: dt.date) -> dt.date:
        """The day the collector's run open at the start of the range began (``start`` if none was)."""
        day = start
        for _ in range(_LOOKBACK_DAYS):
            here, before = self.n_bounds(cid, day), self.n_bounds(cid, day - dt.timedelta(days=1))
            if here is None or before is None or before[1] != here[0] - 1:
                return day
            day -= dt.timedelta(days=1)
        return day

    def records(self, cid: str, day: dt.date) -> Iterator[tuple[int, int, int, str, object]]:
        """A collector's records of a day in ``n`` order. Streamed a batch at a time when its files
        are each in order and do not overlap (a compacted day; the parts of one run); else read
        whole and sorted (parts whose rows a failed flush put back)."""
        spans = self.spans(cid, day)
        streamable = all(span.ordered for span in spans) and all(
            a.last < b.first for a, b in zip(spans, spans[1:], strict=False))
        if streamable:
            batches = (b for span in spans for b in self._fs.iter_batches(span.path, _BATCH))
        else:
            table = pa.concat_tables([conform(self._fs.read_table(s.path), RAW_WS.schema) for s in spans])
            batches = iter(table.sort_by("n").to_batches(_BATCH))
        for batch in batches:
            batch = conform(pa.Table.from_batches([batch]), RAW_WS.schema)
            ts = batch.column(0).cast(pa.int64()).to_pylist()
            yield from zip(ts, *(batch.column(i).to_pylist() for i in range(1, 5)), strict=True)


class _Runs:
    """Feeds records to one Replayer per collector run (a new one where ``n`` jumps)."""

    def __init__(self, sink: _PartSink, decode: Decoder, report: RebuildReport) -> None:
        self._sink, self._decode, self._report = sink, decode, report
        self.replayer: Replayer | None = None
        self._last_n: int | None = None

    def feed(self, recv_us: int, n: int, conn: int, kind: str, data: object) -> None:
        if self.replayer is None or n != self._last_n + 1:  # type: ignore[operator]
            self._end_run()
            self.replayer = Replayer(self._sink, decode=self._decode)
            self._report.runs += 1
        self._last_n = n
        self._report.records += 1
        self.replayer.feed(recv_us, conn or 0, kind, data)

    def continues(self, first_n: int | None) -> bool:
        return self.replayer is not None and first_n == (self._last_n or 0) + 1

    def _end_run(self) -> None:
        if self.replayer is not None:
            self._report.malformed_frames += self.replayer.counters.malformed

    def close(self) -> None:
        self._end_run()
        self.replayer = None


def rebuild(data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], start: dt.date, end: dt.date,
            *, decode: Decoder = wm.decode) -> RebuildReport:
    """Regenerate the derived live tables of ``[start, end]`` from ``data_dir``'s raw tape into ``out_dir``."""
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    if os.path.abspath(os.fspath(out_dir)) == os.path.abspath(os.fspath(data_dir)):
        raise UsageError("--out must be another folder than --data (a rebuild never overwrites what was recorded)")
    out_fs, out_root = open_data_dir(out_dir)
    _refuse_existing(out_fs, out_root, start, end)
    raw = _RawFiles(ParquetStorage(data_dir))
    report = RebuildReport()
    first, last = (start - dt.date(1970, 1, 1)).days, (end - dt.date(1970, 1, 1)).days
    sink = _PartSink(out_fs, out_root, first, last, report)
    for cid in raw.collectors(start, end):
        runs = _Runs(sink, decode, report)
        for day in raw.days(raw.first_day(cid, start), end):
            for record in raw.records(cid, day):
                runs.feed(*record)
        _replay_on(raw, cid, runs, end, (last + 1) * DAY_US)
        runs.close()
    sink.flush()
    for name, date in sorted(sink.written):
        written = compact_day(out_fs, out_root, TABLES[name], date)
        if written is not None:
            report.files.append(str(written))
    return report


def _replay_on(raw: _RawFiles, cid: str, runs: _Runs, end: dt.date, end_us: int) -> None:
    """Replay past the range while the run open at its end still has doubts from inside it."""
    day = end + dt.timedelta(days=1)
    for _ in range(_LOOKBACK_DAYS):
        bounds = raw.n_bounds(cid, day)
        if bounds is None or not runs.continues(bounds[0]):
            return
        for i, record in enumerate(raw.records(cid, day)):
            if i % 1024 == 0:
                since = runs.replayer.doubts_since() if runs.replayer else None
                if since is None or since >= end_us or not runs.continues(record[1]):
                    return
            runs.feed(*record)
        day += dt.timedelta(days=1)


def _refuse_existing(fs: StorageFS, root: PurePath, start: dt.date, end: dt.date) -> None:
    for name in DERIVED:
        days = TABLES[name].layout.days(fs, root, start, end)
        if days:
            raise UsageError(f"--out {root} already holds {name} for {days[0]}: rebuild into an empty folder "
                             "(or delete those files first)")
