"""Fixtures for the weather tests: the reference payloads, a replay server, fast HTTP settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from weather_replay import FAST, ReplayServer, serve_reference_fixtures

from kalshi_collector.weather.http import HttpOptions


@pytest.fixture(scope="session")
def weather_fixtures(reference_dir: Path) -> Path:
    return reference_dir / "weather" / "fixtures"


@pytest.fixture()
def replay(weather_fixtures: Path, kalshi_fixtures: Path) -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    serve_reference_fixtures(server, weather_fixtures, kalshi_fixtures)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def fast() -> HttpOptions:
    return FAST


@pytest.fixture()
def config_file(tmp_path: Path, replay: ReplayServer) -> Path:
    """A config whose every base URL is the replay server, data under tmp_path/data."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "kalshi:\n"
        f"  base_url: {replay.url}/trade-api/v2\n"
        "  max_retries: 0\n"
        "  request_timeout_seconds: 2\n"
        "event_series: [KXHIGHCHI]\n"
        "storage:\n"
        "  data_dir: data\n"
        "weather:\n"
        f"  iem_url: {replay.url}\n"
        f"  awc_url: {replay.url}\n"
    )
    return path
