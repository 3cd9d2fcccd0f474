"""Reading a data folder into a :class:`Scan`: footers first, as few columns as the report needs.

Row counts and time ranges come from parquet statistics without reading data; only
``market_ticker``, the snapshot times and ``book_events`` are read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.status.records import US
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.storage.catalog import BACKFILL, TABLES, WEATHER, Dataset
from kalshi_collector.storage.damage import DAMAGE_ERRORS, DamagedFile, is_damage
from kalshi_collector.storage.layout import LiveDaily

__all__ = ["FileStats", "Scan", "scan"]


@dataclass(frozen=True)
class FileStats:
    """One parquet file of a live table, from its footer (and its market_ticker column)."""

    table: str
    day: dt.date
    name: str
    is_part: bool
    rows: int
    first_us: int | None
    last_us: int | None
    markets: frozenset[str]


@dataclass
class Scan:
    """Everything :func:`~kalshi_collector.status.report.build_report` needs, read from the folder; no judgement yet."""

    data_dir: str
    files: list[FileStats] = field(default_factory=list)
    snapshots: pa.Table | None = None  # market_snapshots: snapshot_ts, trigger, event_ticker
    book_events: pa.Table | None = None
    other: dict[str, dict[str, Any]] = field(default_factory=dict)  # historical/weather summaries, by folder
    damaged: list[DamagedFile] = field(default_factory=list)  # files that could not be read (skipped)


def _time_span(meta: Any) -> tuple[int | None, int | None]:
    """Smallest and largest value of the file's first column (its time column) from row-group stats."""
    lo: int | None = None
    hi: int | None = None
    for i in range(meta.num_row_groups):
        col = meta.row_group(i).column(0)
        stats = col.statistics
        if stats is None or not stats.has_min_max:
            return None, None
        a, b = _as_us(stats.min), _as_us(stats.max)
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    return lo, hi


def _as_us(value: Any) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(round(value.timestamp() * US))
    return int(value)


def scan(storage: ParquetStorage, start: dt.date | None = None, end: dt.date | None = None) -> Scan:
    """Read what the report needs: file footers, market tickers, snapshot times, book events."""
    out = Scan(data_dir=storage.fs.url(storage.root))
    for table in TABLES.values():
        out.files.extend(_live_files(storage, table, start, end))
    snaps = storage.read_arrow("market_snapshots", start, end)
    out.snapshots = snaps.select(["snapshot_ts", "trigger", "event_ticker"])
    out.book_events = storage.read_arrow("book_events", start, end)
    for ds in (*BACKFILL.values(), *WEATHER.values()):
        summary = _summary(storage, ds)
        if summary is not None:
            out.other[ds.folder] = summary
    out.damaged = storage.damage.sorted()
    return out


def _live_files(storage: ParquetStorage, table: Dataset[LiveDaily], start: dt.date | None,
                end: dt.date | None) -> Iterator[FileStats]:
    """A :class:`FileStats` per day file and part of ``table`` in the range."""
    fs = storage.fs
    for group in table.layout.groups(fs, storage.root, start, end):
        assert isinstance(group.key, dt.date)
        for path in group.paths:
            try:
                meta = fs.parquet_metadata(path)
                first, last = _time_span(meta)
                markets: frozenset[str] = frozenset()
                if "market_ticker" in table.schema.names and meta.num_rows:
                    col = fs.read_table(path, columns=["market_ticker"], page_checksum_verification=True).column(0)
                    markets = frozenset(v for v in pc.unique(col).to_pylist() if v is not None)
            except DAMAGE_ERRORS as exc:
                if not is_damage(exc):
                    raise
                storage.damage.record(path, exc)
                continue
            yield FileStats(table.name, group.key, path.name, table.layout.is_part(path), meta.num_rows,
                            first, last, markets)


def _summary(storage: ParquetStorage, ds: Dataset) -> dict[str, Any] | None:
    """Files, rows, first and last file of a backfill or weather dataset; its time range when the
    files' first column is the time column (the per-event files). None when it has no files."""
    fs = storage.fs
    paths = storage.files(ds.name)
    if not paths:
        return None
    spans = ds.schema.names[0] == ds.time_column
    rows = 0
    lo: int | None = None
    hi: int | None = None
    for path in paths:
        try:
            meta = fs.parquet_metadata(path)
        except DAMAGE_ERRORS as exc:
            if not is_damage(exc):
                raise
            storage.damage.record(path, exc)
            continue
        rows += meta.num_rows
        a, b = _time_span(meta) if spans else (None, None)
        lo = a if lo is None or (a is not None and a < lo) else lo
        hi = b if hi is None or (b is not None and b > hi) else hi
    names = sorted(PurePath(p).name.removesuffix(".parquet") for p in paths)
    return {"files": len(paths), "rows": rows, "first": names[0], "last": names[-1],
            "first_time_us": lo, "last_time_us": hi}
