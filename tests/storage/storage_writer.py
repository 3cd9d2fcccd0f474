"""A small writer run in a subprocess by the crash tests, so that a crash is a real process death.

Usage: ``python storage_writer.py MODE DATA_DIR [ARGS...]``

- ``stream``: append and sync rows for ever, flushing now and then; after each sync prints
  ``synced N`` (rows with id < N are promised durable). The test kills it with SIGKILL.
- ``crash-flush POINT K``: append and sync 1000 rows of every table, then flush with a filesystem
  that kills the process at its K-th ``POINT`` (``before-write``: a part about to be written;
  ``after-write``: a part just renamed into place; ``retire``: the journal segments about to be
  deleted).
- ``crash-flush-arrow POINT K``: the same, with 600 of the 1000 ``orderbook_snapshots`` rows handed
  over as two Arrow tables (``append_table``), one of them reaching into the next day.
- ``crash-recover POINT K``: the same crash points, hit during ``recover()``.
- ``efbig``: a real EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored) on the part write; prints the stats after
  the failed flush and after the retried one as JSON.
- ``efbig-die``: the failed flush, then ``os._exit`` without closing.
- ``full-disk KIND``: journal on a disk that fills up (``injected``: the journal's file layer and
  the part files fail as a full disk does; ``real``: DATA_DIR is a small tmpfs, filled with a
  file) until the journal's reserve is used up; prints what was promised as JSON, then
  ``os._exit`` (as a kill -9, nothing flushed or closed).
- ``efbig-journal``: a sync whose frame is bigger than a (small) journal segment and hits EFBIG
  half-way through, then a sync that works, then ``os._exit``; prints the stats after each sync as
  JSON.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from storage_helpers import ROW_FACTORIES, T0  # noqa: E402

from kalshi_collector.storage import LiveStore  # noqa: E402
from kalshi_collector.storage.fs import LocalFS  # noqa: E402
from kalshi_collector.storage.journal import JournalOptions, JournalWriter  # noqa: E402


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingFS(LocalFS):
    """Kills the process at the K-th occurrence of a crash point."""

    def __init__(self, point: str, k: int) -> None:
        self.point, self.k, self.seen = point, k, 0

    def _hit(self, point: str) -> None:
        if point == self.point:
            self.seen += 1
            if self.seen == self.k:
                _die()

    def write_parquet(self, path, table, **options):
        self._hit("before-write")
        result = super().write_parquet(path, table, **options)
        self._hit("after-write")
        return result


def _arm_retire(fs: CrashingFS) -> None:
    original = JournalWriter.delete_upto

    def delete_upto(self, number):
        fs._hit("retire")
        return original(self, number)

    JournalWriter.delete_upto = delete_upto


def _fill(store: LiveStore, n: int = 1000, arrow: bool = False) -> None:
    for table, make in ROW_FACTORIES.items():
        rows = [make(T0 + i * 1000, i) for i in range(n)]
        if arrow and table == "orderbook_snapshots":
            store.extend(table, rows[600:])
            store.append_table(table, arrow_table(rows[:300]))
            store.append_table(table, arrow_table([(r[0] + 86_400_000_000, *r[1:]) for r in rows[300:600]]))
        else:
            store.extend(table, rows)


def arrow_table(rows: list[tuple]):
    from kalshi_collector.storage.catalog import ORDERBOOK_SNAPSHOTS
    from kalshi_collector.storage.rows import rows_to_table

    table, bad = rows_to_table(ORDERBOOK_SNAPSHOTS, rows)
    assert not bad
    return table


def stream(data_dir: str) -> None:
    store = LiveStore(data_dir, journal_sync_interval=None)
    i = 0
    syncs = 0
    while True:
        for _ in range(37):
            ts = T0 + i * 1000
            store.append("orderbook_deltas", ROW_FACTORIES["orderbook_deltas"](ts, i))
            store.append("book_events", ROW_FACTORIES["book_events"](ts, i))
            i += 1
        store.sync()
        syncs += 1
        print(f"synced {i}", flush=True)
        if syncs % 7 == 0:
            store.flush()


def crash_flush(data_dir: str, point: str, k: str, arrow: bool = False) -> None:
    fs = CrashingFS(point, int(k))
    _arm_retire(fs)
    store = LiveStore(data_dir, journal_sync_interval=None, fs=fs)
    # two days for one table, so one flush writes two parts of it
    store.append("book_events", ROW_FACTORIES["book_events"](T0 + 86_400_000_000, 5000))
    _fill(store, arrow=arrow)
    store.sync()
    store.flush()
    print("survived", flush=True)
    os._exit(0)


def crash_recover(data_dir: str, point: str, k: str) -> None:
    fs = CrashingFS(point, int(k))
    _arm_retire(fs)
    store = LiveStore(data_dir, journal_sync_interval=None, fs=fs)
    print(json.dumps(store.recover()), flush=True)
    os._exit(0)


def _efbig_flush(data_dir: str) -> tuple[LiveStore, dict]:
    store = LiveStore(data_dir, journal_sync_interval=None)
    _fill(store, 5000)
    store.sync()  # journaled while the disk still has room
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, hard))  # parts of 5000 rows are bigger
    try:
        store.flush()
        stats = store.stats
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    return store, stats


def efbig(data_dir: str) -> None:
    store, failed = _efbig_flush(data_dir)
    written = store.flush()
    store.close()
    print(json.dumps({"failed": failed, "retried": store.stats, "written": written}), flush=True)


def efbig_die(data_dir: str) -> None:
    _, failed = _efbig_flush(data_dir)
    print(json.dumps({"failed": failed}), flush=True)
    os._exit(0)


def efbig_journal(data_dir: str) -> None:
    segment = 256 * 1024  # the 2000-row frame is bigger: it gets a segment of its own, which grows
    store = LiveStore(data_dir, journal_sync_interval=None, journal_options=JournalOptions(segment_bytes=segment))
    _fill(store, 100)
    store.sync()
    _fill(store, 2000)  # ids 0..1999 again in the second batch: the test counts rows, not ids
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (segment + 4096, hard))  # room for part of the frame only
    try:
        store.sync()
        failed = store.stats
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    store.sync()
    print(json.dumps({"failed": failed, "retried": store.stats}), flush=True)
    os._exit(0)


def full_disk(data_dir: str, kind: str) -> None:
    from journal_faults import FullDisk, fill, journal_until_full

    segment = 64 * 1024
    if kind == "injected":
        disk = FullDisk()
        store = LiveStore(data_dir, journal_sync_interval=None, fs=disk.parts(),
                          journal_options=JournalOptions(segment_bytes=segment, ops=disk))
        run = journal_until_full(store, lambda: setattr(disk, "full", True))
    else:
        store = LiveStore(data_dir, journal_sync_interval=None, journal_options=JournalOptions(segment_bytes=segment))
        run = journal_until_full(store, lambda: fill(Path(data_dir) / "filler"))
    print(json.dumps({**run._asdict(), "write_errors": store.stats["write_errors"]}), flush=True)
    os._exit(0)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"stream": stream, "crash-flush": crash_flush, "crash-recover": crash_recover,
     "crash-flush-arrow": lambda *a: crash_flush(*a, arrow=True),
     "efbig": efbig, "efbig-die": efbig_die, "efbig-journal": efbig_journal, "full-disk": full_disk}[mode](*args)
