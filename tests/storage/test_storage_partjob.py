"""Parts built and written by the helper process (``storage/partjob.py``): the same files as the
in-process path, bad rows quarantined the same way, and a failed or killed helper costs nothing
but a retry (rows kept, journaled, written by the next flush's new helper)."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from storage_helpers import T0, delta_row, orderbook_row, raw_ws_row

from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.buffers import RowBuffers
from kalshi_collector.storage.catalog import ORDERBOOK_SNAPSHOTS, TABLES
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.journal import JournalWriter
from kalshi_collector.storage.journal.frames import decode_rows
from kalshi_collector.storage.journalsync import JournalSync
from kalshi_collector.storage.layout import DAY_US
from kalshi_collector.storage.partjob import PartJob, PartTarget
from kalshi_collector.storage.rowruns import runs_of
from kalshi_collector.storage.rows import rows_to_table


def _write(data_dir: Path, process: bool) -> None:
    with LiveStore(data_dir, journal_sync_interval=None, writer_process_min_rows=1 if process else None) as store:
        store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(5000)])
        store.extend("raw_ws", [raw_ws_row(T0 + i, i) for i in range(3000)])
        snap, bad = rows_to_table(ORDERBOOK_SNAPSHOTS, [orderbook_row(T0 + i, i) for i in range(200)])
        assert not bad
        store.append_table("orderbook_snapshots", snap)
        store.append("orderbook_deltas", (*delta_row(T0, 1)[:-1], "not a number"))  # wrong type: rejected
        store.sync()
        assert store.flush() == {"orderbook_deltas": 5000, "raw_ws": 3000, "orderbook_snapshots": 200}
        assert store.stats["writer_process_jobs"] == (3 if process else 0)


def _content(data_dir: Path) -> dict[str, pa.Table]:
    out = {}
    for table in ("orderbook_deltas", "raw_ws", "orderbook_snapshots"):
        files = sorted((data_dir / table).rglob("*.parquet"))
        assert len(files) == 1
        out[table] = pq.read_table(files[0])
    return out


def test_the_helper_writes_what_the_collector_process_writes(tmp_path: Path) -> None:
    _write(tmp_path / "here", process=False)
    _write(tmp_path / "helper", process=True)
    here, helper = _content(tmp_path / "here"), _content(tmp_path / "helper")
    for table in here:
        assert helper[table].equals(here[table]), table
    for folder in ("here", "helper"):  # the bad row is quarantined either way
        assert len(list((tmp_path / folder / "_rejected" / "orderbook_deltas").iterdir())) == 1


def test_a_killed_helper_costs_a_retry_not_a_row(tmp_path: Path) -> None:
    rows = [delta_row(T0 + i, i) for i in range(2000)]
    with LiveStore(tmp_path, journal_sync_interval=None, writer_process_min_rows=1) as store:
        store.extend("orderbook_deltas", rows[:1000])
        assert store.flush() == {"orderbook_deltas": 1000}
        pid = store._parts.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while store._parts.process.pid is not None and time.monotonic() < deadline:  # dead and reaped
            time.sleep(0.01)
        store.extend("orderbook_deltas", rows[1000:])
        assert store.flush() == {"orderbook_deltas": 1000}  # noticed dead before the job: a new helper
        assert store.stats["writer_process_restarts"] == 1 and store.stats["write_errors"] == 0
        assert store._parts.process.pid not in (None, pid)
    stored = pq.read_table(tmp_path / "orderbook_deltas").num_rows
    assert stored == 2000


def test_a_write_failing_in_the_helper_keeps_the_rows(tmp_path: Path) -> None:
    with LiveStore(tmp_path, journal_sync_interval=None, writer_process_min_rows=1) as store:
        (tmp_path / "orderbook_deltas").write_text("a file where the table's folder belongs")
        store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(100)])
        assert store.flush() == {}
        assert store.buffered_rows == 100 and store.stats["write_errors"] == 1
        (tmp_path / "orderbook_deltas").unlink()
        assert store.flush() == {"orderbook_deltas": 100}
        assert store.stats["writer_process_restarts"] == 0  # the helper reported it and lives on


def test_a_failed_write_in_the_helper_comes_back_as_the_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data folder should be")
    runs, _ = runs_of(TABLES["orderbook_deltas"], [delta_row(T0, 1)])
    job = PartJob.of(PartTarget(LocalFS(), blocker, "c0"), TABLES["orderbook_deltas"], 7, 20_000, runs, [])
    done = job.run()  # exactly what the helper runs
    assert done.count == 1 and isinstance(done.error, OSError) and done.path is not None


def test_a_row_msgpack_cannot_carry_is_quarantined_and_the_rest_goes_to_the_helper(tmp_path: Path) -> None:
    with LiveStore(tmp_path, journal_sync_interval=None, writer_process_min_rows=1) as store:
        store.extend("orderbook_deltas", [delta_row(T0 + i, i) for i in range(10)])
        store.append("orderbook_deltas", (*delta_row(T0, 1)[:-1], 1 << 70))  # beyond 64 bits
        assert store.flush() == {"orderbook_deltas": 10}
        assert store.stats["writer_process_jobs"] == 1
        assert store.stats["rows_rejected"]["orderbook_deltas"] == 1


def _synced(tmp_path: Path) -> tuple[RowBuffers, JournalSync]:
    buffers = RowBuffers()
    return buffers, JournalSync(JournalWriter(tmp_path, "c0"), buffers, buffers.tables, threading.Lock())


def test_a_flush_sends_the_runs_as_they_were_encoded_on_append(tmp_path: Path) -> None:
    """The journal wrote the runs' very buffers, and the part job carries the same buffers (never
    a new encoding); runs put in front (recovered, given back) travel the same way."""
    buffers, sync = _synced(tmp_path)
    rows = [delta_row(T0 + i, i) for i in range(9000)]
    buffers.pending["orderbook_deltas"].extend(rows[1000:5000])
    sync.sync()
    buffers.pending["orderbook_deltas"].extend(rows[5000:])
    sync.sync()
    journaled = list(buffers.journaled["orderbook_deltas"])
    recovered, _ = runs_of(TABLES["orderbook_deltas"], rows[:1000])
    buffers.add_journaled("orderbook_deltas", recovered)  # as recovery puts rows back
    batch = buffers.take_all()
    table_rows = batch.tables["orderbook_deltas"]
    job = PartJob.of(PartTarget(LocalFS(), tmp_path, "c0"), TABLES["orderbook_deltas"], 1, T0 // DAY_US,
                     table_rows.journaled, [])
    buffers_sent = [piece for chunk in job.row_chunks for piece in chunk]
    assert all(any(piece is run.pieces[0] for piece in buffers_sent) for run in journaled)
    sent = io.BytesIO()
    job.send(sent)
    received = PartJob.receive(io.BytesIO(sent.getvalue()))
    assert [row for (chunk,) in received.row_chunks for row in decode_rows(chunk)] == rows
    assert buffers.journaled["orderbook_deltas"] == [] and buffers.inflight == 9000
