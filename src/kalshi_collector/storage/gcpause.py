"""No cyclic garbage collection while a flush turns rows into Arrow columns.

Converting a flush's rows (row tuples -> column tuples -> Arrow arrays) allocates about one
GC-tracked object per row, so CPython's young collections run hundreds of times and full ones a few
times in the middle of it; each full collection walks every object of the process (pandas and
pyarrow included) while every thread waits. Measured on 540,000 ``orderbook_deltas`` rows:
``rows_to_table`` 1.8-2.0 s with the collector on, 0.53 s with it off (``bench_storage``). Nothing
in the conversion creates reference cycles, and a flush lasts about a second, so pausing the
collector for its duration costs nothing but a little later collection of other threads' cycles.

The pause is counted: overlapping pauses (a flush and a compaction) end when the last one ends, and
the collector is only turned back on if it was on before the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
