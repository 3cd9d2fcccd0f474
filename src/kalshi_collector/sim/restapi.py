"""The REST side of the simulator: Kalshi's market-data endpoints under ``/trade-api/v2``.

Handlers read the model and answer with the documented shapes (``wire.py``); query parameters
are validated like Kalshi does (bad values -> 400 with an error body). They come in route groups
sharing the model: reference data (:mod:`.restmarkets`), candlesticks and trades
(:mod:`.restdata`), the archive listing (:mod:`.resthistorical`). This module holds the route
table and what every request meets before its handler, in this order: authentication (bad
signature -> 401), rate limit (429), injected faults, then the handler. The account's own
endpoints (:data:`PRIVATE`: ``GET /portfolio/balance``, what a client calls to learn whether its
key is accepted) need a valid signature even when the public ones do not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kalshi_collector.sim.auth import KeyRegistry
from kalshi_collector.sim.faults import RestFaults
from kalshi_collector.sim.model import ExchangeModel
from kalshi_collector.sim.ratelimit import RateLimiter
from kalshi_collector.sim.restbase import BadRequest, Handler, NotFound, json_response
from kalshi_collector.sim.restdata import MAX_CANDLES_BATCH, MAX_CANDLES_PER_MARKET, MarketDataRoutes
from kalshi_collector.sim.resthistorical import HistoricalRoutes
from kalshi_collector.sim.restmarkets import MarketRoutes
from kalshi_collector.sim.variance import vary_market_items
from kalshi_collector.sim.wire import error_body

__all__ = ["RestApi", "BASE", "WS_PATH", "MAX_CANDLES_PER_MARKET", "MAX_CANDLES_BATCH", "json_response"]

BASE = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
PRIVATE = frozenset({BASE + "/portfolio/balance"})


class RestApi:
    """The route table over the route groups, behind auth, rate limit and faults; ``now_ms`` and
    the model come from the exchange object."""

    def __init__(self, model: ExchangeModel, now_ms: Callable[[], int], keys: KeyRegistry, require_auth: bool,
                 limiter: RateLimiter | None, faults: RestFaults, log_fault: Callable[..., None],
                 monotonic: Callable[[], float], wall_ms: Callable[[], int]) -> None:
        self.wall_ms = wall_ms  # signatures are checked against real time, whatever the sim clock says
        self.now_ms = now_ms
        self.keys = keys
        self.require_auth = require_auth
        self.limiter = limiter
        self.faults = faults
        self.log_fault = log_fault
        self.monotonic = monotonic
        self.requests_served = 0
        every = faults.plan.variance_every
        self._varied_items = [0]
        self.markets = MarketRoutes(model, now_ms, self._vary if every else None)
        self.data = MarketDataRoutes(model, now_ms)
        self.historical = HistoricalRoutes(model, now_ms)

    def _vary(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        every = self.faults.plan.variance_every
        assert every is not None
        before = self._varied_items[0]
        out = vary_market_items(items, every, self._varied_items)
        if len(out) > len(items):
            self.log_fault("rest_variance", None, None, None, None, None,
                           f"{self._varied_items[0] // every - before // every} item(s) varied, one undecodable added")
        return out

    def routes(self) -> list[tuple[str, Handler]]:
        """Every path under :data:`BASE`, in the order aiohttp matches them."""
        m, d, h = self.markets, self.data, self.historical
        return [
            ("/exchange/status", m.exchange_status),
            ("/series", m.series_list),
            ("/series/{series_ticker}", m.series_one),
            ("/series/{series_ticker}/markets/{ticker}/candlesticks", d.market_candlesticks),
            ("/series/{series_ticker}/events/{ticker}/candlesticks", d.event_candlesticks),
            ("/events", m.events),
            ("/events/{event_ticker}", m.event_one),
            ("/markets", m.markets),
            ("/markets/trades", d.trades),
            ("/markets/candlesticks", d.batch_candlesticks),
            ("/markets/orderbooks", m.orderbooks),
            ("/markets/{ticker}", m.market_one),
            ("/markets/{ticker}/orderbook", m.orderbook),
            ("/historical/cutoff", h.historical_cutoff),
            ("/historical/markets", h.historical_markets),
            ("/historical/markets/{ticker}", h.historical_market_one),
            ("/historical/markets/{ticker}/candlesticks", d.historical_candlesticks),
            ("/historical/trades", d.historical_trades),
            ("/portfolio/balance", self.balance),
        ]

    def add_routes(self, app: web.Application) -> None:
        for path, handler in self.routes():
            app.router.add_get(BASE + path, self._wrap(handler), allow_head=False)

    # -- middleware-ish wrapper ---------------------------------------------------------------------
    def caller(self, request: web.Request) -> tuple[web.Response | None, str]:
        """Authenticate; returns (error response or None, rate-limit key)."""
        result = self.keys.check(request.headers, request.method, request.path, self.wall_ms())
        if result.signed and not result.ok:
            return json_response(error_body("unauthorized", result.reason), 401), ""
        if not result.signed and (self.require_auth or request.path in PRIVATE):
            return json_response(error_body("unauthorized", "authentication required"), 401), ""
        return None, result.key_id or (request.remote or "unknown")

    async def balance(self, request: web.Request) -> web.Response:
        """GetBalanceResponse: cents, integers; the simulated account holds nothing."""
        return json_response({"balance": 0, "portfolio_value": 0, "updated_ts": self.wall_ms() // 1000})

    def _wrap(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            refused, who = self.caller(request)
            if refused is not None:
                return refused
            if self.limiter is not None and not self.limiter.allow(who, self.monotonic()):
                return json_response({"error": "too many requests"}, 429)
            fault = self.faults.decide()
            truncate = False
            if fault is not None:
                kind, options = fault
                self.log_fault(kind, None, None, None, None, self.now_ms(), path=request.path)
                if kind == "429":
                    return json_response({"error": "too many requests"}, 429)
                if kind == "5xx":
                    return self._server_error()
                if kind == "slow":
                    await asyncio.sleep(float(options.get("seconds", self.faults.plan.rest_slow_seconds)))
                truncate = kind == "truncate"
            try:
                response = await handler(request)
            except BadRequest as exc:
                return json_response(error_body("bad_request", str(exc)), 400)
            except NotFound as exc:
                return json_response(error_body("not_found", str(exc) or "not found"), 404)
            self.requests_served += 1
            if truncate and isinstance(response, web.Response) and response.body is not None:
                body = bytes(response.body)  # type: ignore[arg-type]
                return web.Response(body=body[: max(1, len(body) // 2)], status=200, content_type="application/json")
            return response

        return wrapped

    _error_turn = 0

    def _server_error(self) -> web.Response:
        """Rotate 500 (JSON), 502 (an HTML proxy page) and 503 (JSON): clients must cope with all."""
        turn = self._error_turn % 3
        self._error_turn += 1
        if turn == 1:
            return web.Response(text="<html><body><h1>502 Bad Gateway</h1></body></html>", status=502,
                                content_type="text/html")
        status = 500 if turn == 0 else 503
        return json_response(error_body("internal_server_error" if status == 500 else "service_unavailable",
                                        "internal server error" if status == 500 else "service unavailable"), status)
