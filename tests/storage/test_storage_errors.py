"""A write that fails for real (ENOTDIR) keeps its rows buffered and journaled; the next flush heals."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from storage_helpers import DAY, ROW_FACTORIES, T0, journal_rows

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.layout import parts_dir


def test_enotdir_keeps_rows_then_next_flush_writes_everything_once(data_dir: Path, caplog) -> None:
    store = LiveStore(data_dir, journal_sync_interval=None)
    store.extend("market_snapshots", [ROW_FACTORIES["market_snapshots"](T0 + i, i) for i in range(300)])
    store.extend("book_events", [ROW_FACTORIES["book_events"](T0 + i, i) for i in range(200)])
    store.sync()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "market_snapshots").write_text("an obstacle where a folder belongs")

    with caplog.at_level(logging.ERROR):
        assert store.flush() == {"book_events": 200}
    assert "storage write failed" in caplog.text and "market_snapshots" in caplog.text
    assert "NotADirectoryError" in caplog.text or "FileExistsError" in caplog.text
    stats = store.stats
    assert stats["write_errors"] == 1 and stats["last_flush_ok"] is False
    assert store.buffered_rows == 300
    assert len(journal_rows(data_dir / "_journal")["market_snapshots"]) == 300  # still journaled

    # more rows arrive while the obstacle is still there; the retry fails again, nothing doubles
    store.append("market_snapshots", ROW_FACTORIES["market_snapshots"](T0 + 999, 999))
    store.append("book_events", ROW_FACTORIES["book_events"](T0 + 999, 999))
    assert store.flush() == {"book_events": 1}
    assert store.stats["write_errors"] == 2 and store.buffered_rows == 301

    (data_dir / "market_snapshots").unlink()
    assert store.flush() == {"market_snapshots": 301}
    assert store.buffered_rows == 0 and store.stats["last_flush_ok"] is True
    assert store.stats["journal_segments"] == 1  # everything covered: old segments retired
    store.close()

    storage = ParquetStorage(data_dir)
    market = storage.read_parquets("market")
    assert len(market) == 301 and not market["volume"].duplicated().any()
    assert sorted(storage.read_parquets("book_events")["expected_seq"]) == [*range(200), 999]


def test_a_day_folder_replaced_by_a_file_fails_only_that_day(data_dir: Path) -> None:
    store = LiveStore(data_dir, journal_sync_interval=None)
    day_us = (DAY.toordinal() - 719163) * 86_400_000_000
    store.extend("orderbook_deltas", [ROW_FACTORIES["orderbook_deltas"](day_us + i, i) for i in range(10)])
    store.extend("orderbook_deltas", [ROW_FACTORIES["orderbook_deltas"](day_us + 86_400_000_000 + i, 100 + i)
                                      for i in range(5)])
    blocked = parts_dir(data_dir, "orderbook_deltas", DAY)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder")
    assert store.flush() == {"orderbook_deltas": 5}
    assert store.buffered_rows == 10
    blocked.unlink()
    assert store.flush() == {"orderbook_deltas": 10}
    store.close()
    seqs = ParquetStorage(data_dir).read_parquets("deltas")["seq"]
    assert sorted(seqs) == [*range(10), *range(100, 105)]


def test_close_with_a_persistent_failure_leaves_rows_for_recovery(data_dir: Path) -> None:
    store = LiveStore(data_dir, journal_sync_interval=None)
    store.extend("trades_live", [ROW_FACTORIES["trades_live"](T0 + i, i) for i in range(50)])
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "trades_live").write_text("obstacle")
    store.close()  # logs, does not raise
    assert store.stats["write_errors"] >= 1
    (data_dir / "trades_live").unlink()
    with LiveStore(data_dir, journal_sync_interval=None) as again:
        assert again.recover()["trades_live"] == 50
    assert len(ParquetStorage(data_dir).read_parquets("trades_live")) == 50
    shutil.rmtree(data_dir)
