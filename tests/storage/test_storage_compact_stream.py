"""A day too big for memory is compacted a batch at a time, into the same day file the in-memory
merge writes (same rows, same order, same footer), late parts and damaged parts included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from storage_helpers import DAY, ROW_FACTORIES, us

from kalshi_collector.storage import TABLES, LiveStore
from kalshi_collector.storage.compact import compact_day
from kalshi_collector.storage.compactstream import Piece, plan_batches
from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import MERGED_PARTS_KEY, day_file, parts_dir

TINY = 1  # bytes per batch: every group of overlapping inputs becomes a batch of its own


def _fill(data_dir: Path, table: str, flushes: int, per_flush: int, start: int = 0) -> None:
    """Flushes in pairs whose times interleave (the two parts of a pair overlap), an hour apart."""
    make = ROW_FACTORIES[table]
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        ident = start
        for flush in range(flushes):
            base = 3600.0 * (flush // 2) + 20.0 * (flush % 2)
            for i in reversed(range(per_flush)):
                store.append(table, make(us(DAY, base + 100.0 + i * 0.5), ident))
                ident += 1
            store.flush()


def _compact(data_dir: Path, table: str, batch_bytes: int) -> pq.ParquetFile:
    compact_day(LocalFS(), data_dir, TABLES[table], DAY, batch_bytes=batch_bytes)
    return pq.ParquetFile(day_file(data_dir, table, DAY))


@pytest.mark.parametrize("table", ["orderbook_deltas", "raw_ws", "orderbook_snapshots"])
def test_a_streamed_day_file_equals_the_in_memory_one(tmp_path: Path, table: str) -> None:
    _fill(tmp_path / "a", table, flushes=6, per_flush=300)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    whole = _compact(tmp_path / "a", table, batch_bytes=1 << 40)
    streamed = _compact(tmp_path / "b", table, batch_bytes=TINY)
    assert streamed.metadata.num_rows == whole.metadata.num_rows == 1800
    assert streamed.read().equals(whole.read())
    assert streamed.schema_arrow.metadata[MERGED_PARTS_KEY] == whole.schema_arrow.metadata[MERGED_PARTS_KEY]
    assert streamed.metadata.num_row_groups > 1  # written as it was merged, a batch at a time
    assert not parts_dir(tmp_path / "b", table, DAY).exists()


def test_late_parts_stream_into_the_day_file_read_a_row_group_at_a_time(tmp_path: Path) -> None:
    table = "orderbook_deltas"
    _fill(tmp_path / "a", table, flushes=4, per_flush=200)
    _compact(tmp_path / "a", table, batch_bytes=TINY)
    _fill(tmp_path / "a", table, flushes=3, per_flush=100, start=10_000)  # late parts of the same day
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    streamed = _compact(tmp_path / "a", table, batch_bytes=TINY).read()
    whole = _compact(tmp_path / "b", table, batch_bytes=1 << 40).read()
    assert streamed.num_rows == 1100 and streamed.equals(whole)
    assert sorted(streamed.column("seq").to_pylist()) == sorted([*range(800), *range(10_000, 10_300)])


def test_a_damaged_part_is_left_out_of_a_streamed_merge_and_kept(tmp_path: Path, caplog) -> None:
    table = "raw_ws"
    _fill(tmp_path, table, flushes=4, per_flush=200)
    parts = sorted(parts_dir(tmp_path, table, DAY).iterdir())
    damaged = parts[1]
    data = bytearray(damaged.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 64] = bytes(64)  # a page garbled; the footer still reads
    damaged.write_bytes(bytes(data))
    with caplog.at_level("INFO", logger="kalshi_collector.storage.compact"):
        day = _compact(tmp_path, table, batch_bytes=TINY)
    assert day.metadata.num_rows == 600
    assert any("cannot be read" in r.message and damaged.name in r.message for r in caplog.records)
    assert any("3 parts -> 600 rows in 3 batches" in r.message for r in caplog.records)  # by n: no overlap
    assert damaged.exists() and [p for p in parts_dir(tmp_path, table, DAY).iterdir()] == [damaged]
    assert damaged.name not in day.schema_arrow.metadata[MERGED_PARTS_KEY].decode()


def _piece(name: str, low: int, high: int, nbytes: int = 10) -> Piece:
    return Piece(Path(name), None, low, high, nbytes, 1)


def test_overlapping_inputs_share_a_batch_and_batches_follow_in_key_order() -> None:
    pieces = [_piece("c", 30, 40), _piece("a", 0, 10), _piece("b", 5, 20), _piece("d", 40, 45), _piece("e", 50, 60)]
    assert [[p.path.name for p in batch] for batch in plan_batches(pieces, batch_bytes=1)] == \
        [["a", "b"], ["c", "d"], ["e"]]  # 40 belongs to both c and d: one group
    assert [[p.path.name for p in batch] for batch in plan_batches(pieces, batch_bytes=40)] == \
        [["a", "b", "c", "d"], ["e"]]
