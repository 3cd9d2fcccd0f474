"""One weather day file: merge new rows into it by the source's key, and rewrite it atomically.

Shared by the orchestrator (:mod:`.observations`) and by anything else that brings rows into the
weather tables (the original collector's files, :mod:`kalshi_collector.migrate`), so that every
way in dedupes the same way: a row whose key is already held is not added again (first one wins),
except a held row with a null ``upgrade_column`` that a new row fills (a CLI version first known
only through IEM's parse). Nothing is rewritten when nothing is new, so a re-run changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

import pyarrow as pa

from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.schemas import conform
from kalshi_collector.weather.sources import WeatherSource

__all__ = ["merge_rows", "DayMerge", "DayFileUnreadable", "merge_into_day_file"]

log = logging.getLogger(__name__)


def _keys(table: pa.Table, key: Sequence[str], normalize: Mapping[str, Callable[[object], object]]) -> list[tuple]:
    columns = []
    for name in key:
        values = table.column(name).to_pylist()
        fn = normalize.get(name)
        columns.append([fn(v) for v in values] if fn else values)
    return list(zip(*columns, strict=True)) if columns else []


def merge_rows(
    existing: pa.Table | None,
    new: pa.Table,
    key: Sequence[str],
    *,
    normalize: Mapping[str, Callable[[object], object]] | None = None,
    upgrade_column: str | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Existing rows, plus the new rows whose key is not held yet (pure). Returns (merged, rows added).

    ``upgrade_column``: a held row whose value there is null is replaced by a new row with the
    same key that has one (a CLI version known only from IEM's parse, then read in full).
    """
    normalize = normalize or {}
    if existing is None or existing.num_rows == 0:
        base = new.slice(0, 0)
        existing_keys: list[tuple] = []
    else:
        base = conform(existing, new.schema)
        existing_keys = _keys(base, key, normalize)
    index = {k: i for i, k in enumerate(existing_keys)}
    keep_existing = [True] * len(existing_keys)
    take_new: list[int] = []
    seen_new: set[tuple] = set()
    upgrade_values = new.column(upgrade_column).to_pylist() if upgrade_column else None
    held_values = base.column(upgrade_column).to_pylist() if upgrade_column else None
    for i, k in enumerate(_keys(new, key, normalize)):
        if k in seen_new:
            continue
        seen_new.add(k)
        j = index.get(k)
        if j is None:
            take_new.append(i)
        elif upgrade_values is not None and held_values is not None and held_values[j] is None \
                and upgrade_values[i] is not None:
            keep_existing[j] = False
            take_new.append(i)
    kept = base.filter(pa.array(keep_existing, type=pa.bool_())) if existing_keys else base
    added = new.take(pa.array(take_new, type=pa.int64()))
    return pa.concat_tables([kept, added]), added


class DayFileUnreadable(Exception):
    """The existing day file could not be read; it is left untouched (it may hold data that
    rewriting it would lose)."""


@dataclass(frozen=True, slots=True)
class DayMerge:
    """What merging into one day file did. ``merged``: the day's rows now; ``added``: the new ones."""

    path: PurePath
    merged: pa.Table
    added: pa.Table
    written: bool


def merge_into_day_file(fs: StorageFS, root: PurePath, source: WeatherSource, climate_date: date,
                        rows: pa.Table) -> DayMerge:
    """Merge ``rows`` (of ``source``'s schema, all of ``climate_date``) into its day file; the file
    is rewritten, sorted, only when rows were added. Raises :class:`DayFileUnreadable`."""
    path = source.dataset.layout.day_file(root, climate_date)
    try:
        existing = fs.read_table(path) if fs.isfile(path) else None
    except Exception as exc:
        raise DayFileUnreadable(f"existing day file {path} unreadable, left untouched: {exc}") from exc
    merged, added = merge_rows(existing, rows, source.dataset.key, normalize=source.key_forms,
                               upgrade_column=source.upgrade_column)
    if not added.num_rows:
        return DayMerge(path, merged, added, written=False)
    merged = merged.sort_by([(c, "ascending") for c in source.dataset.sort_keys])
    fs.write_parquet(path, merged)
    log.info("weather: %s %s: +%d rows (%d in the day file) -> %s", source.name, climate_date, added.num_rows,
             merged.num_rows, fs.url(path))
    return DayMerge(path, merged, added, written=True)
