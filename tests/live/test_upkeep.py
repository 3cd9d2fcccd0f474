"""The store upkeep loops against a real LiveStore: flushes on time and on row count, a failing
disk backs off without losing rows, a slow one is reported, compaction runs and the loops end when
stopping."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from kalshi_collector.config import StorageConfig
from kalshi_collector.live.upkeep import BEHIND_FLUSHES, StoreUpkeep
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.fs import LocalFS

DAY_US = 86_400 * 1_000_000
TS = 1_770_768_000 * 1_000_000  # 2026-02-11T00:00:00Z


def event(i: int, ts: int = TS) -> tuple:
    return (ts + i, None, 1, None, None, "gap", f"n{i}", None)


async def _run_until(upkeep_loop, stopping: asyncio.Event, check, timeout: float = 5.0) -> None:
    task = asyncio.create_task(upkeep_loop())
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
    stopping.set()
    await asyncio.wait_for(task, 3)


async def test_rows_are_flushed_every_interval(tmp_path: Path) -> None:
    stopping = asyncio.Event()
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        upkeep = StoreUpkeep(store, StorageConfig(flush_interval_seconds=0.1), stopping)
        before = upkeep.last_good_flush_at
        store.extend("book_events", [event(i) for i in range(5)])
        await _run_until(upkeep.flush_loop, stopping, lambda: store.buffered_rows == 0)
        assert upkeep.last_good_flush_at > before
    assert len(ParquetStorage(tmp_path).read_parquets("book_events")) == 5


async def test_a_full_buffer_flushes_before_the_interval(tmp_path: Path) -> None:
    stopping = asyncio.Event()
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        upkeep = StoreUpkeep(store, StorageConfig(flush_interval_seconds=3600, max_buffered_rows=1000), stopping)
        store.extend("book_events", [event(i) for i in range(1000)])
        await _run_until(upkeep.flush_loop, stopping, lambda: store.buffered_rows == 0)


async def test_a_failing_disk_keeps_the_rows_and_the_last_good_flush_time(tmp_path: Path) -> None:
    (tmp_path / "book_events").write_text("a file where a folder belongs: every part write fails")
    stopping = asyncio.Event()
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        upkeep = StoreUpkeep(store, StorageConfig(flush_interval_seconds=2, max_buffered_rows=1000), stopping)
        before = upkeep.last_good_flush_at
        store.extend("book_events", [event(i) for i in range(1000)])  # a full buffer: flush at once
        task = asyncio.create_task(upkeep.flush_loop())
        while store.stats["write_errors"] < 1:
            await asyncio.sleep(0.02)
        # the buffer is still full, yet the next attempt waits the backoff (0.5 to 1 s at first)
        await asyncio.sleep(0.4)
        assert store.stats["write_errors"] == 1
        assert store.buffered_rows == 1000 and upkeep.last_good_flush_at == before
        stopping.set()
        await asyncio.wait_for(task, 3)


class _SlowDisk(LocalFS):
    """The local disk, a part file taking ``delay`` seconds to write while ``slow`` is set."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay, self.slow = delay, True

    def write_parquet(self, path: Path, table: Any, **options: Any) -> Path:
        if self.slow:
            time.sleep(self.delay)
        return super().write_parquet(path, table, **options)


async def test_a_disk_too_slow_for_the_flow_is_reported_and_its_rows_kept(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kalshi_collector.live.upkeep")
    disk, stopping, limit = _SlowDisk(0.5), asyncio.Event(), 1000
    with LiveStore(tmp_path, journal_sync_interval=None, fs=disk) as store:
        upkeep = StoreUpkeep(store, StorageConfig(flush_interval_seconds=3600, max_buffered_rows=limit), stopping)
        store.extend("book_events", [event(i) for i in range(limit)])  # a full buffer: a flush at once
        sent = limit
        task = asyncio.create_task(upkeep.flush_loop())
        while store.stats["flushes"] == 0:  # the flow goes on while the slow flush writes
            store.extend("book_events", [event(i) for i in range(sent, sent + 400)])
            sent += 400
            await asyncio.sleep(0.05)

        def behind() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "falling behind" in r.getMessage()]

        for _ in range(250):  # the loop reports once the flush is back from its thread
            if behind():
                break
            await asyncio.sleep(0.02)
        assert len(behind()) == 1 and behind()[0].levelno == logging.WARNING
        assert store.buffered_rows >= BEHIND_FLUSHES * limit
        disk.slow = False
        while store.buffered_rows:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert any("caught up" in r.getMessage() for r in caplog.records)
        stopping.set()
        await asyncio.wait_for(task, 3)
    assert len(ParquetStorage(tmp_path).read_parquets("book_events")) == sent


async def test_finished_days_are_compacted(tmp_path: Path) -> None:
    stopping = asyncio.Event()
    clock = lambda: (TS + DAY_US) / 1_000_000 + 60  # noqa: E731 - the next day, a minute in
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        store.extend("book_events", [event(i) for i in range(3)])
        store.flush()
        upkeep = StoreUpkeep(store, StorageConfig(), stopping, compact_check_interval=0.05, clock=clock)
        day_file = tmp_path / "book_events" / f"{dt.date(2026, 2, 11)}.parquet"
        await _run_until(upkeep.compact_loop, stopping, day_file.exists)
    assert len(ParquetStorage(tmp_path).read_parquets("book_events")) == 3
