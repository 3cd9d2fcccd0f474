"""The `collect` command stopped by a real SIGTERM while its disk is full: it waits the configured
time for space, journals every row, exits 1 with one line naming the journal folder, and the next
start's recovery writes them (row counts read back)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import msgspec
from journal_faults import FullDisk
from tests.live.simrun import collector_config

from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.command import EXIT_ROWS_LEFT, exit_status, run_collector
from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.journal import JournalOptions


def stored_rows(data_dir: Path) -> int:
    storage = ParquetStorage(data_dir)
    return sum(len(storage.read_parquets(name)) for name in TABLES)


async def test_sigterm_on_a_full_disk_exits_1_and_the_restart_recovers_every_row(tmp_path: Path, caplog) -> None:
    data = tmp_path / "data"
    disk = FullDisk()
    async with SimExchange(SimConfig(seed=3, message_rate=300, state_dir=tmp_path / "sim")) as sim:
        config = collector_config(sim, data)
        config = msgspec.structs.replace(config, storage=msgspec.structs.replace(
            config.storage, stop_wait_for_space_seconds=0.5, flush_interval_seconds=1.0))
        store = LiveStore(data, fs=disk.parts(), journal_options=JournalOptions(segment_bytes=1 << 20, ops=disk))
        collector = Collector(config, options=CollectorOptions(stats_interval=60), store=store)

        async def fill_then_terminate() -> None:
            await asyncio.sleep(2.5)
            disk.full = True
            await asyncio.sleep(1.5)
            os.kill(os.getpid(), signal.SIGTERM)

        killer = asyncio.create_task(fill_then_terminate())
        report = await asyncio.wait_for(run_collector(config, collector=collector), 30)
        await killer
    assert exit_status(report) == EXIT_ROWS_LEFT
    assert report is not None and report.rows_left > 0 and report.rows_unjournaled == 0
    assert report.journal_dir == data / "_journal"
    lines = [r.message for r in caplog.records if r.levelname == "ERROR" and r.message.startswith("closing")]
    assert len(lines) == 1 and str(data / "_journal") in lines[0] and "free disk space" in lines[0]
    before = stored_rows(data)
    written = sum(store.stats["rows_written"].values())
    assert before == written > 0, "rows flushed before the disk filled are in part files"

    disk.full = False  # the operator frees space; the next start recovers the journal
    with LiveStore(data, journal_sync_interval=None) as again:
        recovered = sum(again.recover().values())
    assert recovered == report.rows_left
    assert stored_rows(data) == written + report.rows_left
