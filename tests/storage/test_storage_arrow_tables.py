"""``LiveStore.append_table``: whole Arrow tables beside the rows, journaled as Arrow IPC, written
with the rows of their day, kept through a failed write, read back from real parquet files."""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow as pa
import pytest
from storage_helpers import T0, orderbook_row

from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import ORDERBOOK_SNAPSHOTS
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.journal.__main__ import main as inspect_main
from kalshi_collector.storage.rows import rows_to_table

DAY_US = 86_400_000_000


def _table(rows: list[tuple]) -> pa.Table:
    table, bad = rows_to_table(ORDERBOOK_SNAPSHOTS, rows)
    assert not bad
    return table


def _stored(data_dir: Path) -> list[tuple]:
    frame = ParquetStorage(data_dir).read_parquets("orderbook_snapshots")
    return sorted(frame["quantity"].tolist())


def test_tables_and_rows_of_a_day_go_to_one_part_and_read_back(data_dir: Path) -> None:
    rows = [orderbook_row(T0 + i, i) for i in range(30)]
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("orderbook_snapshots", rows[:10])
        store.append_table("orderbook_snapshots", _table(rows[10:20]))
        store.append_table("orderbook_snapshots", _table(rows[20:]))
        assert store.buffered_rows == 30 and store.unsynced_rows == 30
        store.sync()
        assert store.unsynced_rows == 0
        assert store.flush() == {"orderbook_snapshots": 30}
        assert store.buffered_rows == 0
    parts = list((data_dir / "orderbook_snapshots").rglob("*.parquet"))
    assert len(parts) == 1
    assert _stored(data_dir) == sorted(r[4] for r in rows)


def test_a_table_across_midnight_is_split_into_its_days(data_dir: Path) -> None:
    rows = [orderbook_row(T0 + i * (DAY_US // 4), i) for i in range(8)]  # two days and a bit
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.append_table("orderbook_snapshots", _table(rows))
        store.flush()
    days = {p.parent.name for p in (data_dir / "orderbook_snapshots").rglob("*.parquet")}
    assert len(days) == 3
    assert _stored(data_dir) == sorted(r[4] for r in rows)


def test_a_wrong_table_is_refused_naming_what_to_fix(data_dir: Path) -> None:
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        good = _table([orderbook_row(T0, 1)])
        with pytest.raises(ValueError, match="unknown table 'orderbook'"):
            store.append_table("orderbook", good)
        with pytest.raises(ValueError, match="orderbook_snapshots: the table's schema must be"):
            store.append_table("orderbook_snapshots", good.drop_columns(["quantity"]))
        with pytest.raises(TypeError, match="takes a pyarrow.Table"):
            store.append_table("orderbook_snapshots", [orderbook_row(T0, 1)])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="closed"):
        store.append_table("orderbook_snapshots", good)


class FailingOnce(LocalFS):
    def __init__(self) -> None:
        self.failures = 1

    def write_parquet(self, path, table, **options):
        if self.failures:
            self.failures -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write_parquet(path, table, **options)


def test_a_failed_part_write_keeps_the_tables_journaled_for_the_next_flush(data_dir: Path) -> None:
    rows = [orderbook_row(T0 + i, i) for i in range(20)]
    with LiveStore(data_dir, journal_sync_interval=None, fs=FailingOnce()) as store:
        store.append_table("orderbook_snapshots", _table(rows[:10]))
        store.sync()
        store.append_table("orderbook_snapshots", _table(rows[10:]))  # not journaled yet
        assert store.flush() == {}
        assert store.stats["write_errors"] == 1 and store.buffered_rows == 20
        assert store.flush() == {"orderbook_snapshots": 20}
    assert _stored(data_dir) == sorted(r[4] for r in rows)


def test_the_inspect_tool_counts_a_tables_rows(data_dir: Path, capsys) -> None:
    journal = data_dir / "_journal"
    store = LiveStore(data_dir, journal_sync_interval=None)
    store.append_table("orderbook_snapshots", _table([orderbook_row(T0 + i, i) for i in range(7)]))
    store.append("orderbook_snapshots", orderbook_row(T0, 99))
    store.sync()
    segment = sorted(journal.glob("*.wal"))[-1]
    assert inspect_main([str(segment)]) == 0
    assert "orderbook_snapshots: 8 rows" in capsys.readouterr().out
    store.close()
