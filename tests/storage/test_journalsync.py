"""A busy sync is journaled as several small frames in one write, and recovers every row once."""

from __future__ import annotations

from pathlib import Path

from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.storage import LiveStore, ParquetStorage, journalsync, rowruns
from kalshi_collector.storage.journal import read_segment
from kalshi_collector.storage.journalsync import SLICE_ROWS


def test_a_big_sync_is_sliced_into_frames_and_recovers_exactly_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(rowruns, "RUN_BYTES", 64 << 10)  # runs of about 900 rows
    monkeypatch.setattr(journalsync, "FRAME_BYTES", 128 << 10)  # about two runs per frame
    make = ROW_FACTORIES["orderbook_deltas"]
    rows = [make(us(DAY, i / 1000), i) for i in range(5 * SLICE_ROWS + 17)]
    store = LiveStore(tmp_path, journal_sync_interval=None)
    store.extend("orderbook_deltas", rows[:100])
    store.extend("market_snapshots", [ROW_FACTORIES["market_snapshots"](us(DAY, 1.0), 1)])
    store.extend("orderbook_deltas", rows[100:])
    store.sync()
    assert store.unsynced_rows == 0
    segments = sorted((tmp_path / "_journal").glob("*.wal"))
    scans = [read_segment(p) for p in segments]
    assert sum(len(scan.frames) for scan in scans) >= 6  # 10,018 rows, ~700 kB, in frames of at most ~128 kB
    assert sum(scan.rows for scan in scans) == len(rows) + 1
    store._journal.close()  # a crash: nothing flushed, the journal is all there is

    with LiveStore(tmp_path, journal_sync_interval=None) as again:
        assert again.recover()["orderbook_deltas"] == len(rows)
    stored = ParquetStorage(tmp_path).read_parquets("orderbook_deltas")
    assert len(stored) == len(rows)
