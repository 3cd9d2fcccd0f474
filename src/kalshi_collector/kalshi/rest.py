"""Async REST client for Kalshi's market-data endpoints (API.md section 5).

- One ``aiohttp`` session, requests signed when a key is configured (public endpoints accept
  signed requests, and signed traffic gets the account's rate budget instead of the tiny
  anonymous one).
- A client-side token bucket (``aiolimiter``) sized to the configured Kalshi tier, so a
  well-configured client never earns a 429. When one arrives anyway (Kalshi's 429 carries no
  Retry-After), every caller pauses for a short, growing cool-down: the whole client slows down,
  not just the request that failed.
- Retries (``tenacity``) with capped exponential backoff and jitter on 429, 5xx, timeouts,
  dropped connections and truncated bodies; never on other 4xx, which are our mistakes or a
  missing ticker and would fail again.
- Cursor pagination as async iterators (pages, so callers can batch their work).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import msgspec
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from yarl import URL

from kalshi_collector import __version__
from kalshi_collector.config import Config
from kalshi_collector.kalshi import models as m
from kalshi_collector.kalshi import trade_columns as tc
from kalshi_collector.kalshi.auth import KalshiSigner

__all__ = ["KalshiRestClient", "ApiError", "TransientError", "NotFound"]

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = f"kalshi-collector/{__version__}"


class ApiError(Exception):
    """A non-retryable error answer (4xx other than 429, or retries exhausted)."""

    def __init__(self, status: int, path: str, detail: str) -> None:
        super().__init__(f"HTTP {status} on {path}: {detail}")
        self.status = status
        self.path = path
        self.detail = detail


class NotFound(ApiError):
    pass


class TransientError(Exception):
    """Worth retrying: 429, 5xx, timeout, dropped connection, truncated body."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def _ts(value: datetime | int | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(value)


def _error_detail(body: bytes) -> str:
    """Kalshi's error bodies come as {"error": {"code","message"}} or {"error": "..."} or {code,message}."""
    try:
        obj = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or err)
        return str(err)
    return str(obj)[:200]


class KalshiRestClient:
    """Kalshi market-data REST client. Use as ``async with KalshiRestClient(...) as client``."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: KalshiSigner | None = None,
        requests_per_second: float = 20.0,
        burst_seconds: float = 2.0,
        timeout: float = 30.0,
        max_retries: int = 8,
        max_backoff: float = 30.0,
        concurrency: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._base_path = URL(self.base_url).path.rstrip("/")
        self.signer = signer
        self.rate = requests_per_second
        # Same rate as Kalshi's bucket, half its depth. A bucket as deep as Kalshi's overdraws it:
        # while Kalshi's bucket is full, the refill owed to requests still in flight is lost there
        # (it cannot overfill) but not here, and the next burst then earns 429s. Half the depth
        # absorbs that for up to rate*burst/2 requests in flight; the steady rate is unchanged.
        self._limiter = (
            AsyncLimiter(max(1.0, requests_per_second * burst_seconds / 2), burst_seconds / 2)
            if requests_per_second > 0
            else None
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(10.0, timeout))
        self._max_retries = max_retries
        self._max_backoff = max_backoff
        self._concurrency = concurrency
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._cooldown_until = 0.0
        self._consecutive_429 = 0
        self._last_429_at = float("-inf")
        self.stats: Counter[str] = Counter()
        self.on_request: Callable[[str, int], None] | None = None  # hook for metrics: (outcome, status)

    @classmethod
    def from_config(cls, config: Config, *, signed: bool | None = None, **overrides: Any) -> KalshiRestClient:
        """Build from the config; signs when credentials are configured (or when ``signed`` is True)."""
        k = config.kalshi
        signer = None
        if signed or (signed is None and k.api_key_id and k.private_key_path):
            key_id, key_path = config.require_credentials("signed REST requests")
            signer = KalshiSigner.from_files(key_id, key_path)
        rate, burst = k.rate_limit
        kwargs: dict[str, Any] = dict(
            signer=signer,
            requests_per_second=rate,
            burst_seconds=burst,
            timeout=k.request_timeout_seconds,
            max_retries=k.max_retries,
        )
        kwargs.update(overrides)
        return cls(k.base_url, **kwargs)

    async def __aenter__(self) -> KalshiRestClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._concurrency, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ core request

    async def _wait_turn(self) -> None:
        while True:
            pause = self._cooldown_until - self._clock()
            if pause <= 0:
                break
            await asyncio.sleep(pause)
        if self._limiter is not None:
            await self._limiter.acquire()

    def _note_429(self, sent_at: float) -> None:
        # Requests already in flight when the last 429 arrived report that same overload: with
        # many requests in flight, counting each of them would escalate one burst straight to
        # the longest pause. Only a 429 to a request sent after it means "still too fast".
        if sent_at < self._last_429_at:
            return
        self._last_429_at = self._clock()
        self._consecutive_429 += 1
        pause = min(self._max_backoff, 0.25 * 2 ** min(self._consecutive_429, 8))
        self._cooldown_until = max(self._cooldown_until, self._clock() + pause)

    async def _get_once(self, path: str, params: list[tuple[str, str]] | None) -> bytes:
        if self._session is None:
            await self.open()
        assert self._session is not None
        await self._wait_turn()
        url = self.base_url + path
        headers = self.signer.headers("GET", self._base_path + path) if self.signer else None
        self.stats["requests"] += 1
        sent_at = self._clock()
        try:
            async with self._session.get(url, params=params, headers=headers) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError:
            self.stats["timeouts"] += 1
            raise TransientError(f"timeout on {path}") from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, aiohttp.ServerDisconnectedError) as exc:
            self.stats["connection_errors"] += 1
            raise TransientError(f"{type(exc).__name__} on {path}") from None
        if self.on_request:
            self.on_request(path, status)
        if status == 200:
            self._consecutive_429 = 0
            return body
        if status == 429:
            self.stats["http_429"] += 1
            self._note_429(sent_at)
            raise TransientError(f"429 too many requests on {path}", status)
        if status >= 500:
            self.stats["http_5xx"] += 1
            raise TransientError(f"HTTP {status} on {path}", status)
        self.stats["http_4xx"] += 1
        detail = _error_detail(body)
        if status == 404:
            raise NotFound(status, path, detail)
        raise ApiError(status, path, detail)

    async def get(self, path: str, params: dict[str, Any] | Iterable[tuple[str, Any]] | None = None, *, into: type[T]) -> T:
        """GET ``path`` (relative to the base URL) and decode into ``into``, retrying transient failures."""
        qp = _params(params)
        decoder = msgspec.json.Decoder(into)
        attempt_no = 0
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._max_retries + 1),
            wait=wait_exponential(multiplier=0.25, max=self._max_backoff) + wait_random(0, min(0.5, self._max_backoff)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_no += 1
                    if attempt_no > 1:
                        self.stats["retries"] += 1
                    body = await self._get_once(path, qp)
                    try:
                        return decoder.decode(body)
                    except msgspec.DecodeError as exc:
                        # A 200 whose JSON is cut short is a transport problem (truncated response).
                        self.stats["bad_bodies"] += 1
                        raise TransientError(f"undecodable response on {path}: {exc}") from None
        except TransientError as exc:
            raise ApiError(exc.status or 0, path, f"gave up after {attempt_no} attempts: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

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
        async for page in self._paginate("/events", params, m._EventsResp):
            yield [m.Event._from_wire(e) for e in page.events]

    async def list_events(self, **kw: Any) -> list[m.Event]:
        return [e async for page in self.iter_events(**kw) for e in page]

    async def get_series(self, series_ticker: str) -> m.Series:
        r = await self.get(f"/series/{series_ticker}", None, into=m._SeriesResp)
        return m.Series._from_wire(r.series)

    async def list_series(self, *, category: str | None = None) -> list[m.Series]:
        r = await self.get("/series", {"category": category}, into=m._SeriesListResp)
        return [m.Series._from_wire(s) for s in (r.series or [])]

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
        async for page in self._paginate("/markets", params, m._MarketsResp):
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
        async for page in self._paginate(path, params, m._TradesResp, cursor=cursor):
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
        async for page in self._paginate(path, params, tc.TradesPage):
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
        async for page in self._paginate("/historical/markets", params, m._MarketsResp):
            yield [m.Market._from_wire(x) for x in page.markets]

    async def exchange_status(self) -> m.ExchangeStatus:
        return await self.get("/exchange/status", None, into=m.ExchangeStatus)

    # ------------------------------------------------------------------ pagination

    async def _paginate(
        self, path: str, params: dict[str, Any], into: type[T], *, cursor: str | None = None
    ) -> AsyncIterator[T]:
        seen: set[str] = set()
        while True:
            page_params = dict(params)
            if cursor:
                page_params["cursor"] = cursor
            page = await self.get(path, page_params, into=into)
            yield page
            cursor = getattr(page, "cursor", "") or ""
            if not cursor:
                return
            if cursor in seen:  # a server bug must not turn into an endless loop
                log.error("cursor repeated on %s; stopping pagination", path)
                return
            seen.add(cursor)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _params(params: dict[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, dict) else params
    return [(k, str(v)) for k, v in items if v is not None]
