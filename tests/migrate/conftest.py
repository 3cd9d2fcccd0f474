"""Fixtures for the migration tests: the weather reference payloads and the weather replay server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The weather replay server lives with the weather tests; the migration is checked against it too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "weather"))

from weather_replay import ReplayServer, serve_reference_fixtures  # noqa: E402


@pytest.fixture(scope="session")
def weather_fixtures(reference_dir: Path) -> Path:
    return reference_dir / "weather" / "fixtures"


@pytest.fixture()
def replay(weather_fixtures: Path) -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    serve_reference_fixtures(server, weather_fixtures)
    try:
        yield server
    finally:
        server.stop()
