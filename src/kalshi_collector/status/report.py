"""Judging a :class:`~kalshi_collector.status.scan.Scan` (pure, ``now`` injected): one function per question.

Per table and UTC day what is there and what is left uncompacted (here), the snapshot cadence
(:mod:`.cadence`), book gaps (:mod:`.gaps`), holes with their backfill commands (:mod:`.holes`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from kalshi_collector.status.cadence import SnapshotTimes, snapshot_cadence
from kalshi_collector.status.gaps import book_gaps
from kalshi_collector.status.holes import find_holes
from kalshi_collector.status.records import US, Damaged, StatusReport, TableDay, Uncompacted, iso
from kalshi_collector.status.scan import FileStats, Scan
from kalshi_collector.storage.catalog import TABLES

__all__ = ["build_report", "table_days"]


def build_report(
    data: Scan,
    *,
    now: dt.datetime,
    interval_seconds: float | None = None,
    has_overrides: bool = False,
    flush_interval_seconds: float = 300.0,
    outage_seconds: float | None = None,
    series: Sequence[str] = (),
    config_path: str | None = None,
    top: int = 10,
) -> StatusReport:
    """Judge a :class:`Scan`: per table-day totals, cadence, gaps, holes, days left uncompacted.

    ``outage_seconds``: no snapshot for this long is a hole (default: 3 snapshot intervals, at least 120).
    """
    outage = outage_seconds if outage_seconds is not None else max(3 * (interval_seconds or 60.0), 120.0)
    notes: list[str] = []
    tables, not_compacted = table_days(data.files, today=now.astimezone(dt.UTC).date())
    snaps = SnapshotTimes.of(data.snapshots)
    cadence = snapshot_cadence(snaps, interval_seconds, has_overrides)
    if cadence and has_overrides:
        notes.append("interval_overrides are configured: the achieved median mixes their intervals")
    gaps = book_gaps(data.book_events)
    holes = find_holes(snaps, now=now, outage_seconds=outage, flush_interval_seconds=flush_interval_seconds,
                       series=series, config_path=config_path)
    if not snaps.times and data.files:
        notes.append("no market_snapshots: holes cannot be told apart from quiet markets")
    return StatusReport(
        data_dir=data.data_dir, generated_at=iso(int(now.timestamp() * US)) or "", outage_seconds=outage,
        tables=tables, cadence=cadence, gap_days=gaps.days, longest_gaps=gaps.gaps[:top], events=gaps.actions,
        holes=holes, not_compacted=not_compacted,
        other={k: {**v, "first_time": iso(v.get("first_time_us")), "last_time": iso(v.get("last_time_us"))}
               for k, v in data.other.items()},
        notes=notes,
        damaged=[Damaged(d.path, d.reason) for d in data.damaged],
    )


def table_days(files: list[FileStats], *, today: dt.date) -> tuple[list[TableDay], list[Uncompacted]]:
    """Totals per (live table, UTC day), in catalog order; and finished days still in part files."""
    groups: dict[tuple[str, dt.date], list[FileStats]] = defaultdict(list)
    for f in files:
        groups[(f.table, f.day)].append(f)
    order = list(TABLES)
    tables: list[TableDay] = []
    not_compacted: list[Uncompacted] = []
    for (table, day), group in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        firsts = [f.first_us for f in group if f.first_us is not None]
        lasts = [f.last_us for f in group if f.last_us is not None]
        parts = sum(f.is_part for f in group)
        tables.append(TableDay(
            table=table, day=day.isoformat(), rows=sum(f.rows for f in group),
            markets=len(frozenset().union(*(f.markets for f in group))),
            first=iso(min(firsts)) if firsts else None, last=iso(max(lasts)) if lasts else None,
            day_file=any(not f.is_part for f in group), parts=parts,
        ))
        if parts and day < today:
            not_compacted.append(Uncompacted(table, day.isoformat(), parts))
    return tables, not_compacted
