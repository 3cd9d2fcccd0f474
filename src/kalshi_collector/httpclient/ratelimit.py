"""Client-side pacing: a token bucket, a bound on requests in flight, and a shared cool-down.

A :class:`RateGate` is what every request of one service passes before it is sent:

1. a slot (``asyncio.Semaphore``) when the service wants at most N requests in flight (IEM: one);
2. the cool-down after a 429, when the gate has one: every caller waits, so the whole client slows
   down, not only the request that was refused;
3. the token bucket (``aiolimiter``).

Kalshi's 429 carries no Retry-After, hence the cool-down (growing with consecutive 429s, capped);
the weather services send Retry-After when they throttle and their gates have no cool-down (the
retry policy honours the header instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

__all__ = ["RateGate", "CoolDown"]


@dataclass(slots=True)
class CoolDown:
    """After a 429, pause every caller ``0.25 s * 2**n`` (n consecutive 429s), at most ``max_seconds``."""

    max_seconds: float
    until: float = 0.0
    consecutive: int = 0
    last_429_at: float = float("-inf")

    def note_429(self, sent_at: float, now: float) -> None:
        # Requests already in flight when the last 429 arrived report that same overload: with
        # many requests in flight, counting each of them would escalate one burst straight to
        # the longest pause. Only a 429 to a request sent after it means "still too fast".
        if sent_at < self.last_429_at:
            return
        self.last_429_at = now
        self.consecutive += 1
        pause = min(self.max_seconds, 0.25 * 2 ** min(self.consecutive, 8))
        self.until = max(self.until, now + pause)

    def note_ok(self) -> None:
        self.consecutive = 0


class RateGate:
    """``rate`` requests per ``period`` seconds (``rate`` 0: no bucket), ``concurrency`` in flight
    (None: unbounded), optional :class:`CoolDown`."""

    def __init__(
        self,
        rate: float = 0.0,
        period: float = 1.0,
        *,
        concurrency: int | None = None,
        cooldown: CoolDown | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = AsyncLimiter(rate, period) if rate > 0 and period > 0 else None
        self._slot = asyncio.Semaphore(max(1, concurrency)) if concurrency else None
        self.cooldown = cooldown
        self._clock = clock

    @classmethod
    def per_second(cls, requests_per_second: float, burst_seconds: float, *, cooldown_max: float,
                   clock: Callable[[], float] = time.monotonic) -> RateGate:
        """A gate matched to a server-side bucket of ``requests_per_second`` refilled over ``burst_seconds``."""
        if requests_per_second <= 0:
            return cls(0, clock=clock, cooldown=CoolDown(cooldown_max))
        # Same rate as the server's bucket, half its depth. A bucket as deep as the server's overdraws
        # it: while the server's bucket is full, the refill owed to requests still in flight is lost
        # there (it cannot overfill) but not here, and the next burst then earns 429s. Half the depth
        # absorbs that for up to rate*burst/2 requests in flight; the steady rate is unchanged.
        return cls(max(1.0, requests_per_second * burst_seconds / 2), burst_seconds / 2,
                   cooldown=CoolDown(cooldown_max), clock=clock)

    @classmethod
    def spaced(cls, min_interval_seconds: float, concurrency: int) -> RateGate:
        """At most one request per ``min_interval_seconds``, at most ``concurrency`` in flight."""
        return cls(1 if min_interval_seconds > 0 else 0, min_interval_seconds, concurrency=concurrency)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[float]:
        """Wait for this request's turn; yields the moment it was let through (for :meth:`note_429`)."""
        async with self._slot if self._slot is not None else contextlib.nullcontext():
            await self._wait_cooldown()
            if self._limiter is not None:
                await self._limiter.acquire()
            yield self._clock()

    async def _wait_cooldown(self) -> None:
        while self.cooldown is not None:
            pause = self.cooldown.until - self._clock()
            if pause <= 0:
                return
            await asyncio.sleep(pause)

    def note_status(self, status: int, sent_at: float) -> None:
        """Tell the cool-down how the server answered a request let through at ``sent_at``."""
        if self.cooldown is None:
            return
        if status == 429:
            self.cooldown.note_429(sent_at, self._clock())
        elif status < 400:
            self.cooldown.note_ok()
