"""``kalshi-collector quarantine [--apply]``: list the data files that cannot be read; move them aside.

Without ``--apply`` it only reads (every file in full, checking page checksums) and lists what is
damaged, exit status 1 if anything is; with ``--apply`` it moves each to ``DATA/_damaged/`` keeping
its relative path (:mod:`kalshi_collector.storage.quarantine`) and exits 0. Stop nothing first: the
collector never writes into an existing part or day file, and readers skip damaged files anyway.
"""

from __future__ import annotations

import argparse

from kalshi_collector.datafolder import add_data_dir_argument, open_data
from kalshi_collector.storage.quarantine import DAMAGED_FOLDER, find_damaged, move_aside

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_dir_argument(parser)
    parser.add_argument("--apply", action="store_true",
                        help=f"move the damaged files to {DAMAGED_FOLDER}/ (default: only list them)")


def run(args: argparse.Namespace) -> int:
    storage = open_data(args).storage
    damaged = find_damaged(storage)
    if not damaged:
        print(f"no damaged files in {storage.fs.url(storage.root)}")
        return 0
    if not args.apply:
        for d in damaged:
            print(f"damaged: {d.path}  ({d.reason})")
        print(f"{len(damaged)} damaged file(s); run again with --apply to move them to "
              f"{storage.fs.url(storage.root / DAMAGED_FOLDER)}")
        return 1
    for moved in move_aside(storage, damaged):
        print(f"moved: {moved.source} -> {moved.target}")
    print(f"{len(damaged)} damaged file(s) moved aside; readers no longer see them")
    return 0
