"""One part file built and written: rows (tuples) and Arrow tables of one (table, UTC day) ->
one parquet part, in this process or in a helper process.

Why a helper process: turning a flush's rows into Arrow columns is Python-level work that holds
the GIL (about 2.5 µs a row: half a second for a flush of 200,000 rows at 20k msg/s with the raw
tape on). Done in a thread beside the WebSocket read loop, the two take turns on the GIL every
switch interval, and the read loop falls hundreds of milliseconds behind the exchange for the
length of every flush. The rows are msgpack from the moment they were appended (``rowruns.py``),
so the flush thread hands those bytes to :class:`PartProcess` as they are and waits with the GIL
released while the helper decodes, converts, compresses and writes on another core.

The helper runs exactly :func:`build_and_write`, the function the in-process path calls, so the
two cannot write different files; a result (:class:`PartDone`) carries the error instead of
raising it, with the part's path, so the caller can make sure no half-written part is left.
A helper that dies (killed, out of memory) costs only that write: the rows stay buffered and
journaled for the next flush, and the next big write starts a new helper.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.storage.arrowtables import from_ipc, to_ipc
from kalshi_collector.storage.catalog import TABLES, TableSpec
from kalshi_collector.storage.fs import StorageFS
from kalshi_collector.storage.journal.frames import decode_rows
from kalshi_collector.storage.journal.pieces import Buffer, pieces_length
from kalshi_collector.storage.layout import PartName, day_from_index
from kalshi_collector.storage.rowruns import Run
from kalshi_collector.storage.rows import Rejected, rows_to_table

__all__ = ["PartDone", "PartJob", "PartProcess", "build_and_write"]

log = logging.getLogger(__name__)


@dataclass
class PartDone:
    """What writing one part did: rows written, rows that cannot be stored (quarantine them), the
    part's path once known, and the error if the write failed (then ``count`` is the rows the part
    would have held, for a caller that finds it in place after all)."""

    count: int
    bad_rows: list[Rejected] = field(default_factory=list)
    path: PurePath | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class PartTarget:
    """Where parts go: the store's file layer, data root and collector id."""

    fs: StorageFS
    root: PurePath
    collector_id: str


def build_and_write(target: PartTarget, spec: TableSpec, cut: int, day: int, rows: list,
                    tables: list[pa.Table]) -> PartDone:
    """Build the part of ``spec`` for ``day`` from ``rows`` and ``tables``, write it atomically."""
    path, table, bad_rows = None, None, []
    try:
        table, bad_rows = rows_to_table(spec, rows)
        if tables:  # the day's Arrow tables, checked against the schema when appended
            table = pa.concat_tables([table, *tables] if table.num_rows else tables)
        if not table.num_rows:
            return PartDone(0, bad_rows)
        span = pc.min_max(table.column(0).cast(pa.int64()))
        name = PartName(target.collector_id, span["min"].as_py(), span["max"].as_py(), cut)
        path = spec.layout.part_file(target.root, day_from_index(day), name)
        target.fs.write_parquet(path, table, **spec.part_options)
    except Exception as exc:  # noqa: BLE001 - any failure: the caller keeps the rows and reports
        # the count is of the part as built, for a caller that finds it left in place after all
        return PartDone(table.num_rows if table is not None else 0, bad_rows, path, exc)
    return PartDone(table.num_rows, bad_rows, path)


@dataclass(frozen=True)
class PartJob:
    """:func:`build_and_write`'s arguments as they cross to the helper: rows as msgpack chunks,
    tables as Arrow IPC streams (both decoded there, never in the caller). On the pipe: the job
    pickled without its chunks, then each chunk as ``<u64 length><bytes>`` (written as they are,
    no copy into one big pickle)."""

    target: PartTarget
    table: str
    cut: int
    day: int
    row_chunks: list[Sequence[Buffer]]
    table_blobs: list[Sequence[Buffer]]

    @classmethod
    def of(cls, target: PartTarget, spec: TableSpec, cut: int, day: int, runs: list[Run],
           tables: list[pa.Table]) -> PartJob:
        """The job: the rows' runs as they were encoded on append (big bodies still referenced:
        a rediscovery's 17 pages of 2 MB are not copied under the GIL), tables as IPC."""
        return cls(target, spec.name, cut, day, [run.chunk() for run in runs], [[to_ipc(t)] for t in tables])

    def send(self, out: BinaryIO) -> None:
        head = replace(self, row_chunks=[], table_blobs=[])
        _send(out, [pickle.dumps((head, len(self.row_chunks), len(self.table_blobs)), protocol=5)])
        for pieces in (*self.row_chunks, *self.table_blobs):
            _send(out, pieces)
        out.flush()

    @classmethod
    def receive(cls, inp: BinaryIO) -> PartJob | None:
        head_blob = _receive(inp)
        if head_blob is None:
            return None
        head, n_rows, n_tables = pickle.loads(head_blob)
        blobs = [_receive_or_fail(inp) for _ in range(n_rows + n_tables)]
        return replace(head, row_chunks=[[b] for b in blobs[:n_rows]], table_blobs=[[b] for b in blobs[n_rows:]])

    def run(self) -> PartDone:
        """In the helper: decode and do exactly what the in-process path does."""
        rows: list = []
        for chunk in self.row_chunks:  # each arrives whole (one piece) from the pipe
            rows += decode_rows(chunk[0] if len(chunk) == 1 else b"".join(chunk))
        done = build_and_write(self.target, TABLES[self.table], self.cut, self.day, rows,
                               [from_ipc(blob) for (blob,) in self.table_blobs])
        if done.error is not None:
            try:  # the caller must learn that and why it failed, even from an exception pickle refuses
                pickle.loads(pickle.dumps(done.error))
            except Exception:  # noqa: BLE001
                done.error = OSError(f"{type(done.error).__name__}: {done.error}")
        return done


_LEN = struct.Struct("<Q")


def _send(out: BinaryIO, pieces: Sequence[Buffer]) -> None:
    """One message: its length, then its pieces as they are (no join)."""
    out.write(_LEN.pack(pieces_length(pieces)))
    for piece in pieces:
        out.write(piece)


def _receive(inp: BinaryIO) -> bytes | None:
    head = inp.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (size,) = _LEN.unpack(head)
    blob = inp.read(size)
    if len(blob) < size:
        raise EOFError("the pipe closed inside a message")
    return blob


def _receive_or_fail(inp: BinaryIO) -> bytes:
    blob = _receive(inp)
    if blob is None:
        raise EOFError("the pipe closed inside a job")
    return blob


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The helper's loop: one job in, one :class:`PartDone` out, until the pipe closes."""
    while (job := PartJob.receive(inp)) is not None:
        _send(out, [pickle.dumps(job.run(), protocol=5)])
        out.flush()


class PartProcess:
    """A helper process (``python -m kalshi_collector.storage.partworker``) that builds and writes
    parts (see the module docstring), started on the first job and again after it dies.
    :meth:`write` blocks its (flush) thread, never the event loop.

    A plain child process on pipes rather than :mod:`multiprocessing`: its ``spawn`` re-imports the
    parent's main script (a user's script without a ``__main__`` guard would start itself again),
    and a ``fork`` of this multi-threaded process could inherit a lock held mid-write.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self.jobs = 0
        self.restarts = 0

    def write(self, target: PartTarget, spec: TableSpec, cut: int, day: int, runs: list[Run],
              tables: list[pa.Table]) -> PartDone:
        """Write one part from ``runs`` (``rowruns.py``) and ``tables`` in the helper."""
        job = PartJob.of(target, spec, cut, day, runs, tables)
        try:
            proc = self._started()
            job.send(proc.stdin)
            answer = _receive(proc.stdout)
            if answer is None:
                raise EOFError("no answer")
            done = pickle.loads(answer)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            code = self._stop(kill=True)
            self.restarts += 1
            return PartDone(0, [], None, OSError(f"the part-writer process failed ({exc}; exit code {code}); "
                                                 "a new one starts with the next flush"))
        self.jobs += 1
        return done

    def _started(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is not None:  # died between jobs: a restart too
            self._stop(kill=True)
            self.restarts += 1
        if self._proc is None:
            env = dict(os.environ)
            package_root = str(Path(__file__).resolve().parents[2])  # this very kalshi_collector
            env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
            self._proc = subprocess.Popen([sys.executable, "-m", "kalshi_collector.storage.partworker"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        return self._proc

    def _stop(self, *, kill: bool) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            if kill:
                proc.kill()
            else:
                proc.stdin.close()  # the helper's loop ends at the end of its input
            return proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            return proc.wait()
        finally:
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Stop the helper (it has no work in flight: every write waits for its answer)."""
        self._stop(kill=False)

    @property
    def pid(self) -> int | None:
        """The helper's process id, or None when none runs (tests kill it)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None
