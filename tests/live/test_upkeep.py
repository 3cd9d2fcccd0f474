"""The store upkeep loops against a real LiveStore: flushes on time and on row count, a failing
disk backs off without losing rows, compaction runs and the loops end when stopping."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from kalshi_collector.config import StorageConfig
from kalshi_collector.live.upkeep import StoreUpkeep
from kalshi_collector.storage import LiveStore, ParquetStorage

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
