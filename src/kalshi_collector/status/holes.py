"""Holes: stretches with no market snapshot at all, each with the backfill command that fills it.

A *hole* is a stretch of time with no market snapshot for longer than the outage limit (the
collector was down or cut off): book depth during it is lost for good, but trades and candlesticks
can be fetched afterwards, so every hole comes with the exact ``kalshi-collector backfill`` command.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from kalshi_collector.status.cadence import SnapshotTimes
from kalshi_collector.status.records import US, Hole, iso

__all__ = ["find_holes", "backfill_command"]


def backfill_command(start: dt.date, end: dt.date, events: list[str], series: list[str],
                     config_path: str | None) -> str:
    """The ``kalshi-collector backfill`` command line that fetches trades and candles of a hole."""
    parts = ["kalshi-collector", "backfill", "--start", start.isoformat(), "--end", end.isoformat()]
    if events:
        parts += ["--events", *events]
    elif series:
        parts += ["--series", *series]
    if config_path:
        parts += ["--config", config_path]
    return " ".join(parts)


def find_holes(snaps: SnapshotTimes, *, now: dt.datetime, outage_seconds: float, flush_interval_seconds: float,
               series: Sequence[str], config_path: str | None) -> list[Hole]:
    """Every spacing between snapshots longer than ``outage_seconds``, and an ongoing one when the
    last snapshot is older than that plus a flush interval (rows not yet flushed are not late)."""
    holes = []
    times = snaps.times
    for a, b in zip(times, times[1:], strict=False):
        if (b - a) / US > outage_seconds:
            holes.append(_hole(a, b, False, snaps, series, config_path))
    if times:
        last = times[-1]
        if now.timestamp() - last / US > outage_seconds + flush_interval_seconds:
            holes.append(_hole(last, int(now.timestamp() * US), True, snaps, series, config_path))
    return holes


def _hole(a: int, b: int, ongoing: bool, snaps: SnapshotTimes, series: Sequence[str],
          config_path: str | None) -> Hole:
    """A hole from the last snapshot before it (``a``) to the first after it (``b``), with its command.

    The events are those seen on both edges: a hole shorter than a day cannot have held an event
    that was neither open before it nor still open after it. A longer one asks for whole series.
    """
    start = dt.datetime.fromtimestamp(a / US, dt.UTC)
    end = dt.datetime.fromtimestamp(b / US, dt.UTC)
    events = sorted(snaps.events_at.get(a, set()) | snaps.events_at.get(b, set()))
    hole_series = sorted({e.split("-", 1)[0] for e in events} | set(series))
    use_events = events if (end - start) <= dt.timedelta(days=1) else []
    command = backfill_command(start.date(), end.date(), use_events, hole_series, config_path)
    return Hole(start=iso(a) or "", end=iso(b) or "", seconds=(b - a) / US, ongoing=ongoing,
                events=events, command=command)
