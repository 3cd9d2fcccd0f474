"""The read loop's priority settings are applied for a run and restored after it."""

from __future__ import annotations

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
