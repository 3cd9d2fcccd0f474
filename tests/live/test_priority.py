"""The read loop's priority settings are applied for a run, what start-up built is frozen once
every book is valid, and all is restored after the run."""

from __future__ import annotations

import asyncio
import gc
import sys

from kalshi_collector.live.priority import RUN_GC_THRESHOLDS, RUN_SWITCH_INTERVAL, ReadLoopPriority


def test_apply_then_restore_gives_back_the_process_settings() -> None:
    before = (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count())
    priority = ReadLoopPriority()
    priority.apply()
    priority.apply()  # idempotent: the saved settings stay the original ones
    try:
        assert sys.getswitchinterval() == RUN_SWITCH_INTERVAL
        assert gc.get_threshold() == RUN_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # garbage cycles are still collected
    finally:
        priority.restore()
        priority.restore()
    assert (sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()) == before


async def test_settle_freezes_what_start_up_built_once_ready() -> None:
    priority = ReadLoopPriority()
    priority.apply()
    try:
        frozen = gc.get_freeze_count()
        books = [[i] for i in range(1000)]  # built after apply (lists stay tracked): in the collector's sight
        ready = [False]
        task = asyncio.create_task(priority.settle(lambda: ready[0], poll=0.01))
        await asyncio.sleep(0.05)
        assert not task.done() and gc.get_freeze_count() <= frozen  # nothing frozen yet
        ready[0] = True
        assert await asyncio.wait_for(task, 1) is True
        assert gc.get_freeze_count() >= frozen + len(books)
    finally:
        priority.restore()
    assert gc.get_freeze_count() == 0


async def test_settle_gives_up_waiting_and_freezes_nothing_outside_a_run() -> None:
    priority = ReadLoopPriority()
    before = gc.get_freeze_count()
    assert await priority.settle(lambda: False, poll=0.01, limit=0.03) is False
    assert gc.get_freeze_count() == before
