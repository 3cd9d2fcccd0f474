"""Sets of half-open integer intervals ``[start, end)``: what a checkpoint says is already fetched.

A checkpoint records *coverage* (time ranges whose data is known to be on disk) rather than "done"
flags or API cursors, because coverage survives every change a re-run can bring: another
``--start``/``--end``, a later "now", a moved historical cutoff, a killed run that finished half of
a market. The work of a run is then plain set arithmetic: ``window - covered``.

Pure functions over tuples, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Interval", "normalize", "union", "subtract", "intersect", "total", "split"]

Interval = tuple[int, int]


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, non-overlapping, with touching intervals merged."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def union(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    return normalize([*a, *b])


def subtract(whole: Iterable[Interval], taken: Iterable[Interval]) -> list[Interval]:
    """The parts of ``whole`` not covered by ``taken``."""
    taken_n = normalize(taken)
    out: list[Interval] = []
    for start, end in normalize(whole):
        cursor = start
        for t_start, t_end in taken_n:
            if t_end <= cursor or t_start >= end:
                continue
            if t_start > cursor:
                out.append((cursor, t_start))
            cursor = max(cursor, t_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def intersect(a: Interval, b: Interval) -> Interval | None:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if end > start else None


def total(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in normalize(intervals))


def split(interval: Interval, step: int, *, align: int = 0) -> list[Interval]:
    """Cut ``interval`` at every multiple of ``step`` (offset by ``align``), so pieces from
    different runs line up on the same boundaries."""
    if step <= 0:
        raise ValueError("step must be positive")
    start, end = interval
    out: list[Interval] = []
    cursor = start
    while cursor < end:
        boundary = align + ((cursor - align) // step + 1) * step
        nxt = min(end, boundary)
        out.append((cursor, nxt))
        cursor = nxt
    return out
