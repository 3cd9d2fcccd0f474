"""The migrators: one per kind of the original collector's files, declared once.

A migrator is a module with ``migrate(old_dir: Path, data_dir: str | Path) -> MigrationReport``
that reads the original's files under ``old_dir`` (never changing or deleting them) and merges
them into our datasets under ``data_dir``, idempotently (running it again adds nothing). Modules
are imported only when run, like the CLI's commands. Adding one (the original's order books,
markets, ...) is one entry below; ``kalshi-collector migrate`` runs them all in this order, or
those named with ``--only``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from kalshi_collector.migrate.report import MigrationReport

__all__ = ["MIGRATORS", "run_migrators"]

MIGRATORS: dict[str, tuple[str, str]] = {
    "weather": (
        "kalshi_collector.migrate.weather",
        "weather_obs/<source>/<ICAO>_<date>.parquet -> weather/<source>/<climate date>.parquet",
    ),
}
"""name -> (module, what it converts)."""


def run_migrators(old_dir: Path, data_dir: str | Path, names: Sequence[str] | None = None) -> list[MigrationReport]:
    """Run the named migrators (all by default), in registry order; one report each."""
    unknown = [n for n in names or () if n not in MIGRATORS]
    if unknown:
        raise ValueError(f"unknown migrator(s) {unknown}; expected some of {list(MIGRATORS)}")
    reports = []
    for name, (module_path, _) in MIGRATORS.items():
        if names and name not in names:
            continue
        reports.append(importlib.import_module(module_path).migrate(old_dir, data_dir))
    return reports
