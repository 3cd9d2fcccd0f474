"""Book gaps: how often books were in doubt, why, and for how long (from ``book_events``).

Every ``recovered`` row is one book's doubt, from its ``ts`` to its ``recovered_ts``; its cause is
the first trigger action (gap, duplicate, disconnect, ...) recorded at the same ``ts``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.status.records import US, Gap, GapDay, iso

__all__ = ["BookGaps", "book_gaps", "TRIGGERS"]

TRIGGERS = frozenset({"gap", "duplicate", "out_of_order", "disconnect", "rest_mismatch", "crossed",
                      "negative", "bad_value"})
"""The ``book_events`` actions that put a book in doubt."""


@dataclass
class BookGaps:
    days: list[GapDay] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)  # longest first
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # day -> action -> count


def book_gaps(events: pa.Table | None) -> BookGaps:
    """Gaps per UTC day, every gap (longest first), and the count of every action per day."""
    out = BookGaps()
    if events is None or not events.num_rows:
        return out
    ts = pc.cast(events.column("ts"), pa.int64()).to_pylist()
    actions = events.column("action").to_pylist()
    recovered = pc.cast(events.column("recovered_ts"), pa.int64()).to_pylist()
    tickers = events.column("market_ticker").to_pylist()
    cause_at: dict[int, str] = {}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for t, action in zip(ts, actions, strict=True):
        counts[dt.datetime.fromtimestamp(t / US, dt.UTC).date().isoformat()][action] += 1
        if action in TRIGGERS:
            cause_at.setdefault(t, action)
    out.actions = {day: dict(c) for day, c in sorted(counts.items())}
    per_day: dict[str, list[Gap]] = defaultdict(list)
    for t, action, r, ticker in zip(ts, actions, recovered, tickers, strict=True):
        if action != "recovered" or r is None:
            continue
        gap = Gap(market_ticker=ticker, cause=cause_at.get(t, "?"), start=iso(t) or "", recovered=iso(r) or "",
                  seconds=max(0.0, (r - t) / US))
        out.gaps.append(gap)
        per_day[gap.start[:10]].append(gap)
    for day, items in sorted(per_day.items()):
        secs = [g.seconds for g in items]
        out.days.append(GapDay(day=day, gaps=len(items), median_seconds=statistics.median(secs),
                               max_seconds=max(secs), book_seconds=sum(secs),
                               causes=dict(Counter(g.cause for g in items))))
    out.gaps.sort(key=lambda g: -g.seconds)
    return out
