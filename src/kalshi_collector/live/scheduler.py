"""When to take a snapshot: the periodic schedule (with time-of-day overrides) and the spike trigger.

Both are pure: they are given the time (``now``) and never read a clock or sleep, so tests drive
them across whole days, DST changes and cooldowns in microseconds. The seed's semantics are kept
(original-design.md, "Configuration").

Periodic schedule
-----------------
``collection.interval_seconds`` is the baseline; ``collection.interval_overrides`` are windows of
local time ("HH:MM" to "HH:MM" in an IANA zone) with their own interval. Each window is evaluated
in its own zone, so "09:30 America/New_York" is 14:30Z in winter and 13:30Z in summer. A window may
wrap midnight (22:00-02:00); start == end means the whole day. The first matching window wins.

Snapshots are **aligned to the interval's grid on the Unix epoch**: with 60 s they fall on whole
UTC minutes, with 5 s on :00, :05, ... This keeps snapshot times predictable and identical across
collectors and restarts (several VMs can be joined on ``snapshot_ts``), and a late snapshot does not
shift the following ones. Precisely: a snapshot is due at ``now`` when the grid of
``interval_at(now)`` has a point in ``(last_snapshot, now]``. Entering a shorter-interval window
therefore snapshots right at its start; leaving it waits for the next point of the longer grid.

Spike trigger
-------------
A spike is a move of ``yes_bid``, ``yes_ask`` or ``last_price`` by at least ``threshold_cents``
*since that contract's last snapshot* (not since its last update: 1 + 1 + 1 cents with threshold
3 is a spike). At most one spike snapshot per ``cooldown_seconds``; a move seen during the cooldown
stays pending and triggers when the cooldown ends. Threshold 0 disables spikes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kalshi_collector.config import IntervalOverride

__all__ = ["SnapshotScheduler", "SpikeDetector", "Quote"]

Quote = tuple[float | None, float | None, float | None]
"""``(yes_bid, yes_ask, last_price)`` in cents; ``None`` = no such price (empty side, no trade)."""

_MINUTE = 60.0
# next_due looks at most this far ahead (minute by minute) before settling for the plain grid point.
_MAX_LOOKAHEAD_MINUTES = 8 * 24 * 60
_EPSILON = 1e-9  # cents; absorbs float noise of sub-penny differences (29.1 - 26.1)


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError(f"a timezone-aware datetime is required, got naive {moment.isoformat()}")
    return moment.timestamp()


class _Window:
    __slots__ = ("start", "end", "zone", "interval")

    def __init__(self, override: IntervalOverride) -> None:
        self.start: time = override.start_time
        self.end: time = override.end_time
        self.zone: ZoneInfo = override.zone
        self.interval = float(override.interval_seconds)

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        if self.start > self.end:  # wraps midnight
            return local >= self.start or local < self.end
        return True  # start == end: the whole day


class SnapshotScheduler:
    """Periodic snapshot schedule. Keeps the time of the last snapshot (:meth:`record`)."""

    def __init__(self, interval_seconds: float, overrides: Sequence[IntervalOverride] = ()) -> None:
        if not interval_seconds > 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds!r}")
        self.interval_seconds = float(interval_seconds)
        self._windows = [_Window(o) for o in overrides]
        self.last_snapshot: datetime | None = None

    def interval_at(self, now: datetime) -> float:
        """The interval in force at ``now`` (aware datetime): the first window containing it, else
        the baseline."""
        _epoch(now)
        for window in self._windows:
            # Wall-clock time of day in the window's zone; replace() drops the zone for comparing.
            local = now.astimezone(window.zone).time().replace(tzinfo=None)
            if window.contains(local):
                return window.interval
        return self.interval_seconds

    def _due(self, last: float, now: datetime) -> bool:
        interval = self.interval_at(now)
        return math.floor(_epoch(now) / interval) > math.floor(last / interval)

    def is_due(self, now: datetime) -> bool:
        """True if a periodic snapshot should be taken at ``now`` (always before the first one)."""
        if self.last_snapshot is None:
            return True
        return self._due(_epoch(self.last_snapshot), now)

    def next_due(self, last_snapshot: datetime | None, now: datetime) -> datetime:
        """The first moment at or after ``now`` when a snapshot is due, given the last one.

        Overrides are whole minutes of local time and every zone's offset is whole minutes, so the
        interval can only change on a UTC minute boundary: walking minute by minute is exact.
        """
        now_ts = _epoch(now)
        if last_snapshot is None:
            return now
        last = _epoch(last_snapshot)
        start = now_ts
        for _ in range(_MAX_LOOKAHEAD_MINUTES):
            interval = self.interval_at(datetime.fromtimestamp(start, UTC))
            point = (math.floor(last / interval) + 1) * interval  # first grid point after `last`
            if point <= start:
                return datetime.fromtimestamp(start, UTC)
            minute_end = (math.floor(start / _MINUTE) + 1) * _MINUTE
            if point < minute_end:
                return datetime.fromtimestamp(point, UTC)
            start = minute_end
        return datetime.fromtimestamp(start, UTC)

    def seconds_until_due(self, now: datetime) -> float:
        """How long the caller may sleep (0 when due now)."""
        due = self.next_due(self.last_snapshot, now)
        return max(0.0, (due - now) / timedelta(seconds=1))

    def record(self, at: datetime) -> None:
        """A snapshot (of any trigger) was taken at ``at``."""
        _epoch(at)
        self.last_snapshot = at


def _moved(now: float | None, ref: float | None, threshold: float) -> bool:
    if now is None or ref is None:
        # A side appearing or vanishing counts as a move: an emptied book is news.
        return (now is None) != (ref is None)
    return abs(now - ref) >= threshold - _EPSILON


class SpikeDetector:
    """Decides spike snapshots. ``now`` is any monotonic-enough float of seconds (epoch is fine).

    * :meth:`observe` after a contract's quote changes; it compares with the values of that
      contract at its last snapshot (a contract never snapshotted takes its first observed values
      as the reference) and latches a pending spike on a move of at least ``threshold_cents``.
      ``None`` (empty side, no trade yet) versus a price counts as a move; ``None`` versus ``None``
      does not.
    * :meth:`should_snapshot` is True while a spike is pending and the cooldown has passed.
    * :meth:`record_snapshot` after **every** snapshot (periodic too): the snapshotted values
      become the new references and pending spikes are cleared (they were captured). The cooldown
      restarts only when the snapshot captured a pending spike, so periodic snapshots never delay
      a spike, and spike snapshots are at least ``cooldown_seconds`` apart.
    """

    __slots__ = ("threshold", "cooldown", "_refs", "_pending", "_last_spike_snapshot")

    def __init__(self, threshold_cents: float, cooldown_seconds: float) -> None:
        if threshold_cents < 0 or cooldown_seconds < 0:
            raise ValueError("threshold_cents and cooldown_seconds must not be negative")
        self.threshold = float(threshold_cents)
        self.cooldown = float(cooldown_seconds)
        self._refs: dict[str, Quote] = {}
        self._pending: set[str] = set()
        self._last_spike_snapshot: float | None = None

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    def watching(self, ticker: str) -> bool:
        """Whether :meth:`observe` would look at ``ticker`` now (spikes on, no move pending for it):
        the caller may skip working out the quote otherwise."""
        return self.threshold > 0 and ticker not in self._pending

    @property
    def pending(self) -> frozenset[str]:
        """Contracts whose move is waiting for a snapshot."""
        return frozenset(self._pending)

    def observe(
        self,
        ticker: str,
        yes_bid: float | None,
        yes_ask: float | None,
        last_price: float | None,
        now: float,
    ) -> bool:
        """Note ``ticker``'s current quote; returns True if any spike is pending (for any contract)."""
        if self.threshold <= 0:
            return False
        ref = self._refs.get(ticker)
        if ref is None:
            self._refs[ticker] = (yes_bid, yes_ask, last_price)
        elif ticker not in self._pending:
            threshold = self.threshold
            if (
                _moved(yes_bid, ref[0], threshold)
                or _moved(yes_ask, ref[1], threshold)
                or _moved(last_price, ref[2], threshold)
            ):
                self._pending.add(ticker)
        return bool(self._pending)

    def should_snapshot(self, now: float) -> bool:
        if not self._pending:
            return False
        return self._last_spike_snapshot is None or now - self._last_spike_snapshot >= self.cooldown

    def seconds_until_allowed(self, now: float) -> float:
        """How long a pending spike must still wait for the cooldown (0 if it may go now)."""
        if self._last_spike_snapshot is None:
            return 0.0
        return max(0.0, self.cooldown - (now - self._last_spike_snapshot))

    def record_snapshot(self, values_by_ticker: Mapping[str, Quote], now: float) -> None:
        """A snapshot was taken at ``now`` with these ``(yes_bid, yes_ask, last_price)`` values."""
        if self._pending:
            self._last_spike_snapshot = now
            self._pending.clear()
        self._refs.update(values_by_ticker)

    def forget(self, ticker: str) -> None:
        """Stop following a contract (no longer tracked)."""
        self._refs.pop(ticker, None)
        self._pending.discard(ticker)
