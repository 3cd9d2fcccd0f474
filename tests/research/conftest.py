from __future__ import annotations

from pathlib import Path

import pytest

from tests.research import original_sample, sample


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample folder of ``tests/research/sample.py``; read only (shared by the tests)."""
    return sample.build(tmp_path_factory.mktemp("research") / "data")


@pytest.fixture
def original(tmp_path: Path) -> Path:
    """A folder of the original collector's order-book files (tests/research/original_sample.py)."""
    return original_sample.build(tmp_path)
