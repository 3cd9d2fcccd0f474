"""The flush's GC pause nests, and gives back the collector's state as it found it."""

from __future__ import annotations

import gc
import threading

from kalshi_collector.storage.gcpause import paused_gc


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
