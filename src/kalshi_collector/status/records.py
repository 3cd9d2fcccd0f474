"""The status report as plain records: what :func:`~kalshi_collector.status.report.build_report`
judges and :mod:`~kalshi_collector.status.render` prints (``--json`` prints them as they are)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["US", "iso", "TableDay", "Cadence", "Gap", "GapDay", "Hole", "Uncompacted", "StatusReport"]

US = 1_000_000
"""Microseconds per second: every time read from the files is epoch microseconds."""


def iso(us: int | None) -> str | None:
    """Epoch microseconds as the report writes times: ISO 8601, UTC, ``Z``."""
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / US, dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class TableDay:
    table: str
    day: str
    rows: int
    markets: int
    first: str | None
    last: str | None
    day_file: bool
    parts: int


@dataclass
class Cadence:
    day: str
    configured_seconds: float | None
    periodic: int
    spikes: int
    median_seconds: float | None
    p95_seconds: float | None
    max_seconds: float | None
    ok: bool | None


@dataclass
class Gap:
    market_ticker: str | None
    cause: str
    start: str
    recovered: str
    seconds: float


@dataclass
class GapDay:
    day: str
    gaps: int
    median_seconds: float
    max_seconds: float
    book_seconds: float
    causes: dict[str, int]


@dataclass
class Hole:
    start: str
    end: str
    seconds: float
    ongoing: bool
    events: list[str]
    command: str


@dataclass
class Uncompacted:
    table: str
    day: str
    parts: int


@dataclass
class Damaged:
    path: str
    reason: str


@dataclass
class StatusReport:
    data_dir: str
    generated_at: str
    outage_seconds: float
    tables: list[TableDay]
    cadence: list[Cadence]
    gap_days: list[GapDay]
    longest_gaps: list[Gap]
    events: dict[str, dict[str, int]]  # day -> action -> count (every book_events action)
    holes: list[Hole]
    not_compacted: list[Uncompacted]
    other: dict[str, dict[str, Any]]
    notes: list[str]
    damaged: list[Damaged] = field(default_factory=list)  # files skipped because they cannot be read
