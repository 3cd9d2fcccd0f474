"""Where every file of the data folder lives, and how its name says what it holds.

```
TABLE/YYYY-MM-DD.parquet                                     live: compacted finished UTC day (collector c0)
TABLE/YYYY-MM-DD.CID.parquet                                 live: the same, of collector CID (a shard)
TABLE/YYYY-MM-DD/part-CID-FIRSTUS-LASTUS-N.parquet           live: not yet compacted
TABLE/_parts/YYYY-MM-DD/part-CID-FIRSTUS-LASTUS-N.parquet    live: parts of earlier versions
historical/KIND/EVENT_TICKER.parquet                         backfill: one file per event
weather/SOURCE/YYYY-MM-DD.parquet                            weather: one file per climate date
_journal/CID-NNNNNNNNNNNNNNNNNNNN.wal                        write-ahead journal segments
_rejected/TABLE/CID-N.msgpack                                rows that could not be stored
```
``FIRSTUS``/``LASTUS`` are the smallest and largest time value in the part (epoch microseconds), so
a reader can tell a part's time range from its name, Nautilus-catalog style. ``N`` is the journal
segment number the part was cut at: it is what makes recovery exactly-once (see ``journal.py``).

Why the parts of a day sit in a visible ``TABLE/YYYY-MM-DD/`` folder: ``pandas.read_parquet(TABLE)``,
pyarrow datasets and Spark skip every name that starts with ``_`` or ``.``, and a recursive glob
(``TABLE/**/*.parquet`` in DuckDB and polars) matches both a day file and a day folder's parts; so
plain tools see today's rows before its day is compacted. Data folders written before that kept
their parts under ``TABLE/_parts/YYYY-MM-DD/`` (the *legacy* parts folder): they are still listed,
recovered and compacted, and compaction of their (finished) day removes them, so an old folder
migrates in place with nothing to do. Temporary files of an atomic write start with ``.`` and end in
``.tmp``: no tool and no glob above mistakes one for data.

Why a collector other than the default ``c0`` compacts into its own ``YYYY-MM-DD.CID.parquet``:
collectors sharing one folder or bucket (each following a shard of the series, see
docs/operations.md) must never rewrite each other's files, so each merges only its own parts into
its own day file. Every reader lists all day files of a day (and the parts none of them has merged),
and the globs above match them all, so the shards read as one dataset.

A :class:`Layout` is one of those naming schemes bound to a dataset's folder: it is the only place
that builds a file name of the data folder, and the only place that lists which files a date range
needs (by name, before anything is opened). :mod:`kalshi_collector.storage.catalog` gives every
dataset its layout.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import ClassVar, NamedTuple

from kalshi_collector.storage.damage import DAMAGE_ERRORS, is_damage
from kalshi_collector.storage.fs import StorageFS, is_temp_name

__all__ = [
    "DAY_US",
    "MAX_US",
    "PARTS",
    "MERGED_PARTS_KEY",
    "PartName",
    "FileGroup",
    "Layout",
    "LiveDaily",
    "PerEvent",
    "PerDay",
    "day_from_index",
    "parse_day",
    "day_file",
    "parts_dir",
    "parse_part_name",
    "merged_part_names",
    "DEFAULT_COLLECTOR",
    "parse_day_file",
]

DAY_US = 86_400_000_000
# 9999-12-31T23:59:59.999999Z: anything beyond cannot be a date in a file name.
MAX_US = 253_402_300_800_000_000
PARTS = "_parts"
"""The legacy parts folder (``TABLE/_parts/YYYY-MM-DD/``) of data folders written by earlier versions."""
MERGED_PARTS_KEY = b"kalshi_collector.merged_parts"
"""Footer key of a compacted day file: JSON list of the part names merged into it."""

DEFAULT_COLLECTOR = "c0"
"""The collector id whose day files keep the seed's plain ``YYYY-MM-DD.parquet`` name."""

_EPOCH = dt.date(1970, 1, 1)
_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_SHARD_DAY_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.([A-Za-z0-9_]+)\.parquet$")
_PART_RE = re.compile(r"^part-([A-Za-z0-9_]+)-(\d+)-(\d+)-(\d+)\.parquet$")
_SUFFIX = ".parquet"


def day_from_index(index: int) -> dt.date:
    """The UTC date of day ``index`` (what ``epoch_us // DAY_US`` gives for a time on that day)."""
    return _EPOCH + dt.timedelta(days=index)


def parse_day(name: str) -> dt.date | None:
    """``"2026-02-11"`` (or ``"2026-02-11.parquet"``) -> date; anything else -> None."""
    stem = name.removesuffix(_SUFFIX)
    m = _DAY_RE.match(stem)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


@dataclass(frozen=True)
class PartName:
    collector_id: str
    first_us: int
    last_us: int
    n: int

    def __str__(self) -> str:
        return f"part-{self.collector_id}-{self.first_us}-{self.last_us}-{self.n}.parquet"


def parse_part_name(name: str) -> PartName | None:
    m = _PART_RE.match(name)
    if not m:
        return None
    return PartName(m[1], int(m[2]), int(m[3]), int(m[4]))


def parse_day_file(name: str) -> tuple[dt.date, str] | None:
    """``"2026-02-11.parquet"`` -> (date, "c0"); ``"2026-02-11.east.parquet"`` -> (date, "east")."""
    if not name.endswith(_SUFFIX):
        return None
    shard = _SHARD_DAY_RE.match(name)
    if shard:
        day = parse_day(shard[1])
        return (day, shard[2]) if day else None
    day = parse_day(name)
    return (day, DEFAULT_COLLECTOR) if day else None


def merged_part_names(fs: StorageFS, path: PurePath) -> set[str]:
    """Names of the parts already merged into the day file at ``path`` (empty if there is none)."""
    if not fs.isfile(path):
        return set()
    raw = fs.read_metadata(path).get(MERGED_PARTS_KEY)
    return set(json.loads(raw)) if raw else set()


def _folder_day(name: str) -> dt.date | None:
    """The date a parts folder is named after (``2026-02-11``, no suffix); None for anything else."""
    return None if name.endswith(_SUFFIX) else parse_day(name)


def _in_range(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _dated_files(fs: StorageFS, folder: PurePath, start: dt.date | None, end: dt.date | None):
    """``(date, name)`` of the ``YYYY-MM-DD.parquet`` files in ``folder`` within the range, by date."""
    found = []
    for name in fs.listdir(folder):
        day = parse_day(name) if name.endswith(_SUFFIX) else None
        if day and _in_range(day, start, end):
            found.append((day, name))
    return sorted(found)


class FileGroup(NamedTuple):
    """Files read together as one sorted unit: a live day (day file + its parts), or one file."""

    key: dt.date | str  # the UTC/climate date, or the event ticker
    paths: list[PurePath]


@dataclass(frozen=True)
class Layout(ABC):
    """One naming scheme, bound to a dataset's folder (relative to the data folder)."""

    folder: str
    pattern: ClassVar[str]
    """The file names, as docs/schemas.md shows them (``FOLDER`` is :attr:`folder`)."""
    prunes_by_name: ClassVar[bool] = True
    """Whether a date range is decided by file names alone (else the rows' time column is filtered)."""

    def path(self, root: PurePath) -> PurePath:
        """The dataset's folder under the data folder ``root``."""
        return root / self.folder

    @abstractmethod
    def groups(
        self, fs: StorageFS, root: PurePath, start: dt.date | None = None, end: dt.date | None = None
    ) -> Iterator[FileGroup]:
        """The files a date range needs, in order, listed lazily (a group is listed just before it is read)."""

    def regroup(self, fs: StorageFS, root: PurePath, group: FileGroup) -> FileGroup:
        """``group`` listed again (its files changed under a reader): only a live day ever does."""
        return group

    def files(
        self, fs: StorageFS, root: PurePath, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[PurePath]:
        return [path for group in self.groups(fs, root, start, end) for path in group.paths]


@dataclass(frozen=True)
class LiveDaily(Layout):
    """``FOLDER/YYYY-MM-DD.parquet`` per finished UTC day, ``FOLDER/YYYY-MM-DD/part-…`` before.

    Parts in the legacy folder ``FOLDER/_parts/YYYY-MM-DD/`` are listed beside the others (see
    the module docstring). A part listed in its day file's footer (:data:`MERGED_PARTS_KEY`) is
    already in the day file (a compaction was interrupted before deleting it) and is never listed.
    """

    pattern: ClassVar[str] = "FOLDER/YYYY-MM-DD.parquet + FOLDER/YYYY-MM-DD/part-CID-FIRSTUS-LASTUS-N.parquet"

    def day_file(self, root: PurePath, day: dt.date, collector_id: str = DEFAULT_COLLECTOR) -> PurePath:
        """Where ``collector_id`` compacts ``day`` (see the module docstring: one file per shard)."""
        shard = "" if collector_id == DEFAULT_COLLECTOR else f".{collector_id}"
        return self.path(root) / f"{day.isoformat()}{shard}{_SUFFIX}"

    def day_files(self, fs: StorageFS, root: PurePath, day: dt.date) -> list[PurePath]:
        """Every collector's day file of ``day`` on disk (the default collector's first)."""
        found = [(cid != DEFAULT_COLLECTOR, cid, name) for name in fs.listdir(self.path(root))
                 if (parsed := parse_day_file(name)) and parsed[0] == day and (cid := parsed[1])]
        return [self.path(root) / name for *_, name in sorted(found)]

    def merged_parts(self, fs: StorageFS, root: PurePath, day: dt.date) -> set[str]:
        """Names of the parts of ``day`` some day file already holds (any collector's)."""
        merged: set[str] = set()
        for path in self.day_files(fs, root, day):
            try:
                merged |= merged_part_names(fs, path)
            except DAMAGE_ERRORS as exc:
                if not is_damage(exc):
                    raise
                # a damaged day file: its reader skips it, its parts are what is left
        return merged

    def parts_dir(self, root: PurePath, day: dt.date) -> PurePath:
        """The folder new parts of ``day`` are written to."""
        return self.path(root) / day.isoformat()

    def legacy_parts_dir(self, root: PurePath, day: dt.date) -> PurePath:
        """Where earlier versions wrote the parts of ``day``: read, recovered and compacted, never written."""
        return self.path(root) / PARTS / day.isoformat()

    def part_folders(self, root: PurePath, day: dt.date) -> tuple[PurePath, PurePath]:
        """Every folder that can hold parts of ``day``: the legacy one first (its parts are older)."""
        return self.legacy_parts_dir(root, day), self.parts_dir(root, day)

    def part_file(self, root: PurePath, day: dt.date, part: PartName) -> PurePath:
        return self.parts_dir(root, day) / str(part)

    @staticmethod
    def is_part(path: PurePath) -> bool:
        """Whether a listed file is a part (else it is a day file)."""
        return parse_part_name(path.name) is not None

    def parts(self, fs: StorageFS, root: PurePath, day: dt.date) -> list[PurePath]:
        """Every part file of ``day`` on disk, merged ones included (compaction and recovery need them)."""
        return [folder / name for folder in self.part_folders(root, day)
                for name in fs.listdir(folder) if parse_part_name(name)]

    def part_days(self, fs: StorageFS, root: PurePath, start: dt.date | None = None,
                  end: dt.date | None = None) -> list[dt.date]:
        """UTC days in the range with a parts folder (new or legacy), in order."""
        folder = self.path(root)
        days = {day for name in fs.listdir(folder) if (day := _folder_day(name)) and _in_range(day, start, end)}
        days |= {day for name in fs.listdir(folder / PARTS) if (day := _folder_day(name)) and _in_range(day, start, end)}
        return sorted(days)

    def days(self, fs: StorageFS, root: PurePath, start: dt.date | None = None,
             end: dt.date | None = None) -> list[dt.date]:
        """UTC days in the range with a day file (any collector's) or a parts folder."""
        days = {parsed[0] for name in fs.listdir(self.path(root))
                if (parsed := parse_day_file(name)) and _in_range(parsed[0], start, end)}
        return sorted(days | set(self.part_days(fs, root, start, end)))

    def day_paths(self, fs: StorageFS, root: PurePath, day: dt.date) -> list[PurePath]:
        """The day files (every collector's), then the parts none of them has merged yet."""
        merged = self.merged_parts(fs, root, day)
        return self.day_files(fs, root, day) + [path for path in self.parts(fs, root, day)
                                                if path.name not in merged]

    def groups(
        self, fs: StorageFS, root: PurePath, start: dt.date | None = None, end: dt.date | None = None
    ) -> Iterator[FileGroup]:
        for day in self.days(fs, root, start, end):
            yield FileGroup(day, self.day_paths(fs, root, day))

    def regroup(self, fs: StorageFS, root: PurePath, group: FileGroup) -> FileGroup:
        assert isinstance(group.key, dt.date)
        return FileGroup(group.key, self.day_paths(fs, root, group.key))


@dataclass(frozen=True)
class PerEvent(Layout):
    """``FOLDER/EVENT_TICKER.parquet``: one file per event, rewritten whole.

    An event spans days, so a date range cannot be decided from the name: every file is listed and
    the rows are filtered on the dataset's time column.
    """

    pattern: ClassVar[str] = "FOLDER/EVENT_TICKER.parquet"
    prunes_by_name: ClassVar[bool] = False

    def event_file(self, root: PurePath, event_ticker: str) -> PurePath:
        return self.path(root) / f"{event_ticker}{_SUFFIX}"

    def groups(
        self, fs: StorageFS, root: PurePath, start: dt.date | None = None, end: dt.date | None = None
    ) -> Iterator[FileGroup]:
        folder = self.path(root)
        for name in fs.listdir(folder):
            if name.endswith(_SUFFIX) and not is_temp_name(name):
                yield FileGroup(name.removesuffix(_SUFFIX), [folder / name])


@dataclass(frozen=True)
class PerDay(Layout):
    """``FOLDER/YYYY-MM-DD.parquet``: one file per date (weather: the station's *climate* date)."""

    pattern: ClassVar[str] = "FOLDER/YYYY-MM-DD.parquet"

    def day_file(self, root: PurePath, day: dt.date) -> PurePath:
        return self.path(root) / f"{day.isoformat()}{_SUFFIX}"

    def groups(
        self, fs: StorageFS, root: PurePath, start: dt.date | None = None, end: dt.date | None = None
    ) -> Iterator[FileGroup]:
        folder = self.path(root)
        for day, name in _dated_files(fs, folder, start, end):
            yield FileGroup(day, [folder / name])


def day_file(root: PurePath, table: str, day: dt.date) -> PurePath:
    """The day file of live table ``table`` (a live table's folder is its name)."""
    return LiveDaily(table).day_file(root, day)


def parts_dir(root: PurePath, table: str, day: dt.date) -> PurePath:
    """The parts folder of live table ``table`` for ``day``."""
    return LiveDaily(table).parts_dir(root, day)
