"""The REST side of the simulator: Kalshi's market-data endpoints under ``/trade-api/v2``.

Handlers read the model and answer with the documented shapes (``wire.py``); query parameters
are validated like Kalshi does (bad values -> 400 with an error body). Middlewares, in the order
a request meets them: authentication (bad signature -> 401), rate limit (429), injected faults,
then the handler.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from kalshi_collector.sim.auth import KeyRegistry
from kalshi_collector.sim.candles import VALID_PERIODS, CandleRangeError, market_candles
from kalshi_collector.sim.faults import RestFaults
from kalshi_collector.sim.model import ExchangeModel, Market
from kalshi_collector.sim.ratelimit import RateLimiter
from kalshi_collector.sim.wire import (
    STATUS_FILTERS,
    error_body,
    event_json,
    market_json,
    orderbook_json,
    series_json,
    trade_json,
)
from kalshi_collector.sim.wirefmt import iso_seconds

__all__ = ["RestApi", "BASE", "WS_PATH", "MAX_CANDLES_PER_MARKET", "MAX_CANDLES_BATCH"]

BASE = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
MAX_CANDLES_PER_MARKET = 5000  # 3P-observed cap on the single-market endpoint (API.md 5.7)
MAX_CANDLES_BATCH = 10_000  # documented cap of GET /markets/candlesticks
MAX_BATCH_TICKERS = 100
_encode = msgspec.json.Encoder().encode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """A query parameter Kalshi would reject: becomes a 400 with an error body."""


class NotFound(Exception):
    """An unknown (or moved-to-historical) resource: becomes a 404."""


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(obj), status=status, content_type="application/json")


# -- query parsing ---------------------------------------------------------------------------------
def q_int(request: web.Request, name: str, default: int | None = None, *, required: bool = False,
          lo: int | None = None, hi: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise BadRequest(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadRequest(f"{name} must be between {lo} and {hi}")
    return value


def q_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise BadRequest(f"{name} must be true or false")


def q_list(request: web.Request, name: str) -> list[str] | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    return [t for t in (p.strip() for p in raw.split(",")) if t]


def encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(request: web.Request, kind: str) -> int | None:
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        got_kind, _, value = text.partition(":")
        if got_kind != kind:
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("invalid cursor") from None


class RestApi:
    """Route table + handlers; ``now_ms`` and the model come from the exchange object."""

    def __init__(self, model: ExchangeModel, now_ms: Callable[[], int], keys: KeyRegistry, require_auth: bool,
                 limiter: RateLimiter | None, faults: RestFaults, log_fault: Callable[..., None],
                 monotonic: Callable[[], float], wall_ms: Callable[[], int]) -> None:
        self.model = model
        self.wall_ms = wall_ms  # signatures are checked against real time, whatever the sim clock says
        self.now_ms = now_ms
        self.keys = keys
        self.require_auth = require_auth
        self.limiter = limiter
        self.faults = faults
        self.log_fault = log_fault
        self.monotonic = monotonic
        self.requests_served = 0

    def add_routes(self, app: web.Application) -> None:
        g = [
            ("/exchange/status", self.exchange_status),
            ("/series", self.series_list),
            ("/series/{series_ticker}", self.series_one),
            ("/series/{series_ticker}/markets/{ticker}/candlesticks", self.market_candlesticks),
            ("/series/{series_ticker}/events/{ticker}/candlesticks", self.event_candlesticks),
            ("/events", self.events),
            ("/events/{event_ticker}", self.event_one),
            ("/markets", self.markets),
            ("/markets/trades", self.trades),
            ("/markets/candlesticks", self.batch_candlesticks),
            ("/markets/orderbooks", self.orderbooks),
            ("/markets/{ticker}", self.market_one),
            ("/markets/{ticker}/orderbook", self.orderbook),
            ("/historical/cutoff", self.historical_cutoff),
            ("/historical/markets", self.historical_markets),
            ("/historical/markets/{ticker}", self.historical_market_one),
            ("/historical/markets/{ticker}/candlesticks", self.historical_candlesticks),
            ("/historical/trades", self.historical_trades),
        ]
        for path, handler in g:
            app.router.add_get(BASE + path, self._wrap(handler), allow_head=False)

    # -- middleware-ish wrapper ---------------------------------------------------------------------
    def caller(self, request: web.Request) -> tuple[web.Response | None, str]:
        """Authenticate; returns (error response or None, rate-limit key)."""
        result = self.keys.check(request.headers, request.method, request.path, self.wall_ms())
        if result.signed and not result.ok:
            return json_response(error_body("unauthorized", result.reason), 401), ""
        if not result.signed and self.require_auth:
            return json_response(error_body("unauthorized", "authentication required"), 401), ""
        return None, result.key_id or (request.remote or "unknown")

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

    # -- helpers ----------------------------------------------------------------------------------
    def live_market(self, ticker: str) -> Market:
        m = self.model.market_by_ticker.get(ticker)
        if m is None or self.model.is_historical(m):
            raise NotFound("market not found")
        return m

    def historical_market(self, ticker: str) -> Market:
        m = self.model.market_by_ticker.get(ticker)
        if m is None or not self.model.is_historical(m):
            raise NotFound("market not found")
        return m

    def _page(self, items: list[Any], limit: int, kind: str, key: Callable[[Any], int]) -> tuple[list[Any], str]:
        page = items[:limit]
        cursor = encode_cursor(kind, key(page[-1])) if len(items) > limit else ""
        return page, cursor

    # -- exchange / series ------------------------------------------------------------------------
    async def exchange_status(self, request: web.Request) -> web.Response:
        return json_response({"exchange_active": True, "trading_active": True})

    async def series_list(self, request: web.Request) -> web.Response:
        include_volume = q_bool(request, "include_volume")
        q_bool(request, "include_product_metadata")
        q_int(request, "min_updated_ts")
        category = request.query.get("category")
        tags = q_list(request, "tags")
        out = []
        for spec in self.model.series:
            if category and category != "Climate and Weather":
                continue
            if tags and "Daily temperature" not in tags:
                continue
            out.append(series_json(spec, self._series_volume(spec.ticker) if include_volume else None))
        return json_response({"series": out})

    def _series_volume(self, series_ticker: str) -> int:
        return sum(m.volume for m in self.model.markets if m.series_ticker == series_ticker)

    async def series_one(self, request: web.Request) -> web.Response:
        ticker = request.match_info["series_ticker"]
        spec = next((s for s in self.model.series if s.ticker == ticker), None)
        if spec is None:
            raise NotFound("series not found")
        volume = self._series_volume(ticker) if q_bool(request, "include_volume") else None
        return json_response({"series": series_json(spec, volume)})

    # -- events -----------------------------------------------------------------------------------
    async def events(self, request: web.Request) -> web.Response:
        limit = q_int(request, "limit", 200, lo=1, hi=200)
        assert limit is not None
        after = decode_cursor(request, "e")
        nested = q_bool(request, "with_nested_markets")
        milestones = q_bool(request, "with_milestones")
        status = request.query.get("status") or None
        if status is not None and status not in ("unopened", "open", "closed", "settled"):
            raise BadRequest("status must be one of unopened, open, closed, settled")
        series = request.query.get("series_ticker") or None
        tickers = q_list(request, "tickers")
        min_close = q_int(request, "min_close_ts")
        min_updated = q_int(request, "min_updated_ts")
        selected = []
        wanted = STATUS_FILTERS[status] if status else None
        for e in self.model.events:
            if after is not None and e.idx <= after:
                continue
            if series and e.series.ticker != series:
                continue
            if tickers is not None and e.ticker not in tickers:
                continue
            if wanted is not None and not any(m.status in wanted for m in e.markets):
                continue
            if min_close is not None and not any(m.close_ms > min_close * 1000 for m in e.markets):
                continue
            if min_updated is not None and e.last_updated_ms <= min_updated * 1000:
                continue
            selected.append(e)
            if len(selected) > limit:
                break
        page, cursor = self._page(selected, limit, "e", lambda e: e.idx)
        now = self.now_ms()
        events = []
        for e in page:
            markets = None
            if nested:
                markets = [market_json(m, now) for m in e.markets if not self.model.is_historical(m)]
            events.append(event_json(e, markets))
        body: dict[str, Any] = {"events": events, "cursor": cursor}
        if milestones:
            body["milestones"] = []
        return json_response(body)

    async def event_one(self, request: web.Request) -> web.Response:
        e = self.model.event_by_ticker.get(request.match_info["event_ticker"])
        if e is None:
            raise NotFound("event not found")
        nested = q_bool(request, "with_nested_markets")
        now = self.now_ms()
        markets = [market_json(m, now) for m in e.markets if not self.model.is_historical(m)]
        return json_response({"event": event_json(e, markets if nested else None), "markets": markets})

    # -- markets ----------------------------------------------------------------------------------
    async def markets(self, request: web.Request) -> web.Response:
        limit = q_int(request, "limit", 100, lo=1, hi=1000)
        assert limit is not None
        after = decode_cursor(request, "m")
        event_ticker = request.query.get("event_ticker") or None
        if event_ticker and "," in event_ticker:
            raise BadRequest("event_ticker takes a single event ticker")
        series = request.query.get("series_ticker") or None
        status = request.query.get("status") or None
        if status is not None and status not in STATUS_FILTERS:
            raise BadRequest("status must be one of unopened, open, paused, closed, settled")
        tickers = q_list(request, "tickers")
        mve = request.query.get("mve_filter") or None
        if mve is not None and mve not in ("only", "exclude"):
            raise BadRequest("mve_filter must be only or exclude")
        groups = {
            "created": (q_int(request, "min_created_ts"), q_int(request, "max_created_ts")),
            "close": (q_int(request, "min_close_ts"), q_int(request, "max_close_ts")),
            "settled": (q_int(request, "min_settled_ts"), q_int(request, "max_settled_ts")),
            "updated": (q_int(request, "min_updated_ts"), None),
        }
        used = [g for g, (lo, hi) in groups.items() if lo is not None or hi is not None]
        if len(used) > 1:
            raise BadRequest("timestamp filters of different kinds cannot be combined")
        allowed_status = {"created": {None, "unopened", "open"}, "close": {None, "closed"},
                          "settled": {None, "settled"}, "updated": {None}}
        if used and status not in allowed_status[used[0]]:
            raise BadRequest(f"{used[0]} timestamp filters cannot be combined with status={status}")
        if used == ["updated"] and (event_ticker or tickers or (mve not in (None, "exclude"))):
            raise BadRequest("min_updated_ts only combines with mve_filter=exclude and series_ticker")
        wanted = STATUS_FILTERS[status] if status else None
        if mve == "only":
            return json_response({"markets": [], "cursor": ""})  # the simulator lists no combos
        selected: list[Market] = []
        for m in self.model.markets:
            if after is not None and m.idx <= after:
                continue
            if self.model.is_historical(m):
                continue
            if event_ticker and m.event.ticker != event_ticker:
                continue
            if series and m.series_ticker != series:
                continue
            if tickers is not None and m.ticker not in tickers:
                continue
            if wanted is not None and m.status not in wanted:
                continue
            if used and not self._time_match(m, used[0], *groups[used[0]]):
                continue
            selected.append(m)
            if len(selected) > limit:
                break
        page, cursor = self._page(selected, limit, "m", lambda m: m.idx)
        now = self.now_ms()
        return json_response({"markets": [market_json(m, now) for m in page], "cursor": cursor})

    @staticmethod
    def _time_match(m: Market, group: str, lo: int | None, hi: int | None) -> bool:
        value = {"created": m.created_ms, "close": m.close_ms, "settled": m.settlement_ms,
                 "updated": m.updated_ms}[group]
        if value is None:
            return False
        if lo is not None and value <= lo * 1000:
            return False
        return not (hi is not None and value >= hi * 1000)

    async def market_one(self, request: web.Request) -> web.Response:
        m = self.live_market(request.match_info["ticker"])
        return json_response({"market": market_json(m, self.now_ms())})

    async def orderbook(self, request: web.Request) -> web.Response:
        m = self.live_market(request.match_info["ticker"])
        depth = q_int(request, "depth", 0, hi=100)
        return json_response({"orderbook_fp": orderbook_json(m.yes, m.no, depth or 0)})

    async def orderbooks(self, request: web.Request) -> web.Response:
        tickers = [t for raw in request.query.getall("tickers", []) for t in raw.split(",") if t]
        if not tickers:
            raise BadRequest("tickers is required")
        if len(tickers) > MAX_BATCH_TICKERS:
            raise BadRequest(f"at most {MAX_BATCH_TICKERS} tickers")
        books = []
        for t in tickers:
            m = self.model.market_by_ticker.get(t)
            if m is None or self.model.is_historical(m):
                raise BadRequest(f"market not found: {t}")
            books.append({"ticker": t, "orderbook_fp": orderbook_json(m.yes, m.no)})
        return json_response({"orderbooks": books})

    # -- candlesticks -----------------------------------------------------------------------------
    def _candle_params(self, request: web.Request, *, batch: bool = False) -> tuple[int, int, int, bool]:
        start = q_int(request, "start_ts", required=True)
        end = q_int(request, "end_ts", required=True)
        period = q_int(request, "period_interval", required=True, lo=1 if batch else None)
        assert start is not None and end is not None and period is not None
        if period not in VALID_PERIODS:
            raise BadRequest("period_interval must be 1, 60 or 1440")
        if end < start:
            raise BadRequest("end_ts must not be before start_ts")
        return start, end, period, q_bool(request, "include_latest_before_start")

    async def market_candlesticks(self, request: web.Request) -> web.Response:
        start, end, period, latest = self._candle_params(request)
        m = self.live_market(request.match_info["ticker"])
        if m.series_ticker != request.match_info["series_ticker"]:
            raise NotFound("market not found in this series")
        try:
            rows = market_candles(m, period, start, end, self.now_ms(), include_latest_before_start=latest,
                                  max_candles=MAX_CANDLES_PER_MARKET)
        except CandleRangeError as exc:
            raise BadRequest(str(exc)) from None
        return json_response({"ticker": m.ticker, "candlesticks": rows})

    async def batch_candlesticks(self, request: web.Request) -> web.Response:
        tickers = q_list(request, "market_tickers")
        if not tickers:
            raise BadRequest("market_tickers is required")
        if len(tickers) > MAX_BATCH_TICKERS:
            raise BadRequest(f"at most {MAX_BATCH_TICKERS} market tickers")
        start, end, period, latest = self._candle_params(request, batch=True)
        now = self.now_ms()
        out = []
        total = 0
        for t in dict.fromkeys(tickers):
            m = self.model.market_by_ticker.get(t)
            if m is None or self.model.is_historical(m):
                continue
            try:
                rows = market_candles(m, period, start, end, now, include_latest_before_start=latest,
                                      max_candles=MAX_CANDLES_BATCH)
            except CandleRangeError as exc:
                raise BadRequest(str(exc)) from None
            total += len(rows)
            if total > MAX_CANDLES_BATCH:
                raise BadRequest(f"too many candlesticks requested (more than {MAX_CANDLES_BATCH})")
            out.append({"market_ticker": t, "candlesticks": rows})
        return json_response({"markets": out})

    async def event_candlesticks(self, request: web.Request) -> web.Response:
        start, end, period, _ = self._candle_params(request)
        e = self.model.event_by_ticker.get(request.match_info["ticker"])
        if e is None or e.series.ticker != request.match_info["series_ticker"]:
            raise NotFound("event not found")
        markets = [m for m in e.markets if not self.model.is_historical(m)]
        p = period * 60
        periods = max(0, end // p - (-(-start // p)) + 1)
        adjusted = end
        if markets and periods * len(markets) > MAX_CANDLES_BATCH:
            adjusted = -(-start // p) * p + (MAX_CANDLES_BATCH // len(markets) - 1) * p
        now = self.now_ms()
        return json_response({
            "market_tickers": [m.ticker for m in markets],
            "market_candlesticks": [market_candles(m, period, start, adjusted, now) for m in markets],
            "adjusted_end_ts": adjusted,
        })

    async def historical_candlesticks(self, request: web.Request) -> web.Response:
        start, end, period, _ = self._candle_params(request)
        m = self.historical_market(request.match_info["ticker"])
        try:
            rows = market_candles(m, period, start, end, self.now_ms(), historical=True,
                                  max_candles=MAX_CANDLES_PER_MARKET)
        except CandleRangeError as exc:
            raise BadRequest(str(exc)) from None
        return json_response({"ticker": m.ticker, "candlesticks": rows})

    # -- trades -----------------------------------------------------------------------------------
    async def trades(self, request: web.Request) -> web.Response:
        return self._trades(request, historical=False)

    async def historical_trades(self, request: web.Request) -> web.Response:
        return self._trades(request, historical=True)

    def _trades(self, request: web.Request, *, historical: bool) -> web.Response:
        """Newest first; ``min_ts``/``max_ts`` select trades whose Unix second is in [min_ts, max_ts]."""
        limit = q_int(request, "limit", 100, lo=1, hi=1000)
        assert limit is not None
        before = decode_cursor(request, "t")
        ticker = request.query.get("ticker") or None
        min_ts = q_int(request, "min_ts")
        max_ts = q_int(request, "max_ts")
        block = None
        if request.query.get("is_block_trade"):
            block = q_bool(request, "is_block_trade")
        min_ms = None if min_ts is None else min_ts * 1000
        max_ms = None if max_ts is None else max_ts * 1000 + 999
        cutoff = self.model.cutoff_ms
        if historical:
            max_ms = cutoff - 1 if max_ms is None else min(max_ms, cutoff - 1)
        else:
            min_ms = cutoff if min_ms is None else max(min_ms, cutoff)
        if ticker is not None:
            m = self.model.market_by_ticker.get(ticker)
            markets = [m] if m is not None else []
        else:
            markets = self.model.markets
        it = self.model.trade_indices(markets, min_ms=min_ms, max_ms=max_ms, before_gseq=before, block=block)
        page: list[tuple[Market, int]] = []
        more = False
        for item in it:
            if len(page) == limit:
                more = True
                break
            page.append(item)
        cursor = encode_cursor("t", page[-1][0].t_gseq[page[-1][1]]) if more else ""
        return json_response({"trades": [trade_json(m, i) for m, i in page], "cursor": cursor})

    # -- historical -------------------------------------------------------------------------------
    async def historical_cutoff(self, request: web.Request) -> web.Response:
        c = iso_seconds(self.model.cutoff_ms)
        return json_response({"market_settled_ts": c, "trades_created_ts": c, "orders_updated_ts": c,
                              "market_positions_last_updated_ts": c})

    async def historical_markets(self, request: web.Request) -> web.Response:
        limit = q_int(request, "limit", 100, lo=1, hi=1000)
        assert limit is not None
        after = decode_cursor(request, "h")
        tickers = q_list(request, "tickers")
        event_ticker = request.query.get("event_ticker") or None
        series = request.query.get("series_ticker") or None
        mve = request.query.get("mve_filter") or None
        if mve is not None and mve != "exclude":
            raise BadRequest("mve_filter must be exclude")
        if sum(x is not None for x in (tickers, event_ticker, series)) > 1:
            raise BadRequest("tickers, event_ticker and series_ticker are mutually exclusive")
        selected: list[Market] = []
        for m in self.model.markets:
            if after is not None and m.idx <= after:
                continue
            if not self.model.is_historical(m):
                continue
            if tickers is not None and m.ticker not in tickers:
                continue
            if event_ticker and m.event.ticker != event_ticker:
                continue
            if series and m.series_ticker != series:
                continue
            selected.append(m)
            if len(selected) > limit:
                break
        page, cursor = self._page(selected, limit, "h", lambda m: m.idx)
        now = self.now_ms()
        return json_response({"markets": [market_json(m, now) for m in page], "cursor": cursor})

    async def historical_market_one(self, request: web.Request) -> web.Response:
        m = self.historical_market(request.match_info["ticker"])
        return json_response({"market": market_json(m, self.now_ms())})
