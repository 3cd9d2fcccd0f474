"""Opening a data folder from the command line: ``--data-dir`` alone, or the config's folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kalshi_collector.datafolder import add_data_dir_argument, open_data
from kalshi_collector.errors import UsageError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="missing.yaml")
    add_data_dir_argument(parser)
    return parser.parse_args(list(argv))


def test_data_dir_without_a_config(tmp_path: Path) -> None:
    folder = open_data(_args("--data-dir", str(tmp_path), "--config", str(tmp_path / "none.yaml")))
    assert folder.config is None and folder.config_path is None
    assert Path(folder.storage.root) == tmp_path


def test_the_config_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"kalshi: {{}}\nstorage:\n  data_dir: {tmp_path / 'data'}\n")
    folder = open_data(_args("--config", str(config)))
    assert folder.config is not None and folder.config_path == str(config.resolve())
    assert Path(folder.storage.root) == tmp_path / "data"


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="data folder .*nope does not exist"):
        open_data(_args("--data-dir", str(tmp_path / "nope"), "--config", str(tmp_path / "none.yaml")))
