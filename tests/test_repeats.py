"""RepeatedLog: the same error once, then a count; a line when it clears."""

from __future__ import annotations

import errno
import logging

from kalshi_collector.repeats import ErrorKind, RepeatedLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kc.test"]


def test_five_a_second_for_a_minute_is_two_lines_and_a_summary(caplog) -> None:
    clock, log = Clock(), logging.getLogger("kc.test")
    repeated = RepeatedLog(log, interval=60.0, clock=clock)
    full = ErrorKind.of(OSError(errno.ENOSPC, "No space left on device"))
    with caplog.at_level(logging.INFO, logger="kc.test"):
        for i in range(5 * 70):  # 70 s of a sync failing every 0.2 s
            clock.now = i * 0.2
            repeated.error(full, "journal write failed: %s", "disk full")
        repeated.error(ErrorKind.of(OSError(errno.EIO, "I/O error")), "journal write failed: %s", "EIO")
        clock.now = 100.0
        repeated.clear_all("journal writes work again")
    assert lines(caplog) == [
        "journal write failed: disk full",
        "journal write failed: disk full (the same error was repeated 299 times in the last 60 s)",
        "journal write failed: EIO",  # another error is never folded into the first
        "journal writes work again (after 49 more failures not logged one by one)",
        "journal writes work again",
    ]
    assert not repeated.active


def test_after_clearing_the_next_failure_is_logged_at_once(caplog) -> None:
    clock, log = Clock(), logging.getLogger("kc.test")
    repeated = RepeatedLog(log, interval=60.0, clock=clock)
    kind = ErrorKind("OSError", errno.ENOSPC)
    with caplog.at_level(logging.INFO, logger="kc.test"):
        assert repeated.error(kind, "failed")
        assert not repeated.error(kind, "failed")
        repeated.clear(kind, "ok again")
        assert repeated.error(kind, "failed")
    assert lines(caplog) == ["failed", "ok again (after 1 more failures not logged one by one)", "failed"]
