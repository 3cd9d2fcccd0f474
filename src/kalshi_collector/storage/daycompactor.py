"""Daily compaction of a collector's finished days, safe when collectors share one data folder.

Collectors sharing one folder (a bucket, each with its own ``collector_id``) must not compact the
same day at once: each would rewrite the day file from what it read and one could drop the rows the
other had just merged. So a day is compacted only by the collector with the smallest id among the
day's parts, or by anyone once that collector's newest part of the day is older than
``takeover_seconds`` (it has stopped: a running collector compacts within the hour). A lone
collector always compacts its own days.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path, PurePath

from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.layout import parse_part_name

__all__ = ["DayCompactor"]

log = logging.getLogger(__name__)


class DayCompactor:
    """Merges the parts of finished days into day files; counts what it did and what failed."""

    def __init__(self, fs: StorageFS, root: Path, collector_id: str, takeover_seconds: float) -> None:
        self._fs, self._root, self._collector_id = fs, root, collector_id
        self.takeover_seconds = takeover_seconds
        self._lock = threading.Lock()
        self.days_compacted = 0
        self.errors = 0

    def compact(self, today: dt.date) -> list[str]:
        """Compact every day before ``today`` this collector owns; return the files written.

        A day that fails is logged, counted and left as parts for next time.
        """
        done: list[str] = []
        with self._lock:
            for name, spec in TABLES.items():
                for day in spec.layout.part_days(self._fs, self._root, end=today - dt.timedelta(days=1)):
                    if not self._is_compactor(spec.layout.parts(self._fs, self._root, day)):
                        continue
                    try:
                        written = compact_day(self._fs, self._root, spec, day)
                    except Exception as exc:  # noqa: BLE001
                        self.errors += 1
                        log.error("compaction of %s %s failed, parts kept: %s: %s",
                                  name, day, type(exc).__name__, exc)
                        continue
                    if written is not None:
                        done.append(str(written))
                        self.days_compacted += 1
        return done

    def _is_compactor(self, parts: list[PurePath]) -> bool:
        """Whether this collector compacts the day of ``parts`` (its part files; see the module)."""
        smaller = [path for path in parts
                   if (part := parse_part_name(path.name)) and part.collector_id < self._collector_id]
        if not smaller:
            return True
        owners = sorted({parse_part_name(path.name).collector_id for path in smaller})  # type: ignore[union-attr]
        try:
            newest = max(self._fs.modified(path) for path in smaller)
        except FileNotFoundError:  # that collector is compacting the day right now
            return False
        if time.time() - newest >= self.takeover_seconds:
            log.warning("compacting %s for collector(s) %s, silent for %.0f h", smaller[0].parent, owners,
                        (time.time() - newest) / 3600)
            return True
        log.debug("leaving %s to collector %s", smaller[0].parent, owners[0])
        return False
