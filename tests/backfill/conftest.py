"""The simulator fixture of the backfill tests (helpers live in bf_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bf_helpers import sim_config

from kalshi_collector.sim import SimExchange


@pytest.fixture()
async def sim() -> AsyncIterator[SimExchange]:
    async with SimExchange(sim_config()) as s:
        yield s
