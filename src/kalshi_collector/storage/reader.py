"""ParquetStorage: the one read API for every table of the data folder.

It knows the layout (``layout.py``) and prunes by file name before opening anything: day files and
the folders of not-yet-compacted parts are named by UTC date, weather files by climate date, so a
date range never touches a file outside it. Parts already merged into a day file (a compaction
interrupted before it deleted them) are skipped by name, so a row is never returned twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import PurePath

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.storage.compact import merged_part_names
from kalshi_collector.storage.fs import StorageFS, data_root, is_temp_name, open_data_dir
from kalshi_collector.storage.layout import PARTS, parse_day, parse_part_name
from kalshi_collector.storage.schemas import TABLES, TableSpec, conform

__all__ = ["ParquetStorage", "READ_KINDS"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Source:
    folder: str  # relative to the data folder
    layout: str  # "live": day files + parts; "per_event": one file per event; "per_day": one file per date
    spec: TableSpec | None = None


_LIVE = {name: _Source(name, "live", spec) for name, spec in TABLES.items()}
READ_KINDS: dict[str, _Source] = {
    "market": _LIVE["market_snapshots"],
    "orderbook": _LIVE["orderbook_snapshots"],
    "deltas": _LIVE["orderbook_deltas"],
    **_LIVE,
    "candlesticks": _Source("historical/candlesticks", "per_event"),
    "trades": _Source("historical/trades", "per_event"),
    "asos_1min": _Source("weather/asos_1min", "per_day"),
    "metar": _Source("weather/metar", "per_day"),
    "daily_climate": _Source("weather/daily_climate", "per_day"),
}
"""Every kind :meth:`ParquetStorage.read_parquets` accepts (aliases and table names)."""

EVENT_TIME_COLUMN = "timestamp"
_RETRIES = 3


def _as_date(value: object, what: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise TypeError(f"{what}: expected a date (or 'YYYY-MM-DD'), got {value!r}")


class ParquetStorage:
    """Read any table of a data folder as a pandas DataFrame (or an Arrow table)."""

    def __init__(self, data_dir: str | os.PathLike[str], *, fs: StorageFS | None = None) -> None:
        """``data_dir``: a folder, or an object-store URL such as ``s3://bucket/prefix`` (``[s3]`` extra)."""
        if fs is None:
            self._fs, self.root = open_data_dir(data_dir)
        else:
            self._fs, self.root = fs, data_root(fs, data_dir)

    @property
    def fs(self) -> StorageFS:
        """The filesystem the data folder is on (local disk or an object store)."""
        return self._fs

    def urls(
        self,
        kind: str,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ) -> list[str]:
        """:meth:`files` as strings another reader opens: local paths, or ``s3://...`` URLs."""
        return [self._fs.url(path) for path in self.files(kind, start_date, end_date)]

    def read_parquets(
        self,
        kind: str,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ):
        """Rows of ``kind`` whose UTC date (weather: climate date) is in ``[start_date, end_date]``.

        Time columns come back timezone-aware UTC. No rows: an empty DataFrame, with the table's
        columns when its schema is known here.
        """
        return self.read_arrow(kind, start_date, end_date).to_pandas()

    def read_arrow(
        self,
        kind: str,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ) -> pa.Table:
        """Same as :meth:`read_parquets`, as a ``pyarrow.Table``."""
        source = self._source(kind)
        start, end = _as_date(start_date, "start_date"), _as_date(end_date, "end_date")
        if start and end and start > end:
            raise ValueError(f"start_date {start} is after end_date {end}")
        if source.layout == "live":
            return self._read_live(source, start, end)
        if source.layout == "per_day":
            tables = [self._fs.read_table(path) for _, path in self._per_day_files(source, start, end)]
            return _concat(tables, None)
        return self._read_per_event(source, start, end)

    def files(
        self,
        kind: str,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ) -> list[PurePath]:
        """The files that hold ``kind`` for the date range (for DuckDB/polars); merged parts left out.

        Per-event tables cannot be pruned by name: all their files are listed.
        """
        source = self._source(kind)
        start, end = _as_date(start_date, "start_date"), _as_date(end_date, "end_date")
        if source.layout == "live":
            return [path for _, paths in self._live_days(source, start, end) for path in paths]
        if source.layout == "per_day":
            return [path for _, path in self._per_day_files(source, start, end)]
        return self._per_event_files(source)

    # -- kinds ----------------------------------------------------------------------------------

    @staticmethod
    def _source(kind: str) -> _Source:
        try:
            return READ_KINDS[kind]
        except (KeyError, TypeError):
            raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(READ_KINDS)}") from None

    # -- live tables: TABLE/YYYY-MM-DD.parquet + TABLE/_parts/YYYY-MM-DD/part-*.parquet -------------

    def _live_days(self, source: _Source, start: dt.date | None, end: dt.date | None):
        folder = self.root / source.folder
        days: dict[dt.date, None] = {}
        for name in self._fs.listdir(folder):
            day = parse_day(name) if name.endswith(".parquet") else None
            if day and _in_range(day, start, end):
                days[day] = None
        for name in self._fs.listdir(folder / PARTS):
            day = parse_day(name)
            if day and _in_range(day, start, end):
                days[day] = None
        for day in sorted(days):
            yield day, self._day_paths(folder, day)

    def _day_paths(self, folder: PurePath, day: dt.date) -> list[PurePath]:
        day_path = folder / f"{day.isoformat()}.parquet"
        paths: list[PurePath] = []
        merged: set[str] = set()
        if self._fs.isfile(day_path):
            paths.append(day_path)
            merged = merged_part_names(self._fs, day_path)
        part_folder = folder / PARTS / day.isoformat()
        for name in self._fs.listdir(part_folder):
            if parse_part_name(name) and name not in merged:
                paths.append(part_folder / name)
        return paths

    def _read_live(self, source: _Source, start: dt.date | None, end: dt.date | None) -> pa.Table:
        spec = source.spec
        assert spec is not None
        tables = []
        for day, paths in self._live_days(source, start, end):
            tables.append(self._read_live_day(source, spec, day, paths))
        return _concat(tables, spec.schema)

    def _read_live_day(self, source: _Source, spec: TableSpec, day: dt.date, paths: list[PurePath]) -> pa.Table:
        folder = self.root / source.folder
        for attempt in range(_RETRIES):
            try:
                tables = [conform(self._fs.read_table(path), spec.schema) for path in paths]
                break
            except FileNotFoundError:
                # A compaction merged and deleted parts while we listed them: list the day again.
                if attempt == _RETRIES - 1:
                    raise
                paths = self._day_paths(folder, day)
        if len(tables) == 1:
            return tables[0]
        merged = pa.concat_tables(tables)
        return merged.sort_by([(key, "ascending") for key in spec.sort_keys])

    # -- weather: weather/SOURCE/YYYY-MM-DD.parquet ---------------------------------------------------

    def _per_day_files(self, source: _Source, start: dt.date | None, end: dt.date | None):
        folder = self.root / source.folder
        found = []
        for name in self._fs.listdir(folder):
            day = parse_day(name) if name.endswith(".parquet") else None
            if day and _in_range(day, start, end):
                found.append((day, folder / name))
        return sorted(found)

    # -- historical: historical/KIND/EVENT.parquet, filtered on the `timestamp` column ----------------

    def _per_event_files(self, source: _Source) -> list[PurePath]:
        folder = self.root / source.folder
        return [folder / name for name in self._fs.listdir(folder)
                if name.endswith(".parquet") and not is_temp_name(name)]

    def _read_per_event(self, source: _Source, start: dt.date | None, end: dt.date | None) -> pa.Table:
        tables = []
        for path in self._per_event_files(source):
            table = self._fs.read_table(path)
            if start or end:
                table = _filter_dates(table, path, start, end)
            tables.append(table)
        return _concat(tables, None)


def _in_range(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _filter_dates(table: pa.Table, path: PurePath, start: dt.date | None, end: dt.date | None) -> pa.Table:
    if EVENT_TIME_COLUMN not in table.column_names:
        log.warning("%s has no %r column: not filtered by date", path, EVENT_TIME_COLUMN)
        return table
    column = table.column(EVENT_TIME_COLUMN)
    if not pa.types.is_timestamp(column.type):
        log.warning("%s: %r is %s, not a timestamp: not filtered by date", path, EVENT_TIME_COLUMN, column.type)
        return table
    if column.type.tz is None:
        column = pc.assume_timezone(column, "UTC")
    unit = column.type.unit
    keep = None
    if start is not None:
        low = pa.scalar(dt.datetime.combine(start, dt.time(), dt.UTC), type=pa.timestamp(unit, "UTC"))
        keep = pc.greater_equal(column, low)
    if end is not None:
        high = pa.scalar(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC),
                         type=pa.timestamp(unit, "UTC"))
        below = pc.less(column, high)
        keep = below if keep is None else pc.and_(keep, below)
    return table.filter(keep)


def _concat(tables: list[pa.Table], schema: pa.Schema | None) -> pa.Table:
    if not tables:
        return schema.empty_table() if schema is not None else pa.table({})
    if schema is not None:
        return pa.concat_tables(tables)
    return pa.concat_tables(tables, promote_options="permissive")
