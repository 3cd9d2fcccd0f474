"""Snapshot cadence: how often market snapshots were taken, per UTC day, against the configured interval."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.status.records import US, Cadence

__all__ = ["SnapshotTimes", "snapshot_cadence"]


@dataclass
class SnapshotTimes:
    """``market_snapshots`` reduced to what cadence and holes need (times in epoch microseconds)."""

    times: list[int] = field(default_factory=list)  # every distinct snapshot time, ascending
    events_at: dict[int, set[str]] = field(default_factory=dict)  # snapshot time -> events in it
    periodic: dict[dt.date, set[int]] = field(default_factory=dict)  # UTC day -> periodic snapshot times
    spikes: dict[dt.date, set[int]] = field(default_factory=dict)  # UTC day -> spike snapshot times

    @classmethod
    def of(cls, snaps: pa.Table | None) -> SnapshotTimes:
        """From the ``snapshot_ts``, ``trigger`` and ``event_ticker`` columns (None or empty: nothing)."""
        out = cls()
        if snaps is None or not snaps.num_rows:
            return out
        ts = pc.cast(snaps.column("snapshot_ts"), pa.int64()).to_pylist()
        events_at: dict[int, set[str]] = defaultdict(set)
        for t, event in zip(ts, snaps.column("event_ticker").to_pylist(), strict=True):
            if event:
                events_at[t].add(event)
        out.events_at = dict(events_at)
        for t, trigger in zip(ts, snaps.column("trigger").to_pylist(), strict=True):
            day = dt.datetime.fromtimestamp(t / US, dt.UTC).date()
            out.periodic.setdefault(day, set())
            out.spikes.setdefault(day, set())
            (out.spikes if trigger == "spike" else out.periodic)[day].add(t)
        out.times = sorted(set(ts))
        return out


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def snapshot_cadence(snaps: SnapshotTimes, interval_seconds: float | None, has_overrides: bool) -> list[Cadence]:
    """Per UTC day: periodic and spike snapshots, and the spacing of the periodic ones.

    ``ok`` compares the median spacing with the configured interval; unknown (None) without a
    configured interval, or when time-of-day overrides mix several intervals into one day.
    """
    cadence = []
    for day in sorted(snaps.periodic):
        periodic = sorted(snaps.periodic[day])
        diffs = [(b - a) / US for a, b in zip(periodic, periodic[1:], strict=False)]
        median = statistics.median(diffs) if diffs else None
        ok = None
        if median is not None and interval_seconds and not has_overrides:
            ok = median <= 1.5 * interval_seconds
        cadence.append(Cadence(
            day=day.isoformat(), configured_seconds=interval_seconds, periodic=len(periodic),
            spikes=len(snaps.spikes[day]), median_seconds=median,
            p95_seconds=_quantile(diffs, 0.95) if diffs else None, max_seconds=max(diffs) if diffs else None,
            ok=ok,
        ))
    return cadence
