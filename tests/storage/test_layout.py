"""Layouts: file names, and which files a date range lists (by name only, nothing opened)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from storage_helpers import DAY

from kalshi_collector.storage.fs import LocalFS
from kalshi_collector.storage.layout import (
    MERGED_PARTS_KEY,
    FileGroup,
    LiveDaily,
    PartName,
    PerDay,
    PerEvent,
    day_file,
    merged_part_names,
    parse_day,
    parse_part_name,
    parts_dir,
)

NEXT = DAY + dt.timedelta(days=1)
FS = LocalFS()


def _touch(path: Path, data: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_names_parse_back() -> None:
    part = PartName("c0", 10, 20, 7)
    assert parse_part_name(str(part)) == part
    assert parse_part_name("part-c0-10-20.parquet") is None
    assert parse_day("2026-02-11.parquet") == DAY and parse_day("2026-02-30") is None and parse_day("x") is None


def test_live_days_come_from_day_files_and_part_folders_and_skip_merged_parts(tmp_path: Path) -> None:
    layout = LiveDaily("book_events")
    merged, fresh = PartName("c0", 1, 2, 1), PartName("c0", 3, 4, 2)
    table = pa.table({"ts": [1]}).replace_schema_metadata({MERGED_PARTS_KEY: json.dumps([str(merged)]).encode()})
    layout.day_file(tmp_path, DAY).parent.mkdir(parents=True)
    pq.write_table(table, layout.day_file(tmp_path, DAY))
    for part in (merged, fresh):
        _touch(layout.part_file(tmp_path, DAY, part))
    _touch(layout.part_file(tmp_path, NEXT, fresh))
    _touch(layout.parts_dir(tmp_path, NEXT) / "notes.txt")
    assert merged_part_names(FS, layout.day_file(tmp_path, DAY)) == {str(merged)}
    assert layout.days(FS, tmp_path) == [DAY, NEXT]
    assert layout.days(FS, tmp_path, start=NEXT) == [NEXT]
    assert layout.files(FS, tmp_path, DAY, DAY) == [layout.day_file(tmp_path, DAY),
                                                    layout.part_file(tmp_path, DAY, fresh)]
    group = next(iter(layout.groups(FS, tmp_path, NEXT, NEXT)))
    assert group == FileGroup(NEXT, [layout.part_file(tmp_path, NEXT, fresh)])
    layout.part_file(tmp_path, NEXT, fresh).unlink()
    assert layout.regroup(FS, tmp_path, group) == FileGroup(NEXT, [])  # listed again after a compaction
    assert [layout.is_part(p) for p in layout.files(FS, tmp_path, DAY, DAY)] == [False, True]
    # the live store's spelling, by table name
    assert day_file(tmp_path, "book_events", DAY) == layout.day_file(tmp_path, DAY)
    assert parts_dir(tmp_path, "book_events", DAY) == layout.parts_dir(tmp_path, DAY)


def test_parts_of_earlier_versions_in_the_legacy_folder_are_listed_beside_new_ones(tmp_path: Path) -> None:
    layout = LiveDaily("market_snapshots")
    old, new, merged = PartName("c0", 1, 2, 1), PartName("c0", 3, 4, 2), PartName("c1", 1, 2, 9)
    legacy = layout.legacy_parts_dir(tmp_path, DAY)
    assert legacy == tmp_path / "market_snapshots" / "_parts" / "2026-02-11"
    assert layout.parts_dir(tmp_path, DAY) == tmp_path / "market_snapshots" / "2026-02-11"
    _touch(legacy / str(old))
    _touch(legacy / str(merged))
    _touch(layout.part_file(tmp_path, DAY, new))
    _touch(layout.legacy_parts_dir(tmp_path, NEXT) / str(old))  # a day known only from the legacy folder
    _touch(layout.path(tmp_path) / "2026-02-20.parquet")  # a day file is not a parts folder
    assert layout.part_days(FS, tmp_path) == [DAY, NEXT]
    assert layout.part_days(FS, tmp_path, end=DAY) == [DAY]
    assert layout.days(FS, tmp_path) == [DAY, NEXT, dt.date(2026, 2, 20)]
    assert layout.parts(FS, tmp_path, DAY) == [legacy / str(old), legacy / str(merged),
                                               layout.part_file(tmp_path, DAY, new)]
    table = pa.table({"ts": [1]}).replace_schema_metadata({MERGED_PARTS_KEY: json.dumps([str(merged)]).encode()})
    pq.write_table(table, layout.day_file(tmp_path, DAY))
    assert layout.files(FS, tmp_path, DAY, DAY) == [layout.day_file(tmp_path, DAY), legacy / str(old),
                                                    layout.part_file(tmp_path, DAY, new)]
    assert [layout.is_part(p) for p in layout.files(FS, tmp_path, DAY, DAY)] == [False, True, True]


def test_per_event_lists_every_event_file_and_never_a_temp_file(tmp_path: Path) -> None:
    layout = PerEvent("historical/trades")
    for name in ("B-1.parquet", "A-1.parquet", ".A-1.parquet.abcd.tmp", "notes.txt"):
        _touch(layout.path(tmp_path) / name)
    assert not layout.prunes_by_name
    assert [g.key for g in layout.groups(FS, tmp_path, DAY, DAY)] == ["A-1", "B-1"]
    assert layout.files(FS, tmp_path) == [layout.event_file(tmp_path, "A-1"), layout.event_file(tmp_path, "B-1")]


def test_per_day_prunes_by_the_date_in_the_name(tmp_path: Path) -> None:
    layout = PerDay("weather/metar")
    for day in (DAY, NEXT):
        _touch(layout.day_file(tmp_path, day))
    _touch(layout.path(tmp_path) / "2026-13-01.parquet")
    assert layout.files(FS, tmp_path) == [layout.day_file(tmp_path, DAY), layout.day_file(tmp_path, NEXT)]
    assert layout.files(FS, tmp_path, start=NEXT) == [layout.day_file(tmp_path, NEXT)]
    assert layout.files(FS, tmp_path / "nowhere") == []
