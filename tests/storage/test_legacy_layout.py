"""Data folders written before parts moved out of ``TABLE/_parts/``: read, recovered and compacted
in place, with nothing to do by hand."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from storage_helpers import DAY, ID_COLUMN, ROW_FACTORIES, data_files, us

from kalshi_collector.storage import TABLES, LiveStore, ParquetStorage
from kalshi_collector.storage.layout import PARTS, LiveDaily

WRITER = Path(__file__).with_name("storage_writer.py")


def to_legacy_layout(data_dir: Path) -> int:
    """Move every part into ``TABLE/_parts/DAY/``, where earlier versions wrote them; return how many."""
    moved = 0
    for table in TABLES:
        for path in [p for p in data_files(data_dir / table) if LiveDaily.is_part(p)]:
            target = data_dir / table / PARTS / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            path.parent.rmdir()
            moved += 1
    return moved


def ids(data_dir: Path, table: str) -> list:
    return list(ParquetStorage(data_dir).read_parquets(table)[ID_COLUMN[table]])


def test_an_old_folder_reads_then_compacts_with_new_parts_of_the_same_day(data_dir: Path) -> None:
    table, make = "orderbook_snapshots", ROW_FACTORIES["orderbook_snapshots"]
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend(table, [make(us(DAY, i), i) for i in range(50)])
    assert to_legacy_layout(data_dir) == 1
    with LiveStore(data_dir, journal_sync_interval=None) as store:  # the upgraded collector, same day
        store.extend(table, [make(us(DAY, 100 + i), 50 + i) for i in range(30)])
    layout = TABLES[table].layout
    assert [p.parent for p in layout.parts(store._fs, data_dir, DAY)] == [
        layout.legacy_parts_dir(data_dir, DAY), layout.parts_dir(data_dir, DAY)]
    assert sorted(ids(data_dir, table)) == [10.0 + i for i in range(80)]

    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert store.compact(DAY.replace(day=12)) == [str(layout.day_file(data_dir, DAY))]
    assert not (data_dir / table / PARTS).exists() and not layout.parts_dir(data_dir, DAY).exists()
    assert data_files(data_dir / table) == [layout.day_file(data_dir, DAY)]
    assert sorted(ids(data_dir, table)) == [10.0 + i for i in range(80)]


def test_recovery_counts_parts_in_the_legacy_folder_as_stored(data_dir: Path) -> None:
    """An old collector died after its parts were in place but before it retired the journal; the
    upgraded one must not write those rows again."""
    proc = subprocess.run([sys.executable, str(WRITER), "crash-flush", str(data_dir), "retire", "1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert to_legacy_layout(data_dir) >= len(TABLES)
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        assert sum(store.recover().values()) == 0
    for table in TABLES:
        found = ids(data_dir, table)
        assert len(found) == len(set(found)) == (1001 if table == "book_events" else 1000), table
