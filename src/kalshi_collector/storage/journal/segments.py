"""Names of the journal's files: segments, the spare segment, kept damaged segments, the lock."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["DAMAGED_SUFFIX", "damaged_path", "list_segments", "lock_path", "segment_path", "spare_path"]

DAMAGED_SUFFIX = ".damaged"
_SEGMENT_RE = re.compile(r"^([A-Za-z0-9_]+)-(\d{20})\.wal$")


def segment_path(directory: Path, collector_id: str, number: int) -> Path:
    return directory / f"{collector_id}-{number:020d}.wal"


def spare_path(directory: Path, collector_id: str) -> Path:
    """The segment made ready ahead of time; not a ``.wal``, so never listed, read or recovered."""
    return directory / f"{collector_id}.spare"


def damaged_path(segment: Path) -> Path:
    """Where a damaged segment is kept once its intact frames are stored (never deleted by us)."""
    return segment.with_name(segment.name + DAMAGED_SUFFIX)


def lock_path(directory: Path, collector_id: str) -> Path:
    return directory / f"{collector_id}.lock"


def list_segments(directory: Path, collector_id: str) -> list[tuple[int, Path]]:
    """This collector's segments, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        m = _SEGMENT_RE.match(name)
        if m and m[1] == collector_id:
            found.append((int(m[2]), directory / name))
    return sorted(found)
