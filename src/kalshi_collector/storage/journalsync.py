"""Journal sync: the rows appended since the last sync, written to the journal and fsynced.

Once :meth:`JournalSync.sync` returns without an error in the log, a kill -9 loses none of those
rows. It runs on its own daemon thread (every ``interval`` seconds) so the read loop only appends;
it never raises: a journal error (disk full...) is logged once a minute, counted, and the rows stay
pending for the next sync. Frames are encoded in slices (:func:`encode_in_slices`) so that no one
C call holds the GIL long enough to stall the read loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kalshi_collector.repeats import ErrorKind, RepeatedLog
from kalshi_collector.storage.arrowtables import ArrowTables, base_name, frame_name
from kalshi_collector.storage.buffers import RowBuffers
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.journal import JournalWriter
from kalshi_collector.storage.journal.pieces import (
    Buffer,
    EncodedItems,
    encode_items,
    frame_of,
    pieces_length,
)

__all__ = ["JournalSync", "SLICE_ROWS", "Synced", "encode_in_slices"]

log = logging.getLogger("kalshi_collector.storage.live")  # the name operators' log filters know


SLICE_ROWS = 2_000  # rows per journal frame: one msgpack call holds the GIL for well under a millisecond
# The batches whose big values are written from where they are: the bodies of the tables that
# carry them (their last value), and every Arrow table (a snapshot of the exchange: a few MB).
BY_REFERENCE = frozenset({name for name, spec in TABLES.items() if spec.large_values}
                         | {frame_name(name) for name in TABLES})


@dataclass
class Synced:
    """What one sync encodes: the journal frames' pieces, and per table of rows the msgpack of
    those rows as the frames hold it, slice by slice (None when a slice is not exact): the part
    writer sends it to its helper process rather than encoding the same rows a second time."""

    pieces: list[Buffer] = field(default_factory=list)
    rows: dict[str, list[Sequence[Buffer]] | None] = field(default_factory=dict)

    def add_rows(self, table: str, encoded: EncodedItems) -> None:
        chunks = self.rows.setdefault(table, [])
        if chunks is not None:
            if encoded.exact:
                chunks.append(encoded.pieces)
            else:
                self.rows[table] = None


def encode_in_slices(batches: list[tuple[str, list]]) -> Synced:
    """Journal frames of at most ``SLICE_ROWS`` rows each, back to back (one write, one fsync), as
    the pieces to write (big bodies and Arrow tables by reference: ``journal/pieces.py``).

    A msgpack call holds the GIL; encoding a busy 0.2 s (tens of thousands of rows at 20k msg/s
    with the raw tape) in one go would stall the read loop for milliseconds. The journal reader
    takes any number of frames, so slicing changes nothing on disk but the framing.
    """
    synced = Synced()
    frame: list[tuple[str, list[Buffer]]] = []
    size = 0
    for name, rows in batches:
        for start in range(0, len(rows), SLICE_ROWS):
            piece = rows[start:start + SLICE_ROWS]
            if size + len(piece) > SLICE_ROWS and frame:
                synced.pieces += frame_of(frame)
                frame, size = [], 0
            encoded = encode_items(piece, name in BY_REFERENCE)
            if base_name(name) is None:  # rows (an Arrow batch's tables travel as tables)
                synced.add_rows(name, encoded)
            frame.append((name, encoded.pieces))
            size += len(piece)
    if frame:
        synced.pieces += frame_of(frame)
    return synced


class JournalSync:
    """Moves what :class:`RowBuffers` and :class:`ArrowTables` hold as pending into the journal.

    The store hands over its buffers, its journal and the lock that serialises every journal write
    and buffer change; this class owns the sync thread and the sync's own counters.
    """

    def __init__(self, journal: JournalWriter, rows: RowBuffers, tables: ArrowTables,
                 io_lock: threading.Lock) -> None:
        self._journal = journal
        self._rows = rows
        self._tables = tables
        self._io_lock = io_lock
        self._errors_log = RepeatedLog(log)  # the same journal error at most once a minute, with a count
        self.syncs = 0
        self.errors = 0
        self.bytes = 0
        self.last_seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float) -> None:
        """Sync every ``interval`` seconds on a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="kc-journal-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def sync(self) -> None:
        """Journal every row appended since the last sync and fsync it (see the module docstring)."""
        with self._io_lock:
            if not self._journal.closed:
                self.sync_locked()

    def sync_locked(self) -> bool:
        """:meth:`sync` for a caller already holding ``io_lock``; False when the journal write failed."""
        batches = self._rows.take_pending()
        tables = self._tables.take_pending()
        if not batches and not tables:
            return True
        started = time.perf_counter()
        try:
            synced = encode_in_slices(batches + self._tables.frame_batches(tables))
            self._journal.append(synced.pieces)
        except OSError as exc:
            self.errors += 1
            self._errors_log.error(ErrorKind.of(exc), "journal write failed, %d rows kept in memory for the "
                                   "next sync: %s", sum(len(rows) for _, rows in batches)
                                   + sum(t.num_rows for _, ts in tables for t in ts), exc)
            return False
        if self._errors_log.active:
            self._errors_log.clear_all("journal writes work again; the rows kept in memory are journaled")
        self._rows.journaled_now(batches, synced.rows)
        self._tables.journal(tables)
        self.syncs += 1
        self.bytes += pieces_length(synced.pieces)
        self.last_seconds = time.perf_counter() - started
        return True

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - the sync thread must outlive any surprise
                log.exception("journal sync failed")
