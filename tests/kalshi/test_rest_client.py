"""The REST client against a local HTTP server that serves the reference fixtures verbatim.

This proves the client reads the real wire shapes (not just our simulator's), and exercises
retry / no-retry behaviour and signing with a server that misbehaves on purpose.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient, NotFound

ROUTES = {
    "/trade-api/v2/events/KXHIGHCHI-26FEB11": "rest_get_event_with_nested_markets.json",
    "/trade-api/v2/events/KXHIGHCHI-26FEB11-FLAT": "rest_get_event.json",
    "/trade-api/v2/markets/KXHIGHCHI-26FEB11-B34.5": "rest_get_market.json",
    "/trade-api/v2/markets": "rest_get_markets.json",
    "/trade-api/v2/markets/KXHIGHCHI-26FEB11-B34.5/orderbook": "rest_get_market_orderbook.json",
    "/trade-api/v2/markets/EMPTY/orderbook": "rest_get_market_orderbook_empty.json",
    "/trade-api/v2/markets/orderbooks": "rest_get_market_orderbooks.json",
    "/trade-api/v2/series/KXHIGHCHI/markets/KXHIGHCHI-26FEB11-B34.5/candlesticks": "rest_get_market_candlesticks.json",
    "/trade-api/v2/markets/candlesticks": "rest_batch_get_market_candlesticks.json",
    "/trade-api/v2/series/KXHIGHCHI/events/KXHIGHCHI-26FEB11/candlesticks": "rest_get_event_candlesticks.json",
    "/trade-api/v2/historical/cutoff": "rest_get_historical_cutoff.json",
    "/trade-api/v2/historical/markets": "rest_get_historical_markets.json",
    "/trade-api/v2/historical/markets/KXHIGHCHI-25OCT14-B66.5": "rest_get_historical_market.json",
    "/trade-api/v2/historical/markets/KXHIGHCHI-25OCT14-B66.5/candlesticks": "rest_get_historical_market_candlesticks.json",
    "/trade-api/v2/historical/trades": "rest_get_historical_trades.json",
    "/trade-api/v2/series/KXHIGHCHI": "rest_get_series.json",
    "/trade-api/v2/exchange/status": "rest_get_exchange_status.json",
}


@pytest.fixture()
async def fixture_server(kalshi_fixtures: Path, aiohttp_server_factory) -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        path = request.path
        if path == "/trade-api/v2/events":
            name = "rest_get_events_last_page.json" if request.query.get("cursor") else "rest_get_events.json"
        elif path == "/trade-api/v2/markets/trades":
            name = "rest_get_trades.json" if not request.query.get("cursor") else None
            if name is None:
                return web.json_response({"trades": [], "cursor": ""})
        else:
            name = ROUTES.get(path)
        if name is None:
            return web.Response(status=404, body=(kalshi_fixtures / "rest_error_404.json").read_bytes(),
                                content_type="application/json")
        return web.Response(body=(kalshi_fixtures / name).read_bytes(), content_type="application/json")

    yield await aiohttp_server_factory(handler)


@pytest.fixture()
async def aiohttp_server_factory() -> AsyncIterator[Callable]:
    runners: list[web.AppRunner] = []

    async def make(handler) -> str:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/trade-api/v2"

    yield make
    for r in runners:
        await r.cleanup()


async def test_client_parses_every_rest_fixture(fixture_server: str) -> None:
    async with KalshiRestClient(fixture_server, requests_per_second=0) as c:
        ev = await c.get_event("KXHIGHCHI-26FEB11")
        assert ev.event_ticker == "KXHIGHCHI-26FEB11" and len(ev.markets) == 6
        b345 = next(x for x in ev.markets if x.ticker == "KXHIGHCHI-26FEB11-B34.5")
        assert (b345.strike_type, b345.floor_strike, b345.cap_strike) == ("between", 34, 35)
        flat = await c.get_event("KXHIGHCHI-26FEB11-FLAT", with_nested_markets=False)
        assert flat.markets, "top-level markets must be used when the event has none nested"
        mk = await c.get_market("KXHIGHCHI-26FEB11-B34.5")
        assert mk.yes_bid == 31 and mk.yes_ask == 33 and isinstance(mk.volume, float)
        markets = await c.list_markets(event_ticker="KXHIGHCHI-26FEB11")
        assert markets and all(x.event_ticker for x in markets)
        events = await c.list_events(series_ticker="KXHIGHCHI")
        assert len(events) >= 2  # two pages: first page cursor, then the last page
        ob = await c.get_orderbook("KXHIGHCHI-26FEB11-B34.5")
        assert ob.yes[-1] == (31.0, 145.0) and ob.no[0] == (60.0, 800.0)
        empty = await c.get_orderbook("EMPTY")
        assert empty.yes == () and empty.no == ()
        obs = await c.get_orderbooks(["KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11-T30"])
        assert obs
        candles = await c.get_market_candlesticks("KXHIGHCHI", "KXHIGHCHI-26FEB11-B34.5", start_ts=0, end_ts=2, period_interval=60)
        assert candles and any(cd.close_price is None for cd in candles) or all(cd.yes_bid_close is not None for cd in candles)
        batch = await c.batch_candlesticks(["KXHIGHCHI-26FEB11-B34.5"], start_ts=0, end_ts=1, period_interval=60)
        assert batch
        by_event = await c.event_candlesticks("KXHIGHCHI", "KXHIGHCHI-26FEB11", start_ts=0, end_ts=1, period_interval=60)
        assert by_event
        pages = [p async for p in c.iter_trades(ticker="KXHIGHCHI-26FEB11-B34.5")]
        trades = [t for p in pages for t in p.items]
        assert trades[0].yes_price == 33 and trades[0].no_price == 67 and trades[0].count == 25
        assert trades[0].taker_side == "yes" and trades[0].created_time.tzinfo is not None
        hist_pages = [p async for p in c.iter_trades(historical=True)]
        assert hist_pages[0].items
        cutoff = await c.historical_cutoff()
        assert cutoff.market_settled_ts.year == 2025
        hm = await c.get_historical_market("KXHIGHCHI-25OCT14-B66.5")
        assert hm.status == "finalized" or hm.result in ("yes", "no")
        hms = [x async for p in c.iter_historical_markets(event_ticker="KXHIGHCHI-25OCT14") for x in p]
        assert hms
        hc = await c.historical_candlesticks("KXHIGHCHI-25OCT14-B66.5", start_ts=0, end_ts=1, period_interval=1440)
        assert hc[0].close_price is None and hc[0].yes_bid_open == 4 and hc[1].close_price == 1 and hc[1].volume == 21877
        series = await c.get_series("KXHIGHCHI")
        assert series.ticker == "KXHIGHCHI"
        status = await c.exchange_status()
        assert isinstance(status.exchange_active, bool)
        with pytest.raises(NotFound):
            await c.get_market("NOPE")


async def test_retries_transient_failures_but_not_client_errors(aiohttp_server_factory) -> None:
    calls: dict[str, int] = {}

    async def handler(request: web.Request) -> web.Response:
        key = request.path.rsplit("/", 1)[-1]
        calls[key] = calls.get(key, 0) + 1
        n = calls[key]
        ok = web.json_response({"exchange_active": True, "trading_active": True})
        if key == "flaky429":
            return ok if n > 3 else web.json_response({"error": "too many requests"}, status=429)
        if key == "flaky500":
            return ok if n > 2 else web.Response(status=503, text="upstream")
        if key == "truncated":
            return ok if n > 1 else web.Response(body=b'{"exchange_active": tr', content_type="application/json")
        if key == "bad":
            return web.json_response({"error": {"code": "bad_request", "message": "bad limit"}}, status=400)
        return web.Response(status=500)

    url = await aiohttp_server_factory(handler)
    async with KalshiRestClient(url, requests_per_second=0, max_backoff=0.05, max_retries=4) as c:
        from kalshi_collector.kalshi.models import ExchangeStatus

        for path in ("/flaky429", "/flaky500", "/truncated"):
            r = await c.get(path, None, into=ExchangeStatus)
            assert r.exchange_active
        with pytest.raises(ApiError, match="bad limit"):
            await c.get("/bad", None, into=ExchangeStatus)
        assert calls["bad"] == 1, "a 400 must not be retried"
        with pytest.raises(ApiError, match="gave up"):
            await c.get("/always500", None, into=ExchangeStatus)
        assert calls["always500"] == 5
        assert c.stats.http_429 == 3 and c.stats.retries >= 3 + 2 + 1


async def test_signed_requests_verify_with_the_public_key(aiohttp_server_factory, rsa_key) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        h = request.headers
        msg = (h["KALSHI-ACCESS-TIMESTAMP"] + request.method + request.path).encode()
        rsa_key.public_key().verify(
            base64.b64decode(h["KALSHI-ACCESS-SIGNATURE"]),
            msg,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
        seen.append(request.path_qs)
        return web.json_response({"exchange_active": True, "trading_active": False})

    url = await aiohttp_server_factory(handler)
    signer = KalshiSigner("key-1", rsa_key)
    async with KalshiRestClient(url, signer=signer, requests_per_second=0) as c:
        from kalshi_collector.kalshi.models import ExchangeStatus

        await c.get("/markets", {"limit": 5}, into=ExchangeStatus)
    assert seen == ["/trade-api/v2/markets?limit=5"]


async def test_secrets_never_reach_the_log(aiohttp_server_factory, rsa_key, caplog) -> None:
    """Key, signature and auth headers stay out of every log line, even at DEBUG."""
    import logging

    from cryptography.hazmat.primitives import serialization

    sent: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        sent.append(request.headers["KALSHI-ACCESS-SIGNATURE"])
        return web.json_response({"error": "too many requests"}, status=429)

    url = await aiohttp_server_factory(handler)
    with caplog.at_level(logging.DEBUG):
        async with KalshiRestClient(url, signer=KalshiSigner("key-1", rsa_key), requests_per_second=0,
                                    max_retries=1, max_backoff=0.01) as c:
            from kalshi_collector.kalshi.models import ExchangeStatus

            with pytest.raises(ApiError):
                await c.get("/exchange/status", None, into=ExchangeStatus)
        logging.getLogger("kalshi_collector").debug("signer in use: %r", c.signer)
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    text = caplog.text
    assert sent and not any(sig in text for sig in sent)
    assert pem.splitlines()[1] not in text and "KALSHI-ACCESS-SIGNATURE" not in text


async def test_trade_columns_read_an_odd_page_at_once_and_retry_a_cut_off_one(aiohttp_server_factory) -> None:
    """An undocumented side value and a number for a price are read on the first answer (no retry,
    no lost page); a body cut short is still a bad body, retried until it comes whole."""
    trade = {"trade_id": "t1", "ticker": "M", "count_fp": "2.00", "yes_price_dollars": 0.33,
             "created_time": "2026-02-11T18:29:41Z", "taker_outcome_side": "yes", "taker_book_side": "cross"}
    whole = json.dumps({"trades": [trade], "cursor": ""}).encode()
    answers = [whole[:-7], whole]

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=answers.pop(0) if answers else whole, content_type="application/json")

    url = await aiohttp_server_factory(handler)
    async with KalshiRestClient(url, requests_per_second=0, max_backoff=0.01) as c:
        pages = [p async for p in c.iter_trade_columns(ticker="M")]
        assert c.stats.bad_bodies == 1 and c.stats.requests == 2
        pages += [p async for p in c.iter_trade_columns(ticker="M")]
        assert c.stats.requests == 3
    for cols in pages:
        assert cols.yes_price.to_pylist() == [33.0] and cols.no_price.to_pylist() == [67.0]
        assert cols.taker_book_side.to_pylist() == ["cross"] and cols.count.to_pylist() == [2.0]
