"""The simulated REST API's reference data: exchange status, series, events, markets, order books."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from kalshi_collector.sim.model import Market
from kalshi_collector.sim.restbase import (
    BadRequest,
    NotFound,
    Routes,
    decode_cursor,
    encode_json,
    json_response,
    q_bool,
    q_int,
    q_list,
)
from kalshi_collector.sim.wire import STATUS_FILTERS, event_json, market_json, orderbook_json, series_json

__all__ = ["MAX_BATCH_TICKERS", "MarketRoutes"]

MAX_BATCH_TICKERS = 100
RENDER_SLICE = 20
"""Events of a listing page rendered per loop turn (about a millisecond). A page of 200 events with
their markets (2 MB at 20,000 markets) took 16-26 ms to render in one go, and the feed this same
loop sends waited that long: a bare consumer's p99 went from 3 to 33 ms while another client listed
the exchange. Kalshi's feed does not wait for its REST answers; neither does this one."""


class MarketRoutes(Routes):
    """``/exchange``, ``/series``, ``/events``, ``/markets`` and order books (the live tier)."""

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
            if category and category != spec.category:
                continue
            if tags and not set(tags) & set(spec.tags):
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
        page, cursor = self.page(selected, limit, "e", lambda e: e.idx)
        now = self.now_ms()
        fragments = []  # each slice of events encoded on its own turn: "[...]" without its brackets
        for start in range(0, len(page), RENDER_SLICE):
            if start:
                await asyncio.sleep(0)  # the feed's turn (see RENDER_SLICE)
            events = []
            for e in page[start:start + RENDER_SLICE]:
                markets = None
                if nested:
                    markets = self.market_items([market_json(m, now) for m in e.markets
                                                 if not self.model.is_historical(m)])
                events.append(event_json(e, markets))
            fragments.append(encode_json(events)[1:-1])
        rest: dict[str, Any] = {"cursor": cursor}
        if milestones:
            rest["milestones"] = []
        # {"events":[...],"cursor":...}: the same document one encode of the whole would write
        body = b'{"events":[' + b",".join(fragments) + b"]," + encode_json(rest)[1:]
        return web.Response(body=body, content_type="application/json")

    async def event_one(self, request: web.Request) -> web.Response:
        e = self.model.event_by_ticker.get(request.match_info["event_ticker"])
        if e is None:
            raise NotFound("event not found")
        nested = q_bool(request, "with_nested_markets")
        now = self.now_ms()
        markets = self.market_items([market_json(m, now) for m in e.markets if not self.model.is_historical(m)])
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
        page, cursor = self.page(selected, limit, "m", lambda m: m.idx)
        now = self.now_ms()
        return json_response({"markets": self.market_items([market_json(m, now) for m in page]), "cursor": cursor})

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
