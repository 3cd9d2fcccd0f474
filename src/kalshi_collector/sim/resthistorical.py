"""The simulated REST API's archive listing: the cutoff and the markets moved under ``/historical``
(their candlesticks and trades are served by :mod:`.restdata`)."""

from __future__ import annotations

from aiohttp import web

from kalshi_collector.sim.model import Market
from kalshi_collector.sim.restbase import BadRequest, Routes, decode_cursor, json_response, q_int, q_list
from kalshi_collector.sim.wire import market_json
from kalshi_collector.sim.wirefmt import iso_seconds

__all__ = ["HistoricalRoutes"]


class HistoricalRoutes(Routes):
    """``/historical/cutoff``, ``/historical/markets`` and ``/historical/markets/{ticker}``."""

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
        page, cursor = self.page(selected, limit, "h", lambda m: m.idx)
        now = self.now_ms()
        return json_response({"markets": [market_json(m, now) for m in page], "cursor": cursor})

    async def historical_market_one(self, request: web.Request) -> web.Response:
        m = self.historical_market(request.match_info["ticker"])
        return json_response({"market": market_json(m, self.now_ms())})
