"""The read loop's priority over the collector's own background work, for the time of a run.

Two process-wide settings decide how long a frame can wait before it is applied:

* **The GIL switch interval.** The read loop shares the interpreter lock with the journal and flush
  threads; CPython hands it over every 5 ms by default. 1 ms keeps the loop from waiting behind them.
* **The cyclic garbage collector.** It stops every thread while it walks a generation. Most of the
  collector's allocations are row tuples (untracked again at their first collection: they hold only
  numbers and strings) and transient messages. With the default thresholds (700, 10, 10) every few
  seconds a full collection walks every object of the process, pandas and pyarrow included:
  50-170 ms during which no frame is applied (measured with ``gc.callbacks`` under ``bench_live``:
  it *was* the exchange->applied p99). So everything alive after start-up (modules, config, the
  parts; none of it garbage) is moved out of the collector's sight (``gc.freeze``), and middle and
  full collections are made rare (one middle collection per ~1M allocations, a full one per 1,000
  middle ones). The young generation stays *small* (2,000): a young collection's cost is the
  buffered row tuples it visits, each a few cache misses, so 20,000 of them took 10-30 ms, every
  half second, at 20k msg/s (``bench scale`` with ``gc.callbacks``, 2026-12-04: young collections
  p99 24-36 ms, max 65 ms), where 2,000 take ~0.5 ms (p99 5-7 ms), ten times as often, and less GC
  time in all (0.7 s instead of 1.2 s in the same 30 s run; exchange->applied p99 18-25 ms
  instead of 47-62 ms). Garbage cycles are still collected; only the cadence changes.
  What start-up builds after the freeze (a book and a tracked market per market: 40,000 objects at
  the whole exchange) is frozen too once every book is first valid (:meth:`ReadLoopPriority.settle`):
  left to the collector, its first middle collection walked them all, a 30-40 ms stop.

Both are restored when the run ends (several collectors may run in one process, e.g. in tests).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RUN_GC_THRESHOLDS", "RUN_SWITCH_INTERVAL", "ReadLoopPriority"]

RUN_SWITCH_INTERVAL = 0.001
RUN_GC_THRESHOLDS = (2_000, 500, 1_000)
"""(young allocations, young collections per middle one, middle collections per full one)."""


@dataclass
class ReadLoopPriority:
    """``apply()`` at the start of a run, ``restore()`` at its end (each idempotent)."""

    switch_interval: float = RUN_SWITCH_INTERVAL
    gc_thresholds: tuple[int, int, int] = RUN_GC_THRESHOLDS
    _saved: tuple[float, tuple[int, int, int]] | None = None

    def apply(self) -> None:
        if self._saved is not None:
            return
        self._saved = (sys.getswitchinterval(), gc.get_threshold())
        sys.setswitchinterval(self.switch_interval)
        # No gc.collect() first: in a big process (a test session) a full collection takes up to a
        # second, and start-up garbage is small; it is collected after the run (restore unfreezes).
        gc.freeze()
        gc.set_threshold(*self.gc_thresholds)

    async def settle(self, ready: Callable[[], bool], *, poll: float = 1.0, limit: float = 300.0) -> bool:
        """Once ``ready()`` (every book valid), or after ``limit`` seconds whatever it says, move
        what is alive then out of the collector's sight too; True if it was ready."""
        waited = 0.0
        while not ready() and waited < limit:
            await asyncio.sleep(poll)
            waited += poll
        if self._saved is not None:
            gc.freeze()
        return waited < limit

    def restore(self) -> None:
        if self._saved is None:
            return
        switch_interval, thresholds = self._saved
        sys.setswitchinterval(switch_interval)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        self._saved = None
