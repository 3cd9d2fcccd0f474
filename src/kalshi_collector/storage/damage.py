"""Damaged files: a part or day file that cannot be read costs its own rows, never a whole read.

A file truncated by a failing disk, garbled by bad sectors or hand-edited raises one of
:data:`DAMAGE_ERRORS` when pyarrow opens or decodes it. Readers (``ParquetStorage``, ``status``,
``query``, and through them ``replay`` and ``plot``) skip such a file with one warning naming it
(once per file and process, however often it is read), and remember it in a :class:`DamageLog`
so ``status`` can list it. Compaction keeps it where it is (it never deletes what it could not
read back). ``kalshi-collector quarantine --apply`` (:mod:`kalshi_collector.storage.quarantine`)
moves such files under ``DATA/_damaged/`` so they stop being looked at.

A missing file (``FileNotFoundError``) is not damage: a compaction deleted parts after they were
listed, and the readers list the day again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import PurePath
from typing import ClassVar

import pyarrow as pa

__all__ = ["DAMAGE_ERRORS", "DamageLog", "DamagedFile", "describe_damage", "is_damage"]

log = logging.getLogger(__name__)

DAMAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, pa.ArrowException, ValueError, EOFError)
"""What opening or decoding a damaged parquet file raises (ArrowInvalid is a ValueError; a bad
footer list of merged parts is a JSON ValueError; an I/O error an OSError)."""

_QUARANTINE_HINT = "`kalshi-collector quarantine --apply` moves damaged files aside"


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` says the file is damaged (rather than gone: a compaction deleted it)."""
    return isinstance(exc, DAMAGE_ERRORS) and not isinstance(exc, FileNotFoundError)


def describe_damage(exc: BaseException) -> str:
    """The error as one short line: ``ArrowInvalid: Parquet magic bytes not found ...``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


@dataclass(frozen=True)
class DamagedFile:
    path: str
    reason: str


class DamageLog:
    """The damaged files one reader met. The warning is given once per path per process."""

    _warned: ClassVar[set[str]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.files: dict[str, DamagedFile] = {}

    def record(self, path: PurePath | str, exc: BaseException, *, action: str = "skipped") -> DamagedFile:
        """Remember ``path`` as damaged and warn about it (once): what it is, what was done."""
        key = str(path)
        found = self.files.get(key) or DamagedFile(key, describe_damage(exc))
        self.files[key] = found
        with self._lock:
            first = key not in self._warned
            self._warned.add(key)
        if first:
            log.warning("damaged file %s %s (%s); %s", key, action, found.reason, _QUARANTINE_HINT)
        return found

    def sorted(self) -> list[DamagedFile]:
        return [self.files[key] for key in sorted(self.files)]
