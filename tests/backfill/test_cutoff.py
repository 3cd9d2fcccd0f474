"""The historical cutoff: one request however many ask, and no split on an exchange without one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from bf_helpers import RecordingClient, client

from kalshi_collector.backfill.cutoff import Cutoff, HistoricalCutoff
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.sim import SimExchange


async def test_concurrent_callers_share_one_request(sim: SimExchange) -> None:
    async with client(sim, RecordingClient) as c:
        cutoff = HistoricalCutoff(c)
        got = await asyncio.gather(*(cutoff.get() for _ in range(8)))
    want = int(sim.cutoff.timestamp())
    assert got == [Cutoff(want, want)] * 8
    assert [path for path, _ in c.calls] == ["/historical/cutoff"]


@pytest.fixture()
async def no_archive() -> AsyncIterator[str]:
    """An exchange that has no ``/historical`` tier: every path is a 404."""
    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "not_found", "message": "not found"}}, status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", not_found)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/trade-api/v2"
    await runner.cleanup()


async def test_an_exchange_without_the_endpoint_has_no_split(no_archive: str) -> None:
    async with KalshiRestClient(no_archive, requests_per_second=0, max_retries=0) as c:
        assert await HistoricalCutoff(c).get() == Cutoff(None, None)
