"""The retry policy, declared once: which failures are tried again, how long to wait, when to stop.

Only transient failures (:mod:`.errors`) are retried, with capped exponential backoff plus jitter
(``tenacity``); a ``Retry-After`` the server sent is honoured up to the cap. ``total_seconds``
bounds a whole request, retries and waits included, counted from the moment its first attempt is
let through the service's gate (:class:`Budget`; waiting in line behind the service's other
requests is not this request's doing): no retry starts after the limit, and each attempt waits for
an answer only as long as is left (a server that accepts a connection and never answers costs at
most that long).

Logging follows what an operator needs: the first failed attempt of a request is one WARNING line
(what failed, where, when the next try is); later attempts of the same request go to DEBUG. The
same kind of failure on the same service within ``quiet_seconds`` also goes to DEBUG (a burst of
429s over a thousand requests is one line, not a thousand), counted in the next warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from kalshi_collector.httpclient.errors import HttpError
from kalshi_collector.httpclient.stats import HttpStats

__all__ = ["Budget", "RetryPolicy", "RetryLog", "call_with_retries"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` counts the first try; waits are ``initial * 2**(n-1)`` plus up to ``jitter``, at most ``max``."""

    attempts: int = 4
    initial_seconds: float = 0.25
    max_seconds: float = 30.0
    jitter_seconds: float = 0.5
    total_seconds: float | None = None

    def wait(self, state: RetryCallState) -> float:
        base = (wait_exponential(multiplier=self.initial_seconds, max=self.max_seconds)
                + wait_random(0, self.jitter_seconds))(state)
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None) or 0.0
        return min(max(base, hinted), self.max_seconds)

    def retrying(self, before_sleep: Callable[[RetryCallState], None], budget: Budget) -> AsyncRetrying:
        stop = stop_after_attempt(max(1, self.attempts))
        if self.total_seconds is not None:
            stop = stop | budget.spent
        return AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, HttpError) and e.transient),
            stop=stop,
            wait=self.wait,
            before_sleep=before_sleep,
            reraise=True,
        )


class Budget:
    """The time limit of one request (None: none), counted from :meth:`start`: the moment its first
    attempt got through the gate."""

    def __init__(self, total_seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.total_seconds = total_seconds
        self._clock = clock
        self._started: float | None = None

    def start(self) -> None:
        if self._started is None:
            self._started = self._clock()

    def left(self) -> float | None:
        """Seconds left (at least a millisecond), or None without a limit."""
        if self.total_seconds is None:
            return None
        used = 0.0 if self._started is None else self._clock() - self._started
        return max(0.001, self.total_seconds - used)

    def spent(self, state: RetryCallState) -> bool:
        """tenacity stop: a retry after the coming wait would start at or past the limit."""
        left = self.left()
        return left is not None and left - (state.upcoming_sleep or 0.0) <= 0.001


class RetryLog:
    """Decides the level of each retry line (see the module docstring)."""

    def __init__(self, logger: logging.Logger, quiet_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._quiet = quiet_seconds
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def retrying(self, source: str, exc: BaseException | None, attempt: int, policy: RetryPolicy, wait: float) -> None:
        kind = f"HTTP {exc.status}" if isinstance(exc, HttpError) and exc.status else type(exc).__name__
        key = (source, kind)
        now = self._clock()
        loud = attempt == 1 and now - self._last.get(key, float("-inf")) >= self._quiet
        if not loud:
            if attempt == 1:
                self._held[key] = self._held.get(key, 0) + 1
            self._log.debug("%s: %s; retry %d in %.1f s", source, exc, attempt, wait)
            return
        self._last[key] = now
        held = self._held.pop(key, 0)
        more = f" ({held} more request(s) met the same since the last such line)" if held else ""
        bound = (f"for up to {policy.total_seconds:g} s" if policy.total_seconds is not None and policy.attempts > 100
                 else f"up to {policy.attempts - 1} more time(s)")
        self._log.warning("%s: %s; will retry in %.1f s, with backoff, %s%s", source, exc, wait, bound, more)


async def call_with_retries(
    policy: RetryPolicy,
    attempt: Callable[[Budget], Awaitable[T]],
    *,
    source: str,
    log: RetryLog,
    stats: HttpStats | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``attempt(budget)`` until it returns or fails permanently; the last failure is raised.

    ``budget`` is the request's :class:`Budget` of ``policy.total_seconds``: the attempt starts it
    once through the gate and bounds its wait for an answer by ``budget.left()``.
    """
    budget = Budget(policy.total_seconds, clock)

    def before_sleep(state: RetryCallState) -> None:
        if stats is not None:
            stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.retrying(source, exc, state.attempt_number, policy, wait)

    async for try_ in policy.retrying(before_sleep, budget):
        with try_:
            return await attempt(budget)
    raise AssertionError("unreachable")  # pragma: no cover
