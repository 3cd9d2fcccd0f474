"""Opening a data folder for the commands that read one (``status``, ``query``, ``plot``).

They all take ``--data-dir`` (a folder or an object-store URL), or else read
``storage.data_dir`` from ``--config``; a folder that does not exist is a clear error rather than
an empty report.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from kalshi_collector.config import Config, load_config
from kalshi_collector.errors import UsageError
from kalshi_collector.storage import ParquetStorage
from kalshi_collector.storage.fs import is_object_store_url

__all__ = ["DataFolder", "add_data_dir_argument", "open_data", "open_storage"]


@dataclass(frozen=True)
class DataFolder:
    """The storage to read, the config (if one is at hand) and the resolved path of that config."""

    storage: ParquetStorage
    config: Config | None
    config_path: str | None


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR_OR_URL",
        help="data folder or object-store URL (s3://bucket/prefix); default: storage.data_dir of --config",
    )


def open_data(args: argparse.Namespace) -> DataFolder:
    """The data folder the command line names.

    ``--data-dir`` works without a config; otherwise the config is required and names the folder.
    """
    config: Config | None = None
    config_path: str | None = None
    data_dir = getattr(args, "data_dir", None)
    if data_dir is None or Path(args.config).expanduser().exists():
        config = load_config(args.config)
        config_path = str(Path(args.config).expanduser().resolve())
    data_dir = data_dir or (config.storage.data_dir if config else None)
    assert data_dir is not None
    return DataFolder(open_storage(data_dir), config, config_path)


def open_storage(data_dir: str) -> ParquetStorage:
    """The storage of a folder or object-store URL; a local folder that does not exist is an error."""
    if not is_object_store_url(data_dir) and not Path(data_dir).is_dir():
        raise UsageError(f"data folder {data_dir} does not exist (nothing collected yet, or a wrong --data-dir)")
    return ParquetStorage(data_dir)
