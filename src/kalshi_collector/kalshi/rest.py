"""Async REST client for Kalshi's market-data endpoints (API.md section 5).

Each method names one endpoint, its query and the typed model its answer decodes into; how a
request is signed, gated, retried and its refusal read is ``requester.py``'s, shared by all of
them. Cursor pagination is exposed as async iterators of pages, so callers can batch their work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from kalshi_collector.config import Config
from kalshi_collector.httpclient import BodyHook, HttpStats
from kalshi_collector.kalshi import listing
from kalshi_collector.kalshi import models as m
from kalshi_collector.kalshi import trade_columns as tc
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.requester import (
    ApiError,
    GaveUp,
    KalshiRequester,
    NotFound,
    TransientError,
    Unauthorized,
    pages,
)

__all__ = ["KalshiRestClient", "ApiError", "TransientError", "NotFound", "Unauthorized", "GaveUp"]

T = TypeVar("T")



def _ts(value: datetime | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


class KalshiRestClient:
    """Kalshi market-data REST client. Use as ``async with KalshiRestClient(...) as client``.

    ``stats`` is the typed :class:`~kalshi_collector.httpclient.HttpStats` of every attempt;
    ``on_body(source, request_path, status, body)``, when set, sees every body received.
    """

    def __init__(self, base_url: str, **options: Any) -> None:
        """``options`` are :class:`~kalshi_collector.kalshi.requester.KalshiRequester`'s (signer,
        rate, timeout, retries...): the one place a request's policy is declared."""
        self.requester = KalshiRequester(base_url, **options)
        self.base_url = self.requester.base_url
        self.signer: KalshiSigner | None = self.requester.signer
        self.rate = self.requester.rate
        self.stats: HttpStats = self.requester.stats

    @property
    def on_body(self) -> BodyHook | None:
        return self.requester.http.on_body

    @on_body.setter
    def on_body(self, hook: BodyHook | None) -> None:
        self.requester.http.on_body = hook

    @classmethod
    def from_config(cls, config: Config, *, signed: bool | None = None, **overrides: Any) -> KalshiRestClient:
        """Build from the config; signs when credentials are configured (or when ``signed`` is True)."""
        k = config.kalshi
        signer = None
        if signed or (signed is None and k.api_key_id and k.private_key_path):
            signer = KalshiSigner.from_files(*config.require_credentials("signed REST requests"))
        rate, burst = k.rate_limit
        kwargs: dict[str, Any] = {"signer": signer, "requests_per_second": rate, "burst_seconds": burst,
                                  "timeout": k.request_timeout_seconds, "max_retries": k.max_retries, **overrides}
        return cls(k.base_url, **kwargs)

    async def __aenter__(self) -> KalshiRestClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self.requester.open()

    async def close(self) -> None:
        await self.requester.close()

    async def get(self, path: str, params: dict[str, Any] | Iterable[tuple[str, Any]] | None = None, *,
                  into: type[T] | None = None, decode: Callable[[bytes], T] | None = None) -> T:
        """One GET through the requester (:meth:`KalshiRequester.get`): every endpoint and every
        page goes through here."""
        return await self.requester.get(path, params, into=into, decode=decode)

    # ------------------------------------------------------------------ events / series

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = True) -> m.Event:
        r = await self.get(
            f"/events/{event_ticker}",
            {"with_nested_markets": _bool(with_nested_markets)},
            into=m._EventResp,
        )
        return m.Event._from_wire(r.event, r.markets)

    async def iter_events(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        with_nested_markets: bool = False,
        tickers: Iterable[str] | None = None,
        min_close_ts: datetime | int | None = None,
        limit: int = 200,
    ) -> AsyncIterator[list[m.Event]]:
        params = {
            "series_ticker": series_ticker,
            "status": status,
            "with_nested_markets": _bool(with_nested_markets) if with_nested_markets else None,
            "tickers": ",".join(tickers) if tickers else None,
            "min_close_ts": _ts(min_close_ts),
            "limit": limit,
        }
        async for page in pages(self.get, "/events", params, m._EventsResp):
            yield [m.Event._from_wire(e) for e in page.events]

    async def iter_event_listings(self, *, status: str | None = "open", limit: int = 200
                                  ) -> AsyncIterator[list[listing.ListedEvent]]:
        """Every event of a listing with its markets, read lean (``listing.py``: what following
        them needs), a slice of events at a time with a loop turn after each slice: listing the
        whole exchange never holds the caller's event loop for more than about a millisecond."""
        params = {"status": status, "with_nested_markets": "true", "limit": limit}
        async for page in pages(self.get, "/events", params, decode=listing.decode_page):
            for events in listing.event_slices(page):
                yield events
                await asyncio.sleep(0)

    async def list_events(self, **kw: Any) -> list[m.Event]:
        return [e async for page in self.iter_events(**kw) for e in page]

    async def get_series(self, series_ticker: str) -> m.Series:
        r = await self.get(f"/series/{series_ticker}", None, into=m._SeriesResp)
        return m.Series._from_wire(r.series)

    # ------------------------------------------------------------------ markets

    async def get_market(self, ticker: str) -> m.Market:
        r = await self.get(f"/markets/{ticker}", None, into=m._MarketResp)
        return m.Market._from_wire(r.market)

    async def iter_markets(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = None,
        tickers: Iterable[str] | None = None,
        limit: int = 1000,
        **time_filters: datetime | int | None,
    ) -> AsyncIterator[list[m.Market]]:
        params: dict[str, Any] = {
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "status": status,
            "tickers": ",".join(tickers) if tickers else None,
            "limit": limit,
        }
        params.update({k: _ts(v) for k, v in time_filters.items()})
        async for page in pages(self.get, "/markets", params, m._MarketsResp):
            yield [m.Market._from_wire(x) for x in page.markets]

    async def list_markets(self, **kw: Any) -> list[m.Market]:
        return [x async for page in self.iter_markets(**kw) for x in page]

    async def get_orderbook(self, ticker: str, *, depth: int = 0) -> m.Orderbook:
        r = await self.get(f"/markets/{ticker}/orderbook", {"depth": depth}, into=m._OrderbookResp)
        return m.Orderbook(yes=m._levels(r.orderbook_fp.yes_dollars), no=m._levels(r.orderbook_fp.no_dollars))

    async def get_orderbooks(self, tickers: Iterable[str]) -> dict[str, m.Orderbook]:
        r = await self.get("/markets/orderbooks", [("tickers", t) for t in tickers], into=m._OrderbooksResp)
        return {
            o.ticker: m.Orderbook(yes=m._levels(o.orderbook_fp.yes_dollars), no=m._levels(o.orderbook_fp.no_dollars))
            for o in r.orderbooks
        }

    # ------------------------------------------------------------------ candlesticks

    async def get_market_candlesticks(
        self,
        series_ticker: str,
        ticker: str,
        *,
        start_ts: datetime | int,
        end_ts: datetime | int,
        period_interval: int,
    ) -> list[m.Candlestick]:
        r = await self.get(
            f"/series/{series_ticker}/markets/{ticker}/candlesticks",
            {"start_ts": _ts(start_ts), "end_ts": _ts(end_ts), "period_interval": period_interval},
            into=m._CandlesResp,
        )
        return [m.Candlestick._from_live(c) for c in r.candlesticks]

    async def batch_candlesticks(
        self,
        tickers: Iterable[str],
        *,
        start_ts: datetime | int,
        end_ts: datetime | int,
        period_interval: int,
    ) -> dict[str, list[m.Candlestick]]:
        r = await self.get(
            "/markets/candlesticks",
            {
                "market_tickers": ",".join(tickers),
                "start_ts": _ts(start_ts),
                "end_ts": _ts(end_ts),
                "period_interval": period_interval,
            },
            into=m._BatchCandlesResp,
        )
        return {x.market_ticker: [m.Candlestick._from_live(c) for c in x.candlesticks] for x in r.markets}

    async def event_candlesticks(
        self,
        series_ticker: str,
        event_ticker: str,
        *,
        start_ts: datetime | int,
        end_ts: datetime | int,
        period_interval: int,
    ) -> dict[str, list[m.Candlestick]]:
        r = await self.get(
            f"/series/{series_ticker}/events/{event_ticker}/candlesticks",
            {"start_ts": _ts(start_ts), "end_ts": _ts(end_ts), "period_interval": period_interval},
            into=m._EventCandlesResp,
        )
        return {
            t: [m.Candlestick._from_live(c) for c in cs]
            for t, cs in zip(r.market_tickers, r.market_candlesticks, strict=False)
        }

    async def historical_candlesticks(
        self, ticker: str, *, start_ts: datetime | int, end_ts: datetime | int, period_interval: int
    ) -> list[m.Candlestick]:
        r = await self.get(
            f"/historical/markets/{ticker}/candlesticks",
            {"start_ts": _ts(start_ts), "end_ts": _ts(end_ts), "period_interval": period_interval},
            into=m._HistCandlesResp,
        )
        return [m.Candlestick._from_historical(c) for c in r.candlesticks]

    # ------------------------------------------------------------------ trades

    async def iter_trades(
        self,
        *,
        ticker: str | None = None,
        min_ts: datetime | int | None = None,
        max_ts: datetime | int | None = None,
        limit: int = 1000,
        historical: bool = False,
        cursor: str | None = None,
    ) -> AsyncIterator[m.Page]:
        """Pages of trades (``Page.items`` are :class:`Trade`; ``Page.cursor`` resumes after it)."""
        path = "/historical/trades" if historical else "/markets/trades"
        params = {"ticker": ticker, "min_ts": _ts(min_ts), "max_ts": _ts(max_ts), "limit": limit}
        async for page in pages(self.get, path, params, m._TradesResp, cursor=cursor):
            yield m.Page(items=tuple(m.Trade._from_wire(t) for t in page.trades), cursor=page.cursor)

    async def iter_trade_columns(
        self,
        *,
        ticker: str | None = None,
        min_ts: datetime | int | None = None,
        max_ts: datetime | int | None = None,
        limit: int = 1000,
        historical: bool = False,
    ) -> AsyncIterator[tc.TradeColumns]:
        """Pages of trades as Arrow columns (the backfill's bulk path; see ``trade_columns``)."""
        path = "/historical/trades" if historical else "/markets/trades"
        params = {"ticker": ticker, "min_ts": _ts(min_ts), "max_ts": _ts(max_ts), "limit": limit}
        async for page in pages(self.get, path, params, decode=tc.decode_page):
            yield tc.columns(page)

    # ------------------------------------------------------------------ historical tier, exchange

    async def historical_cutoff(self) -> m.HistoricalCutoff:
        return await self.get("/historical/cutoff", None, into=m.HistoricalCutoff)

    async def get_historical_market(self, ticker: str) -> m.Market:
        r = await self.get(f"/historical/markets/{ticker}", None, into=m._MarketResp)
        return m.Market._from_wire(r.market)

    async def iter_historical_markets(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[list[m.Market]]:
        params = {
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "tickers": ",".join(tickers) if tickers else None,
            "limit": limit,
        }
        async for page in pages(self.get, "/historical/markets", params, m._MarketsResp):
            yield [m.Market._from_wire(x) for x in page.markets]

    async def exchange_status(self) -> m.ExchangeStatus:
        return await self.get("/exchange/status", None, into=m.ExchangeStatus)


def _bool(value: bool) -> str:
    return "true" if value else "false"


