"""The shared HTTP stack, through its two users: the Kalshi REST client and the weather client."""

from __future__ import annotations

import logging
import time

import pytest
from aiohttp import web

from kalshi_collector.httpclient import HttpStats
from kalshi_collector.kalshi.models import ExchangeStatus
from kalshi_collector.kalshi.rest import KalshiRestClient, NotFound
from kalshi_collector.weather.http import IEM, HostPolicy, HttpOptions, NetworkError, WeatherHttp

Body = tuple[str, str, int, bytes]


async def test_on_body_sees_every_rest_body_with_source_path_and_status(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/exchange/status"):
            return web.json_response({"exchange_active": True, "trading_active": True})
        return web.json_response({"error": {"code": "not_found", "message": "market not found"}}, status=404)

    base = await serve(handler) + "/trade-api/v2"
    seen: list[Body] = []
    async with KalshiRestClient(base, requests_per_second=0,
                                on_body=lambda *a: seen.append(a)) as c:
        await c.get("/exchange/status", {"limit": 5}, into=ExchangeStatus)
        with pytest.raises(NotFound):
            await c.get_market("NOPE")
    assert [(s, p, st) for s, p, st, _ in seen] == [
        ("kalshi", "/trade-api/v2/exchange/status?limit=5", 200),
        ("kalshi", "/trade-api/v2/markets/NOPE", 404),
    ]
    assert seen[0][3] == b'{"exchange_active": true, "trading_active": true}'
    assert b"market not found" in seen[1][3]


async def test_on_body_off_by_default_and_settable(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": False})

    base = await serve(handler)
    async with KalshiRestClient(base, requests_per_second=0) as c:
        assert c.on_body is None
        await c.exchange_status()
        seen: list[Body] = []
        c.on_body = lambda *a: seen.append(a)
        await c.exchange_status()
    assert len(seen) == 1 and seen[0][:3] == ("kalshi", "/exchange/status", 200)


async def test_weather_on_body_names_the_service(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="station,valid\n")

    base = await serve(handler)
    seen: list[Body] = []
    options = HttpOptions(policies={IEM: HostPolicy(0.0, 1)})
    async with WeatherHttp(options, on_body=lambda *a: seen.append(a)) as http:
        await http.get(IEM, base + "/cgi-bin/request/asos1min.py", {"station": "MDW"})
    assert seen == [("iem", "/cgi-bin/request/asos1min.py?station=MDW", 200, b"station,valid\n")]


async def test_a_transient_failure_is_one_warning_at_the_first_attempt(serve, caplog) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        if calls <= 3:
            return web.Response(status=503, text="upstream")
        return web.json_response({"exchange_active": True, "trading_active": True})

    base = await serve(handler)
    with caplog.at_level(logging.DEBUG, logger="kalshi_collector"):
        async with KalshiRestClient(base, requests_per_second=0, max_backoff=0.02) as c:
            await c.exchange_status()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("kalshi: HTTP 503: upstream (http://127.0.0.1:")
    assert "/exchange/status); will retry in 0.0 s" in warnings[0]
    assert c.stats == HttpStats(requests=4, retries=3, http_5xx=3)


async def test_weather_request_has_a_total_time_limit_against_a_server_that_never_answers(silent_server) -> None:
    # Per attempt the client would wait 5 s, with 4 attempts; the total limit of 0.5 s wins.
    options = HttpOptions(timeout_seconds=5, attempts=4, backoff_initial_seconds=0.01, total_seconds=0.5,
                          policies={IEM: HostPolicy(0.0, 1)})
    started = time.monotonic()
    async with WeatherHttp(options) as http:
        with pytest.raises(NetworkError, match=r"no answer within 0\.5s"):
            await http.get(IEM, silent_server + "/cgi-bin/request/asos1min.py")
        assert http.stats.timeouts == 1 and http.stats.requests == 1
    assert time.monotonic() - started < 2.0


async def test_a_burst_of_429s_over_many_requests_is_one_warning(serve, caplog) -> None:
    refused: set[str] = set()

    async def handler(request: web.Request) -> web.Response:
        if request.path not in refused:  # every path is refused once, then answered
            refused.add(request.path)
            return web.json_response({"error": "too many requests"}, status=429)
        return web.json_response({"exchange_active": True, "trading_active": True})

    base = await serve(handler)
    with caplog.at_level(logging.DEBUG, logger="kalshi_collector"):
        async with KalshiRestClient(base, requests_per_second=0, max_backoff=0.02) as c:
            for i in range(20):
                await c.get(f"/e{i}", None, into=ExchangeStatus)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "HTTP 429: too many requests" in warnings[0], warnings
    assert c.stats.http_429 == 20 and c.stats.retries == 20


async def test_a_station_day_against_a_silent_server_fails_within_the_total_limit(silent_server, tmp_path) -> None:
    """The whole weather run (every source of one station-day) against servers that accept and never
    answer: each request costs at most ``total_seconds``, and the day is reported failed."""
    from datetime import UTC, date, datetime

    from kalshi_collector.weather.observations import collect_weather
    from kalshi_collector.weather.sources import SOURCES
    from kalshi_collector.weather.stations import resolve_station

    options = HttpOptions(timeout_seconds=30, attempts=4, backoff_initial_seconds=0.01, total_seconds=0.5,
                          policies={IEM: HostPolicy(0.0, 4), "awc": HostPolicy(0.0, 4)})
    started = time.monotonic()
    run = await collect_weather([(resolve_station("KMDW"), date(2026, 2, 11))], list(SOURCES), data_dir=tmp_path,
                                iem_url=silent_server, awc_url=silent_server, options=options,
                                now=lambda: datetime(2026, 2, 12, 12, tzinfo=UTC))
    assert {f.source for f in run.failures} == set(SOURCES)
    assert all("no answer within 0.5s" in str(f) for f in run.failures), run.failures
    assert time.monotonic() - started < 5.0


async def test_waiting_in_line_behind_other_requests_does_not_count_against_the_limit(serve) -> None:
    """IEM is asked one request at a time: the fifth request waits for four others, longer than its
    own total limit, and still gets its full time once it is sent."""
    import asyncio

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(0.25)
        return web.Response(text="ok\n")

    base = await serve(handler)
    options = HttpOptions(timeout_seconds=5, attempts=1, total_seconds=0.6, policies={IEM: HostPolicy(0.0, 1)})
    async with WeatherHttp(options) as http:
        started = time.monotonic()
        replies = await asyncio.gather(*(http.get(IEM, f"{base}/r{i}") for i in range(5)))
    assert [r.text for r in replies] == ["ok\n"] * 5
    assert time.monotonic() - started > 1.2  # serial: they did wait in line
