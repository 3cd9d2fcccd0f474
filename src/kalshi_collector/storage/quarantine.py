"""Finding damaged data files and moving them aside, under ``DATA/_damaged/`` with their paths kept.

Readers already skip a damaged file (:mod:`~kalshi_collector.storage.damage`), but they warn about
it at every start, ``status`` keeps listing it and compaction keeps leaving it behind. Moving it
aside ends that while keeping its bytes for whoever wants to salvage them by hand: the file goes to
``DATA/_damaged/<its path relative to DATA>`` (``.1``, ``.2``... added if that name is taken),
where no reader, layout or plain-tool glob of a table folder looks.

A check reads every file a reader would read in full, verifying page checksums, so it also finds
damage a footer-only look (``status``) misses; it costs one full read of the data folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from kalshi_collector.storage.catalog import DATASETS
from kalshi_collector.storage.damage import DAMAGE_ERRORS, DamagedFile, describe_damage, is_damage
from kalshi_collector.storage.reader import ParquetStorage

__all__ = ["DAMAGED_FOLDER", "Moved", "find_damaged", "move_aside"]

DAMAGED_FOLDER = "_damaged"


@dataclass(frozen=True)
class Moved:
    source: str
    target: str


def find_damaged(storage: ParquetStorage) -> list[DamagedFile]:
    """Every data file of every dataset that does not read back whole (missing ones are not damage)."""
    fs, found = storage.fs, []
    for name in DATASETS:
        for path in storage.files(name):
            try:
                fs.read_table(path, page_checksum_verification=True)
            except DAMAGE_ERRORS as exc:
                if is_damage(exc):
                    found.append(DamagedFile(str(path), describe_damage(exc)))
    return found


def move_aside(storage: ParquetStorage, files: list[DamagedFile]) -> list[Moved]:
    """Move each file to ``_damaged/`` under the data folder, keeping its relative path."""
    fs, root = storage.fs, storage.root
    moved = []
    for damaged in files:
        source = PurePath(damaged.path)
        target = _free_name(storage, root / DAMAGED_FOLDER / source.relative_to(root))
        fs.move(source, target)
        moved.append(Moved(str(source), str(target)))
    return moved


def _free_name(storage: ParquetStorage, target: PurePath) -> PurePath:
    candidate, n = target, 0
    while storage.fs.isfile(candidate):
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    return candidate
