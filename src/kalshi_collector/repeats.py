"""One line per problem, not five a second: a logger front that folds repeats of the same message.

A failing disk makes the journal sync (every 0.2 s) and the flush fail again and again with the
same error; logging each one buries everything else in the log. :class:`RepeatedLog` logs the
first occurrence of a *kind* of message at once, counts the ones that follow, and says
``(repeated N times in the last S s)`` when the kind comes up again after ``interval`` seconds
(with the new message), or when the caller says the problem has cleared (:meth:`RepeatedLog.clear`).
Nothing is lost from the record: the count of every suppressed line is reported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["ErrorKind", "RepeatedLog"]


class ErrorKind(NamedTuple):
    """What makes two errors "the same" for :class:`RepeatedLog`: their type and errno."""

    type_name: str
    errno: int | None

    @classmethod
    def of(cls, exc: BaseException) -> ErrorKind:
        return cls(type(exc).__name__, getattr(exc, "errno", None))


@dataclass
class _Seen:
    logged_at: float  # when a line of this kind was last written
    suppressed: int = 0  # lines of this kind held back since then


class RepeatedLog:
    """``logger``, but a message of a kind already logged within ``interval`` seconds is counted,
    not written. Thread-safe (the store's sync thread and the flush worker share one)."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self._interval, self._clock = logger, interval, clock
        self._seen: dict[Hashable, _Seen] = {}
        self._lock = threading.Lock()

    def log(self, level: int, kind: Hashable, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``kind`` was logged less than ``interval`` ago; True if written."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(kind)
            if seen is not None and now - seen.logged_at < self._interval:
                seen.suppressed += 1
                return False
            held = seen.suppressed if seen else 0
            since = now - seen.logged_at if seen else 0.0
            self._seen[kind] = _Seen(now)
        if held:
            msg += " (the same error was repeated %d times in the last %.0f s)"
            args = (*args, held, since)
        self._log.log(level, msg, *args)
        return True

    def error(self, kind: Hashable, msg: str, *args: object) -> bool:
        return self.log(logging.ERROR, kind, msg, *args)

    def warning(self, kind: Hashable, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, msg, *args)

    @property
    def active(self) -> bool:
        """Whether any kind was logged and not yet :meth:`clear`-ed (cheap: a hot path checks it)."""
        return bool(self._seen)

    def clear_all(self, resolved: str) -> None:
        """Every kind's problem is over (see :meth:`clear`)."""
        for kind in list(self._seen):
            self.clear(kind, resolved)

    def clear(self, kind: Hashable, resolved: str) -> None:
        """The problem of ``kind`` is over: log ``resolved`` (INFO) with the count of held-back
        lines, and log the next occurrence at once again. Nothing happens for a kind not seen."""
        with self._lock:
            seen = self._seen.pop(kind, None)
        if seen is None:
            return
        if seen.suppressed:
            self._log.info("%s (after %d more failures not logged one by one)", resolved, seen.suppressed)
        else:
            self._log.info("%s", resolved)
