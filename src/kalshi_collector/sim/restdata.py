"""The simulated REST API's market data: candlesticks and trades, on both tiers (the historical
endpoints share the live ones' parameters and paging, and differ in field names and cutoff side)."""

from __future__ import annotations

from aiohttp import web

from kalshi_collector.sim.candles import VALID_PERIODS, CandleRangeError, market_candles
from kalshi_collector.sim.model import Market
from kalshi_collector.sim.restbase import (
    BadRequest,
    NotFound,
    Routes,
    decode_cursor,
    encode_cursor,
    json_response,
    q_bool,
    q_int,
    q_list,
)
from kalshi_collector.sim.restmarkets import MAX_BATCH_TICKERS
from kalshi_collector.sim.wire import trade_json

__all__ = ["MAX_CANDLES_PER_MARKET", "MAX_CANDLES_BATCH", "MarketDataRoutes"]

MAX_CANDLES_PER_MARKET = 5000  # 3P-observed cap on the single-market endpoint (API.md 5.7)
MAX_CANDLES_BATCH = 10_000  # documented cap of GET /markets/candlesticks


class MarketDataRoutes(Routes):
    """Candlesticks (one market, a batch, an event, the archive) and trades (live and archive)."""

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
