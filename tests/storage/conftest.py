"""Fixtures of the storage tests; the row factories live in ``storage_helpers``."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
