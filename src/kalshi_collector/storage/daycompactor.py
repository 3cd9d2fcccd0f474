"""Daily compaction of this collector's finished days.

Collectors sharing one data folder or bucket (shards, each with its own ``collector_id``) each
compact only their own parts, into their own day file (``layout.py``: ``YYYY-MM-DD.CID.parquet``
beside the default collector's ``YYYY-MM-DD.parquet``), so no shard's compaction reads for rows,
rewrites or deletes another's files, and none has to wait for another. A stopped shard's parts stay
parts (every reader lists them) until it runs again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.layout import parse_part_name

__all__ = ["DayCompactor"]

log = logging.getLogger(__name__)


class DayCompactor:
    """Merges this collector's parts of finished days into its day files; counts done and failed."""

    def __init__(self, fs: StorageFS, root: Path, collector_id: str) -> None:
        self._fs, self._root, self._collector_id = fs, root, collector_id
        self._lock = threading.Lock()
        self.days_compacted = 0
        self.errors = 0

    def compact(self, today: dt.date) -> list[str]:
        """Compact every day before ``today`` holding parts of this collector; return the files written.

        A day that fails is logged, counted and left as parts for next time.
        """
        done: list[str] = []
        with self._lock:
            for name, spec in TABLES.items():
                for day in spec.layout.part_days(self._fs, self._root, end=today - dt.timedelta(days=1)):
                    if not self._owns_parts(spec.layout.parts(self._fs, self._root, day)):
                        continue
                    try:
                        written = compact_day(self._fs, self._root, spec, day, self._collector_id)
                    except Exception as exc:  # noqa: BLE001
                        self.errors += 1
                        log.error("compaction of %s %s failed, parts kept: %s: %s",
                                  name, day, type(exc).__name__, exc)
                        continue
                    if written is not None:
                        done.append(str(written))
                        self.days_compacted += 1
        return done

    def _owns_parts(self, parts: list) -> bool:
        return any((part := parse_part_name(path.name)) and part.collector_id == self._collector_id
                   for path in parts)
