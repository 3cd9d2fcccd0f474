"""``kalshi-collector migrate OLD_DIR [--data-dir NEW]``: bring the original collector's files into ours.

Why a migration and not reading the original's files in place: their layout (one file per
station and UTC date), names and types differ from every dataset here, so reading them in place
would put a second schema into the reader, ``query``, ``status`` and the settlement view, for
good. Converted once, they are ordinary rows of our tables, deduplicated against what the
collector fetches itself; the originals are only read, and running again changes nothing.

``NEW`` defaults to the config's ``storage.data_dir``. Exit 0 when everything found was
migrated (or was already), 1 when some file could not be (each named on its own line), 2 for a
usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kalshi_collector.config import load_config
from kalshi_collector.errors import UsageError
from kalshi_collector.migrate.registry import MIGRATORS, run_migrators

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old_dir", metavar="OLD_DIR", type=Path,
                        help="the original collector's data folder (the one holding weather_obs/)")
    parser.add_argument("--data-dir", metavar="NEW",
                        help="our data folder or object-store URL (default: storage.data_dir of --config)")
    parser.add_argument("--only", nargs="+", choices=list(MIGRATORS), metavar="KIND",
                        help=f"run only these migrators: {', '.join(MIGRATORS)} (default: all)")


def run(args: argparse.Namespace) -> int:
    old_dir: Path = args.old_dir.expanduser()
    if not old_dir.is_dir():
        raise UsageError(f"{old_dir} is not a folder (give the original collector's data folder)")
    data_dir = args.data_dir or load_config(args.config).storage.data_dir
    reports = run_migrators(old_dir, data_dir, args.only)
    for report in reports:
        for line in report.lines():
            print(line)
    return 0 if all(r.ok for r in reports) else 1
