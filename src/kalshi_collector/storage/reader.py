"""ParquetStorage: the one read API for every table of the data folder.

Every dataset is in the catalog (``catalog.py``), and its layout (``layout.py``) lists the files a
date range needs by name before anything is opened: day files and the folders of not-yet-compacted
parts are named by UTC date, weather files by climate date, so a date range never touches a file
outside it. Parts already merged into a day file (a compaction interrupted before it deleted them)
are never listed, so a row is never returned twice. Per-event files span days: their rows are
filtered on the dataset's time column instead.

Every file read is brought to its dataset's current schema (:func:`~kalshi_collector.storage.schemas.conform`):
a column added since an older file was written comes back as nulls. No column of a file is dropped:
a column the dataset declares as legacy (the original collector's ``snapshot_type``) or any other
column a file has comes after the dataset's own, null in the rows of files without it
(:meth:`~kalshi_collector.storage.catalog.Dataset.schema_for`).

A file that cannot be read (truncated, garbled: :mod:`~kalshi_collector.storage.damage`) is skipped
with one warning naming it and kept in :attr:`ParquetStorage.damage`; the rest of the read goes on.
Pages are checked against their checksums where the file has them (parts and day files do).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import PurePath

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.storage.catalog import READ_KINDS, Dataset, dataset
from kalshi_collector.storage.damage import DAMAGE_ERRORS, DamageLog
from kalshi_collector.storage.dedupe import first_per_key
from kalshi_collector.storage.fs import StorageFS, data_root, open_data_dir
from kalshi_collector.storage.layout import FileGroup, LiveDaily
from kalshi_collector.storage.reconstruct import reconstruct_orderbooks
from kalshi_collector.storage.schemas import conform

__all__ = ["ParquetStorage", "READ_KINDS"]

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
        self.damage = DamageLog()
        """Files this reader found damaged and skipped (``status`` lists them)."""

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

        ``kind``: a dataset name or alias (:data:`READ_KINDS`). Time columns come back
        timezone-aware UTC. No rows: an empty DataFrame with the dataset's columns.
        """
        return self.read_arrow(kind, start_date, end_date).to_pandas()

    def read_arrow(
        self,
        kind: str,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ) -> pa.Table:
        """Same as :meth:`read_parquets`, as a ``pyarrow.Table``."""
        ds = dataset(kind)
        start, end = _dates(start_date, end_date)
        tables = [self._read_group(ds, group) for group in ds.layout.groups(self._fs, self.root, start, end)]
        table = _concat(ds, tables)
        if not ds.layout.prunes_by_name and (start or end):
            table = _filter_dates(table, ds.time_column, start, end)
        return table

    def reconstruct_orderbooks(
        self,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ):
        """Full books at every snapshot of ``orderbook_snapshots`` in the date range, as the original
        collector's method of this name gave them: its baseline + delta rows replayed
        (:func:`~kalshi_collector.storage.reconstruct.reconstruct_orderbooks`); this collector's rows
        are full books already. Deltas before the range's first baseline apply to empty books: start
        a day earlier for a complete first hour of original data."""
        return reconstruct_orderbooks(self.read_parquets("orderbook_snapshots", start_date, end_date))

    def files(
        self,
        kind: str,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
    ) -> list[PurePath]:
        """The files that hold ``kind`` for the date range (for DuckDB/polars); merged parts left out.

        Per-event tables cannot be pruned by name: all their files are listed.
        """
        start, end = _dates(start_date, end_date)
        return dataset(kind).layout.files(self._fs, self.root, start, end)

    def _read_group(self, ds: Dataset, group: FileGroup) -> pa.Table:
        """One sorted unit (a live day: day file + parts; else one file), as the dataset's schema."""
        for attempt in range(_RETRIES):
            try:
                tables = [table for path in group.paths if (table := self._read_file(path)) is not None]
                break
            except FileNotFoundError:
                # A compaction merged and deleted parts while we listed them: list the day again.
                if attempt == _RETRIES - 1:
                    raise
                group = ds.layout.regroup(self._fs, self.root, group)
        table = _concat(ds, tables)
        if len(tables) > 1:
            table = table.sort_by([(key, "ascending") for key in ds.sort_keys])
        if ds.key and isinstance(ds.layout, LiveDaily):  # parts not yet compacted may repeat a key
            table = first_per_key(table, ds.key)
        return table

    def _read_file(self, path: PurePath) -> pa.Table | None:
        """The file's rows, or None (warned once, recorded) if it is damaged; a missing file raises."""
        try:
            return self._fs.read_table(path, page_checksum_verification=True)
        except FileNotFoundError:
            raise
        except DAMAGE_ERRORS as exc:
            self.damage.record(path, exc)
            return None


def _concat(ds: Dataset, tables: list[pa.Table]) -> pa.Table:
    """``tables`` as one, in the schema that keeps every column any of them has."""
    schema = ds.schema_for(t.schema for t in tables)
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([conform(t, schema) for t in tables])


def _dates(start_date: dt.date | str | None, end_date: dt.date | str | None) -> tuple[dt.date | None, dt.date | None]:
    start, end = _as_date(start_date, "start_date"), _as_date(end_date, "end_date")
    if start and end and start > end:
        raise ValueError(f"start_date {start} is after end_date {end}")
    return start, end


def _filter_dates(table: pa.Table, column_name: str, start: dt.date | None, end: dt.date | None) -> pa.Table:
    """Rows whose ``column_name`` (a UTC timestamp) falls on a UTC day in ``[start, end]``."""
    column = table.column(column_name)
    bound = column.type
    keep = None
    if start is not None:
        keep = pc.greater_equal(column, pa.scalar(dt.datetime.combine(start, dt.time(), dt.UTC), type=bound))
    if end is not None:
        after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
        below = pc.less(column, pa.scalar(after, type=bound))
        keep = below if keep is None else pc.and_(keep, below)
    return table.filter(keep)
