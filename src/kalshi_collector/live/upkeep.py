"""The live store's upkeep beside the read loop: flushes to parquet parts, and day compaction.

The journal sync needs nothing here (the store's own thread runs it every 0.2 s). Both loops run
the store's blocking work in a worker thread and return when ``stopping`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kalshi_collector.config import StorageConfig
from kalshi_collector.kalshi.ws import Backoff
from kalshi_collector.repeats import RepeatedLog
from kalshi_collector.storage import LiveStore

__all__ = ["StoreUpkeep"]

log = logging.getLogger(__name__)

BEHIND_FLUSHES = 3
"""Rows still waiting after a flush, in flushes' worth (``max_buffered_rows``), that mean part
writing is not keeping up with the flow (the rows are journaled and kept, but memory grows)."""


class StoreUpkeep:
    def __init__(
        self,
        store: LiveStore,
        storage: StorageConfig,
        stopping: asyncio.Event,
        *,
        compact_check_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._interval = storage.flush_interval_seconds
        self._limit = storage.max_buffered_rows
        self._stopping = stopping
        self._compact_check_interval = compact_check_interval
        self._clock = clock
        self.last_good_flush_at = clock()  # when a flush last wrote everything (health reads it)
        self._behind = RepeatedLog(log, 60.0)

    async def flush_loop(self) -> None:
        """Flush every ``flush_interval_seconds``, or sooner when ``max_buffered_rows`` is reached:
        at high message rates the time rule alone would hold minutes of rows in memory.

        After a failed flush (disk full...) the rows stay buffered and journaled, and the next
        attempt waits a growing, capped delay instead of hammering a broken disk.
        """
        interval, clock, stopping = self._interval, self._clock, self._stopping
        retry = Backoff(initial=1.0, cap=min(60.0, interval))
        earliest = 0.0
        while not stopping.is_set():
            due = clock() + interval
            while not stopping.is_set() and (
                clock() < earliest or (clock() < due and self._store.buffered_rows < self._limit)
            ):
                await asyncio.sleep(min(1.0, interval))
            if stopping.is_set():
                return
            started = time.perf_counter()
            written = await asyncio.to_thread(self._store.flush)
            took = time.perf_counter() - started
            if self._store.stats.get("last_flush_ok", True):
                self.last_good_flush_at = clock()
                retry.reset()
                earliest = 0.0
                self._report_backlog(sum(written.values()), took)
            else:
                earliest = clock() + retry.next_delay()
            log.debug("flushed %s in %.3f s", written, took)

    def _report_backlog(self, written: int, took: float) -> None:
        """Say (a line a minute) when more rows wait after a flush than a few flushes' worth: the
        disk or the machine is too slow for the flow and memory grows until it catches up."""
        waiting = self._store.buffered_rows
        if waiting >= BEHIND_FLUSHES * self._limit:
            self._behind.warning("behind", "part writing is falling behind: %d rows wait in memory (journaled, "
                                 "none lost) after a flush of %d rows that took %.1f s; the disk or the machine "
                                 "is too slow for this flow: follow fewer markets or shard them "
                                 "(docs/operations.md, Sizing)", waiting, written, took)
        elif self._behind.active:
            self._behind.clear_all(f"part writing has caught up: {waiting} rows wait in memory")

    async def compact_loop(self) -> None:
        """Now and then, turn finished days' parts into day files (parts kept on failure)."""
        while not self._stopping.is_set():
            today = datetime.fromtimestamp(self._clock(), UTC).date()
            try:
                done = await asyncio.to_thread(self._store.compact, today)
                if done:
                    log.info("compacted %d finished day file(s)", len(done))
            except OSError as exc:
                log.error("compaction failed (parts kept, will retry): %s", exc)
            await asyncio.sleep(self._compact_check_interval)
