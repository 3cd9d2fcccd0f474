"""Migrate the original collector's weather files into our weather tables.

The original wrote ``<data>/weather_obs/<folder>/<ICAO>_<YYYY-MM-DD>.parquet`` (one file per
station and *UTC* date; folders ``asos_1min``, ``metar``, ``daily_climate`` and, in later
versions, ``ldm_surface``). Each file's rows are rebuilt through our fetchers' parsers
(:mod:`.weather_rows`), regrouped by *climate* date, and merged into
``weather/<source>/<climate date>.parquet`` through the same day-file merge the fetcher uses
(:mod:`kalshi_collector.weather.dayfile`): keyed, so running again adds nothing and rewrites
nothing, and migrated and fetched rows of the same report are one row. The original files are
only read.

Files are taken in date order and a climate day is merged once no later file can add to it (a
UTC day holds the end of the previous climate day in the US), so each day file is written about
once and memory holds two days of rows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path, PurePath

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kalshi_collector.migrate.report import MigrationReport
from kalshi_collector.migrate.weather_columns import ORIGINAL_FOLDERS, OriginalFolder
from kalshi_collector.migrate.weather_rows import convert_records, uncarried_columns
from kalshi_collector.storage.fs import StorageFS, open_data_dir
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.dayfile import DayFileUnreadable, merge_into_day_file
from kalshi_collector.weather.sources import SOURCES, WeatherSource
from kalshi_collector.weather.stations import Station, UnknownStation, resolve_station

__all__ = ["migrate", "weather_obs_folder"]

_FILE = re.compile(r"^([A-Z0-9]{3,5})_(\d{4}-\d{2}-\d{2})\.parquet$")


def weather_obs_folder(old_dir: Path) -> Path | None:
    """The original's ``weather_obs`` folder: inside ``old_dir`` (its data folder), or ``old_dir`` itself."""
    if (old_dir / "weather_obs").is_dir():
        return old_dir / "weather_obs"
    if old_dir.name == "weather_obs" and old_dir.is_dir():
        return old_dir
    return None


class _Pending:
    """Converted rows waiting for their climate day to be complete, then merged into its day file."""

    def __init__(self, fs: StorageFS, root: PurePath, source: WeatherSource, report: MigrationReport) -> None:
        self._fs, self._root, self._source, self._report = fs, root, source, report
        self._days: dict[date, list[dict]] = defaultdict(list)

    def add(self, rows: list[dict]) -> None:
        for row in rows:
            self._days[row["climate_date"]].append(row)

    def flush(self, before: date | None = None) -> None:
        """Merge every day earlier than ``before`` (all of them without it)."""
        for day in sorted(d for d in self._days if before is None or d < before):
            table = table_from_rows(self._days.pop(day), self._source.schema)
            try:
                merged = merge_into_day_file(self._fs, self._root, self._source, day, table)
            except DayFileUnreadable as exc:
                self._report.problems.append(str(exc))
                continue
            self._report.rows_added += merged.added.num_rows
            if merged.written:
                self._report.written.append(self._fs.url(merged.path))


def _records(path: Path) -> tuple[list[dict], list[str]]:
    """The file's rows as Python values (times to microseconds, as ours are) and its column names."""
    table = pq.read_table(path)
    for i, fld in enumerate(table.schema):
        if pa.types.is_timestamp(fld.type) and fld.type.unit == "ns":
            table = table.set_column(i, fld.name, pc.cast(table.column(i), pa.timestamp("us", fld.type.tz), safe=False))
    return table.to_pylist(), table.column_names


def _files_by_date(folder_dir: Path, report: MigrationReport) -> dict[date, list[tuple[Path, Station]]]:
    by_date: dict[date, list[tuple[Path, Station]]] = defaultdict(list)
    for path in sorted(folder_dir.iterdir()):
        if not path.is_file() or path.suffix != ".parquet":
            continue
        m = _FILE.match(path.name)
        try:
            day = date.fromisoformat(m.group(2)) if m else None
        except ValueError:
            day = None
        if m is None or day is None:
            report.problems.append(f"{path}: not named like the original's files (<ICAO>_<YYYY-MM-DD>.parquet)")
            continue
        try:
            station = resolve_station(m.group(1))
        except UnknownStation as exc:
            report.problems.append(f"{path}: {exc}")
            continue
        by_date[day].append((path, station))
    return by_date


def _migrate_folder(fs: StorageFS, root: PurePath, folder_dir: Path, folder: OriginalFolder,
                    report: MigrationReport) -> None:
    pending = _Pending(fs, root, SOURCES[folder.dataset], report)
    for file_date, files in sorted(_files_by_date(folder_dir, report).items()):
        for path, station in files:
            try:
                records, names = _records(path)
            except Exception as exc:  # a broken file must not stop the others; it stays as it is
                report.problems.append(f"{path}: unreadable ({exc})")
                continue
            written_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            converted = convert_records(folder.folder, records, station, fetched_at=written_at, file_date=file_date)
            report.files[folder.folder] += 1
            report.rows_read += len(records)
            report.skipped_rows.update(converted.skipped)
            if extra := uncarried_columns(folder.folder, names):
                report.not_carried.setdefault(f"weather_obs/{folder.folder}", set()).update(extra)
            pending.add(converted.rows)
        # A UTC day can still add to the climate day before it (US stations are behind UTC).
        pending.flush(before=file_date)
    pending.flush()


def migrate(old_dir: Path, data_dir: str | Path) -> MigrationReport:
    """Merge every original weather file under ``old_dir`` into the weather tables of ``data_dir``
    (a folder or an object-store URL). Reads the originals only; safe to run again."""
    report = MigrationReport("weather")
    base = weather_obs_folder(old_dir)
    if base is None:
        report.left_alone.append(f"{old_dir}: no weather_obs/ folder (nothing of the original's weather)")
        return report
    fs, root = open_data_dir(data_dir)
    for folder_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        folder = ORIGINAL_FOLDERS.get(folder_dir.name)
        if folder is None:
            report.left_alone.append(f"{folder_dir}: no migrator for weather_obs/{folder_dir.name}/")
            continue
        _migrate_folder(fs, root, folder_dir, folder, report)
    return report
