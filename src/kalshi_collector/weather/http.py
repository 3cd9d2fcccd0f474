"""A polite HTTP client for the public weather services (IEM and the Aviation Weather Center).

IEM's maintainer added per-IP throttles in 2026 because of "incessant requests" from people
wagering on weather, and AWC blocks clients over 100 requests a minute (SOURCES.md 1.5, 3.4).
So every request here goes through, per service:

- a rate limit (``aiolimiter``): IEM one request a second, serially; AWC one per 0.6 s
  (100 a minute with no burst);
- retries (``tenacity``) with capped exponential backoff and jitter, only for what can heal
  (timeouts, dropped connections, 429, 5xx); a ``Retry-After`` header is honoured up to the cap;
- a User-Agent naming the project, as both services ask.

Failures come out as :class:`FetchError` subclasses whose message is one readable line with the
URL, so the orchestrator can log it and move on to the next station.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from yarl import URL

from kalshi_collector import __version__

__all__ = [
    "USER_AGENT",
    "IEM",
    "AWC",
    "HostPolicy",
    "HttpOptions",
    "DEFAULT_POLICIES",
    "Response",
    "WeatherHttp",
    "FetchError",
    "HttpStatusError",
    "NetworkError",
    "BadPayload",
    "reject_html",
]

log = logging.getLogger(__name__)

USER_AGENT = f"kalshi-collector/{__version__} (+https://github.com/kalshi-collector)"
IEM = "iem"
AWC = "awc"
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """At most one request per ``min_interval_seconds``, at most ``concurrency`` in flight."""

    min_interval_seconds: float
    concurrency: int = 1


# SOURCES.md: IEM >= 1 s between requests, serial; AWC 100 requests/minute.
DEFAULT_POLICIES: Mapping[str, HostPolicy] = {IEM: HostPolicy(1.0, 1), AWC: HostPolicy(0.6, 2)}


@dataclass(frozen=True, slots=True)
class HttpOptions:
    timeout_seconds: float = 30.0
    attempts: int = 4  # first try included
    backoff_initial_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    backoff_jitter_seconds: float = 1.0
    policies: Mapping[str, HostPolicy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))


class FetchError(Exception):
    """A request that did not give usable data; ``str()`` is one line a person can act on."""

    transient = False

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class HttpStatusError(FetchError):
    def __init__(self, status: int, url: str, snippet: str, retry_after: float | None = None) -> None:
        what = f"HTTP {status}" + (f": {snippet}" if snippet else "")
        super().__init__(what, url)
        self.status = status
        self.retry_after = retry_after
        self.transient = status in _TRANSIENT_STATUS


class NetworkError(FetchError):
    """Timeout, refused or dropped connection, cut-off body: worth another try."""

    transient = True


class BadPayload(FetchError):
    """A 200 whose body is not what the endpoint sends (HTML error page, cut-off CSV, bad JSON)."""


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    body: bytes
    content_type: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def _snippet(body: bytes, limit: int = 160) -> str:
    """A short, single-line description of an error body (the <title> of an HTML page)."""
    m = _TITLE.search(body[:4096])
    raw = m.group(1) if m else body[:limit]
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    return text[:limit]


def reject_html(body: bytes | str, expected: str, url: str | None = None) -> None:
    """Raise :class:`BadPayload` when a proxy or error page answered instead of the service."""
    head = (body[:512].decode("utf-8", "replace") if isinstance(body, bytes) else body[:512]).lstrip().lower()
    if head.startswith("<!doctype html") or head.startswith("<html") or "<html" in head[:200]:
        raw = body.encode() if isinstance(body, str) else body
        raise BadPayload(f"got an HTML page instead of {expected} ({_snippet(raw)!r})", url)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class WeatherHttp:
    """One aiohttp session with per-service limits. Use as ``async with WeatherHttp(options) as http``."""

    def __init__(self, options: HttpOptions | None = None, *, user_agent: str = USER_AGENT) -> None:
        self.options = options or HttpOptions()
        self.user_agent = user_agent
        self.stats: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._limiters: dict[str, AsyncLimiter] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._exp_wait = wait_exponential(
            multiplier=self.options.backoff_initial_seconds, max=self.options.backoff_max_seconds
        ) + wait_random(0, self.options.backoff_jitter_seconds)

    async def __aenter__(self) -> WeatherHttp:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout_seconds),
            headers={"User-Agent": self.user_agent},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _policy(self, service: str) -> HostPolicy:
        return self.options.policies.get(service) or DEFAULT_POLICIES.get(service) or HostPolicy(1.0, 1)

    def _gates(self, service: str) -> tuple[asyncio.Semaphore, AsyncLimiter | None]:
        if service not in self._slots:
            policy = self._policy(service)
            self._slots[service] = asyncio.Semaphore(max(1, policy.concurrency))
            if policy.min_interval_seconds > 0:
                self._limiters[service] = AsyncLimiter(1, policy.min_interval_seconds)
        return self._slots[service], self._limiters.get(service)

    def _wait(self, state: RetryCallState) -> float:
        base = self._exp_wait(state)
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None) or 0.0
        return min(max(base, hinted), self.options.backoff_max_seconds)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.stats["retries"] += 1
        log.warning("weather http: %s; retry %d/%d in %.1fs", exc, state.attempt_number,
                    self.options.attempts - 1, wait)

    async def get(
        self,
        service: str,
        url: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        *,
        ok_status: frozenset[int] = frozenset({200}),
    ) -> Response:
        """GET with the service's limits and retries; statuses outside ``ok_status`` raise."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, FetchError) and e.transient),
            stop=stop_after_attempt(max(1, self.options.attempts)),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._get_once(service, url, params, ok_status)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(
        self,
        service: str,
        url: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
        ok_status: frozenset[int],
    ) -> Response:
        if self._session is None:
            raise RuntimeError("WeatherHttp used outside 'async with'")
        full = str(URL(url).update_query(params)) if params else url
        slot, limiter = self._gates(service)
        async with slot:
            if limiter is not None:
                await limiter.acquire()
            self.stats[f"requests_{service}"] += 1
            try:
                async with self._session.get(full) as resp:
                    body = await resp.read()
                    status = resp.status
                    content_type = resp.headers.get("Content-Type", "")
                    retry_after = _retry_after(resp.headers)
            except TimeoutError:
                raise NetworkError(f"no answer within {self.options.timeout_seconds:g}s", full) from None
            except aiohttp.ClientPayloadError as exc:
                raise NetworkError(f"response cut off: {exc}", full) from None
            except aiohttp.ClientError as exc:
                raise NetworkError(f"connection failed: {type(exc).__name__}: {exc}", full) from None
        if status not in ok_status:
            raise HttpStatusError(status, full, _snippet(body), retry_after)
        return Response(url=full, status=status, body=body, content_type=content_type)
