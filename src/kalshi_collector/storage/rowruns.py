"""A live table's rows as msgpack, encoded the moment they are appended: runs of one UTC day.

Why: a row kept as a Python tuple until the flush costs the read loop twice. Every tuple is an
object the garbage collector tracks (a young collection every few hundred rows, ~800 per minute
at 20k msg/s), and every later step (the journal's encoding, the part writer's, freeing them)
holds the GIL for a time that grows with the rows buffered, while the read loop waits for it.
Encoded on append (one msgspec call into a growing buffer, ~0.3 µs), a row is bytes from then on:
the journal writes the runs as they are, the flush hands them to the part-writer process as they
are, and nothing holds the GIL in proportion to the rows again. Measured with ``bench scale`` at
20k msg/s (docs/operations.md, "Rows encoded on append: built"): exchange→applied p99 4.4 ms on a
quiet machine; 6.1 / 7.1 ms against 9.7 / 15.4 ms for row tuples, interleaved on a noisy one.

A :class:`Run` is rows of one table and one UTC day (the day :func:`~.rows.row_day` gives, the one
definition the flush and recovery share), back to back, without the list header: ``[header(count),
*pieces]`` is exactly the msgpack of the list of those rows, so a journal frame or a part job is
made of runs without re-encoding. A row whose time is not valid epoch microseconds goes into a run
with no day (``day is None``), which the flush decodes and files row by row (rejecting what cannot
be stored, with the reason). A row msgpack cannot hold at all goes there too, as the one-value row
of its repr the journal has always written for it: quarantined at the flush, never lost.

A big last value (a REST page of megabytes, in the tables that carry bodies) is a run of its own,
kept by reference (``journal/pieces.py``): never copied while the GIL is held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kalshi_collector.storage.catalog import TableSpec
from kalshi_collector.storage.journal.frames import decode_rows, row_encoder, unencodable
from kalshi_collector.storage.journal.pieces import (
    BY_REFERENCE,
    Buffer,
    array_header,
    pieces_length,
    row_pieces,
)
from kalshi_collector.storage.layout import DAY_US, MAX_US
from kalshi_collector.storage.rows import Rejected, row_day, split_by_day

__all__ = ["RUN_BYTES", "Run", "RowRuns", "decode_runs", "run_rows", "runs_by_day", "runs_of"]

_encode = row_encoder().encode

RUN_BYTES = 1 << 20
"""An open run is sealed at this size: one decode of it (in-process parts) holds the GIL ~1 ms."""
_RECOVERED_RUN_ROWS = 4096  # rows already in memory are encoded this many per msgspec call


@dataclass(slots=True)
class Run:
    """Rows of one table and one UTC day (``None``: not known, see the module docstring), their
    msgpack back to back as ``pieces``. Sealed runs are never changed again."""

    pieces: list[Buffer]
    count: int
    day: int | None
    row: tuple | None = None  # a run of one row with a big value: that row, read without decoding

    @property
    def nbytes(self) -> int:
        return pieces_length(self.pieces)

    def chunk(self) -> list[Buffer]:
        """The msgpack of the list of this run's rows, as pieces."""
        return [array_header(self.count), *self.pieces]


def decode_runs(runs: Iterable[Run]) -> list[tuple]:
    """The rows of ``runs``, in order, as tuples (what the part writer converts)."""
    rows: list[tuple] = []
    for run in runs:
        if run.row is not None:  # a big body: no copy of it (joining and decoding would make two)
            rows.append(run.row)
            continue
        rows += decode_rows(b"".join(run.chunk()))
        time.sleep(0)  # a turn for the read loop between runs (each decode is one C call)
    return rows


def run_rows(runs: Iterable[Run]) -> int:
    return sum(run.count for run in runs)


def runs_of(spec: TableSpec, rows: Sequence[Any]) -> tuple[list[Run], list[Rejected]]:
    """Rows already in memory (recovered from the journal, or an undated run decoded) as dated
    runs, filed by :func:`~.rows.split_by_day` (old short rows widened); the rest rejected."""
    by_day, rejected = split_by_day(spec, rows)
    runs = []
    for day, day_rows in sorted(by_day.items()):
        for start in range(0, len(day_rows), _RECOVERED_RUN_ROWS):
            piece = day_rows[start:start + _RECOVERED_RUN_ROWS]
            runs.append(Run([memoryview(_encode(piece))[len(array_header(len(piece))):]], len(piece), day))
    return runs, rejected


def runs_by_day(spec: TableSpec, runs: list[Run]) -> tuple[dict[int, list[Run]], list[Rejected]]:
    """``runs`` grouped by day, in order; undated runs decoded and filed row by row."""
    by_day: dict[int, list[Run]] = {}
    rejected: list[Rejected] = []
    for run in runs:
        if run.day is not None:
            by_day.setdefault(run.day, []).append(run)
            continue
        dated, bad = runs_of(spec, decode_runs([run]))
        rejected += bad
        for each in dated:
            by_day.setdefault(each.day, []).append(each)
    return by_day, rejected


class RowRuns:
    """One table's rows appended and not yet journaled: sealed runs, then the open one.

    :meth:`append` is the hot path (the read loop, every row); :meth:`sealed`, :meth:`drop` and
    :meth:`put_back` are the journal's and the flush's (another thread). One lock makes a row's
    encoding and its count one step, so a run is never taken half-written.
    """

    def __init__(self, by_reference: bool = False) -> None:
        self._lock = threading.Lock()
        self._encode_into = row_encoder().encode_into
        self._by_reference = by_reference  # a big last value becomes a run of its own, referenced
        self._sealed: list[Run] = []
        self._sealed_rows = 0
        self._buf = bytearray()
        self._count = 0
        self._day: int | None = None
        self._lo = self._hi = 0  # the open run's day, as a range of valid times (empty: none yet)

    def append(self, row: Sequence[Any]) -> None:
        """Encode one row into the open run (see the module docstring)."""
        with self._lock:
            buf = self._buf
            end = len(buf)
            try:
                ts = row[0]
                if ts.__class__ is int and self._lo <= ts < self._hi and not (self._by_reference and _big(row)):
                    self._encode_into(row, buf, -1)
                    self._count += 1
                    if len(buf) >= RUN_BYTES:
                        self._seal()
                    return
            except (TypeError, ValueError, OverflowError, IndexError, KeyError):
                del buf[end:]  # a failed encoding leaves part of the row behind
            self._append_slow(row)

    def extend(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.append(row)

    def _append_slow(self, row: Sequence[Any]) -> None:
        """A row of another day than the open run's, with a big value, or one that failed above."""
        day = row_day(row)
        if day is not None and self._by_reference and _big(row):
            try:
                pieces = row_pieces(row, _encode)
            except (TypeError, ValueError, OverflowError):
                pass  # a bad row after all: kept below, as any other
            else:
                self._seal()
                self._add_sealed(Run(pieces, 1, day, tuple(row)))
                return
        self._open(day)
        end = len(self._buf)
        try:
            self._encode_into(row, self._buf, -1)
        except (TypeError, ValueError, OverflowError):
            del self._buf[end:]
            self._open(None)  # the bad row as the journal has always kept one, in an undated run
            self._encode_into(unencodable(row), self._buf, -1)
        self._count += 1

    def _open(self, day: int | None) -> None:
        """Make the open run one of ``day``."""
        if day != self._day:
            self._seal()
            self._day = day
            self._lo, self._hi = (day * DAY_US, min((day + 1) * DAY_US, MAX_US)) if day is not None else (0, 0)

    def _seal(self) -> None:
        if self._count:
            self._add_sealed(Run([self._buf], self._count, self._day))
            self._buf = bytearray()
            self._count = 0

    def _add_sealed(self, run: Run) -> None:
        self._sealed.append(run)
        self._sealed_rows += run.count

    # -- the journal's and the flush's side ------------------------------------------------------

    def sealed(self) -> list[Run]:
        """Every run appended so far (the open one sealed); they stay here until :meth:`drop`."""
        with self._lock:
            self._seal()
            return list(self._sealed)

    def drop(self, runs: int) -> None:
        """The first ``runs`` sealed runs are elsewhere now (journaled, or taken by a flush)."""
        with self._lock:
            gone = self._sealed[:runs]
            del self._sealed[:runs]
            self._sealed_rows -= run_rows(gone)

    def put_back(self, runs: list[Run]) -> None:
        """Runs a flush could not write, back in front, in order."""
        if runs:
            with self._lock:
                self._sealed[:0] = runs
                self._sealed_rows += run_rows(runs)

    def __len__(self) -> int:
        return self._sealed_rows + self._count


def _big(row: Sequence[Any]) -> bool:
    value = row[-1]
    kind = value.__class__
    if kind is bytes or kind is bytearray:
        return len(value) >= BY_REFERENCE
    return isinstance(value, memoryview) and value.nbytes >= BY_REFERENCE
