"""Journal sync: the rows appended since the last sync, written to the journal and fsynced.

Once :meth:`JournalSync.sync` returns without an error in the log, a kill -9 loses none of those
rows. It runs on its own daemon thread (every ``interval`` seconds) so the read loop only appends;
it never raises: a journal error (disk full...) is logged once a minute, counted, and the rows stay
pending for the next sync. Rows were encoded when appended (``rowruns.py``): their frames are made
of those bytes as they are (:func:`run_frames`). Arrow tables' frames are encoded in slices
(:func:`encode_in_slices`) so that no one C call holds the GIL long enough to stall the read loop.
"""

from __future__ import annotations

import logging
import threading
import time

from kalshi_collector.repeats import ErrorKind, RepeatedLog
from kalshi_collector.storage.arrowtables import ArrowTables, frame_name
from kalshi_collector.storage.buffers import RowBuffers
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.journal import JournalWriter
from kalshi_collector.storage.journal.pieces import Buffer, encode_items, frame_of, pieces_length
from kalshi_collector.storage.rowruns import Run, run_rows

__all__ = ["FRAME_BYTES", "JournalSync", "SLICE_ROWS", "encode_in_slices", "run_frames"]

log = logging.getLogger("kalshi_collector.storage.live")  # the name operators' log filters know


SLICE_ROWS = 2_000  # items per frame of Arrow tables' blobs
FRAME_BYTES = 8 << 20  # rows' runs per frame: a sync after a long journal outage is many frames, not one huge
# The batches whose big values are written from where they are: every Arrow table (a snapshot of
# the exchange: a few MB). Rows' big values are referenced by their runs already (rowruns.py).
BY_REFERENCE = frozenset(frame_name(name) for name in TABLES)


def run_frames(batches: list[tuple[str, list[Run]]]) -> list[Buffer]:
    """Journal frames of the rows' runs as they are: no row is encoded here (``rowruns.py``), and
    a frame holds at most about ``FRAME_BYTES`` of them."""
    pieces: list[Buffer] = []
    frame: list[tuple[str, list[Buffer]]] = []
    size = 0
    for name, runs in batches:
        for run in runs:
            nbytes = run.nbytes
            if frame and size + nbytes > FRAME_BYTES:
                pieces += frame_of(frame)
                frame, size = [], 0
            frame.append((name, run.chunk()))
            size += nbytes
    if frame:
        pieces += frame_of(frame)
    return pieces


def encode_in_slices(batches: list[tuple[str, list]]) -> list[Buffer]:
    """Journal frames of at most ``SLICE_ROWS`` items each, back to back (one write, one fsync), as
    the pieces to write (Arrow tables by reference: ``journal/pieces.py``).

    A msgpack call holds the GIL; encoding many items in one go would stall the read loop. The
    journal reader takes any number of frames, so slicing changes nothing on disk but the framing.
    """
    pieces: list[Buffer] = []
    frame: list[tuple[str, list[Buffer]]] = []
    size = 0
    for name, items in batches:
        for start in range(0, len(items), SLICE_ROWS):
            piece = items[start:start + SLICE_ROWS]
            if size + len(piece) > SLICE_ROWS and frame:
                pieces += frame_of(frame)
                frame, size = [], 0
            frame.append((name, encode_items(piece, name in BY_REFERENCE).pieces))
            size += len(piece)
    if frame:
        pieces += frame_of(frame)
    return pieces


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
            pieces = run_frames(batches) + encode_in_slices(self._tables.frame_batches(tables))
            self._journal.append(pieces)
        except OSError as exc:
            self.errors += 1
            self._errors_log.error(ErrorKind.of(exc), "journal write failed, %d rows kept in memory for the "
                                   "next sync: %s", sum(run_rows(runs) for _, runs in batches)
                                   + sum(t.num_rows for _, ts in tables for t in ts), exc)
            return False
        if self._errors_log.active:
            self._errors_log.clear_all("journal writes work again; the rows kept in memory are journaled")
        self._rows.journaled_now(batches)
        self._tables.journal(tables)
        self.syncs += 1
        self.bytes += pieces_length(pieces)
        self.last_seconds = time.perf_counter() - started
        return True

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - the sync thread must outlive any surprise
                log.exception("journal sync failed")
