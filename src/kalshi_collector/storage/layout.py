"""Where every file of the data folder lives, and how its name says what it holds.

```
TABLE/YYYY-MM-DD.parquet                                     compacted finished UTC day
TABLE/_parts/YYYY-MM-DD/part-CID-FIRSTUS-LASTUS-N.parquet    not yet compacted
_journal/CID-NNNNNNNNNNNNNNNNNNNN.wal                        write-ahead journal segments
_rejected/TABLE/CID-N.msgpack                                rows that could not be stored
```
``FIRSTUS``/``LASTUS`` are the smallest and largest time value in the part (epoch microseconds), so
a reader can tell a part's time range from its name, Nautilus-catalog style. ``N`` is the journal
segment number the part was cut at: it is what makes recovery exactly-once (see ``journal.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DAY_US",
    "MAX_US",
    "PARTS",
    "MERGED_PARTS_KEY",
    "PartName",
    "day_from_index",
    "day_index",
    "parse_day",
    "table_dir",
    "day_file",
    "parts_dir",
    "parse_part_name",
]

DAY_US = 86_400_000_000
# 9999-12-31T23:59:59.999999Z: anything beyond cannot be a date in a file name.
MAX_US = 253_402_300_800_000_000
PARTS = "_parts"
MERGED_PARTS_KEY = b"kalshi_collector.merged_parts"
"""Footer key of a compacted day file: JSON list of the part names merged into it."""

_EPOCH = dt.date(1970, 1, 1)
_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_PART_RE = re.compile(r"^part-([A-Za-z0-9_]+)-(\d+)-(\d+)-(\d+)\.parquet$")


def day_index(day: dt.date) -> int:
    """Days since 1970-01-01 (what ``epoch_us // DAY_US`` gives for a time on that UTC day)."""
    return (day - _EPOCH).days


def day_from_index(index: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=index)


def parse_day(name: str) -> dt.date | None:
    """``"2026-02-11"`` (or ``"2026-02-11.parquet"``) -> date; anything else -> None."""
    stem = name[: -len(".parquet")] if name.endswith(".parquet") else name
    m = _DAY_RE.match(stem)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def table_dir(root: Path, table: str) -> Path:
    return root / table


def day_file(root: Path, table: str, day: dt.date) -> Path:
    return root / table / f"{day.isoformat()}.parquet"


def parts_dir(root: Path, table: str, day: dt.date) -> Path:
    return root / table / PARTS / day.isoformat()


@dataclass(frozen=True)
class PartName:
    collector_id: str
    first_us: int
    last_us: int
    n: int

    def __str__(self) -> str:
        return f"part-{self.collector_id}-{self.first_us}-{self.last_us}-{self.n}.parquet"


def parse_part_name(name: str) -> PartName | None:
    m = _PART_RE.match(name)
    if not m:
        return None
    return PartName(m[1], int(m[2]), int(m[3]), int(m[4]))
