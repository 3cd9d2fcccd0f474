"""The flush's GC pause nests, gives back the collector's state as it found it, and is taken only
for a big part built in this process (a small one's young collections stay spread out)."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from storage_helpers import T0, delta_row

from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.gcpause import paused_gc
from kalshi_collector.storage.partwrite import _PAUSE_MIN_ROWS


def test_overlapping_pauses_end_with_the_last_and_restore_the_state() -> None:
    assert gc.isenabled()
    inner_entered, release = threading.Event(), threading.Event()

    def other_flush() -> None:
        with paused_gc():
            inner_entered.set()
            release.wait(5)

    with paused_gc():
        assert not gc.isenabled()
        worker = threading.Thread(target=other_flush)
        worker.start()
        inner_entered.wait(5)
    assert not gc.isenabled(), "the other flush still converts"
    release.set()
    worker.join()
    assert gc.isenabled()


def test_a_collector_off_before_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


class _GcWatchingFS(LocalFS):
    """The local disk, noting whether the collector was on while each part file was written."""

    def __init__(self) -> None:
        super().__init__()
        self.gc_on: list[bool] = []

    def write_parquet(self, path: Path, table: Any, **options: Any) -> Path:
        self.gc_on.append(gc.isenabled())
        return super().write_parquet(path, table, **options)


def test_only_a_big_part_built_here_pauses_the_collector(tmp_path: Path) -> None:
    fs = _GcWatchingFS()
    with LiveStore(tmp_path, journal_sync_interval=None, fs=fs) as store:
        store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(100)])
        assert store.flush() == {"orderbook_deltas": 100}
        store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(_PAUSE_MIN_ROWS)])
        assert store.flush() == {"orderbook_deltas": _PAUSE_MIN_ROWS}
    assert fs.gc_on == [True, False] and gc.isenabled()
    parts = sorted((tmp_path / "orderbook_deltas").rglob("*.parquet"))
    assert sum(pq.read_metadata(p).num_rows for p in parts) == 100 + _PAUSE_MIN_ROWS
