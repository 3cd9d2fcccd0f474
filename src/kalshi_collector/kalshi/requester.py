"""How one request reaches Kalshi: signed, gated, retried, its refusal read into one line.

The endpoints (``rest.py``) say *what* to ask for; this module is the one place that says *how*:

- requests signed when a key is configured (public endpoints accept signed requests, and signed
  traffic gets the account's rate budget instead of the tiny anonymous one);
- a gate sized to the configured Kalshi tier, so a well-configured client never earns a 429. When
  one arrives anyway (Kalshi's 429 carries no Retry-After), every caller pauses for a short,
  growing cool-down: the whole client slows down, not just the request that failed;
- retries with capped exponential backoff and jitter on 429, 5xx, timeouts, dropped connections
  and truncated bodies; never on other 4xx, which are our mistakes, a refused key or a missing
  ticker and would fail again (:class:`Unauthorized`, :class:`NotFound`, :class:`ApiError`);
- Kalshi's error bodies read into one line; cursor pagination as an async iterator of pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import msgspec
from yarl import URL

from kalshi_collector import __version__
from kalshi_collector.config import PROD_REST_URL
from kalshi_collector.httpclient import (
    BadBody,
    BodyHook,
    Budget,
    HttpClient,
    HttpError,
    HttpStats,
    RateGate,
    Reply,
    RetryLog,
    RetryPolicy,
    StatusError,
    TransportError,
    call_with_retries,
    is_transient_status,
)
from kalshi_collector.kalshi.auth import KalshiSigner

__all__ = ["KalshiRequester", "ApiError", "TransientError", "NotFound", "Unauthorized", "GaveUp", "auth_fix",
           "pages", "SOURCE", "USER_AGENT"]

log = logging.getLogger("kalshi_collector.kalshi.rest")  # the name operators' log filters know
T = TypeVar("T")

USER_AGENT = f"kalshi-collector/{__version__}"
SOURCE = "kalshi"  # the ``source`` of the on_body hook and of retry log lines
TransientError = TransportError  # the old name of a failure worth retrying
PageGet = Callable[..., Awaitable[Any]]  # KalshiRestClient.get: one page request


class ApiError(HttpError):
    """A non-retryable error answer (4xx other than 429), or retries exhausted (:class:`GaveUp`).

    :meth:`operator_message` is the one line for the person running the collector, naming the
    setting to fix; each subclass knows its own.
    """

    def __init__(self, status: int, path: str, detail: str) -> None:
        super().__init__(f"HTTP {status} on {path}: {detail}", None, status)
        self.status: int = status
        self.path = path
        self.detail = detail

    def operator_message(self) -> str:
        return (f"the exchange refused {self.path} (HTTP {self.status}: {self.detail}); "
                f"check that kalshi.base_url is Kalshi's trade API, e.g. {PROD_REST_URL}")


class NotFound(ApiError):
    """404: a wrong path (base URL) or a ticker the exchange does not know."""

    def operator_message(self) -> str:
        return (f"{self.path} does not exist at the exchange (HTTP 404: {self.detail}); "
                f"check kalshi.base_url, e.g. {PROD_REST_URL}")


class Unauthorized(ApiError):
    """401/403: the exchange refused the key (unknown key id, or a signature that does not verify)."""

    def operator_message(self) -> str:
        return f"the exchange refused the API key (HTTP {self.status}: {self.detail}); {auth_fix(self.detail)}"


class GaveUp(ApiError):
    """Every attempt met a transient failure; ``last`` is the final one."""

    def __init__(self, path: str, attempts: int, last: HttpError) -> None:
        super().__init__(last.status or 0, path, f"gave up after {attempts} attempts: {last}")
        self.last = last
        self.attempts = attempts

    def operator_message(self) -> str:
        return (f"the exchange did not answer {self.path} ({self.attempts} attempts, last: {self.last}); "
                "check kalshi.base_url and the network")


def auth_fix(detail: str) -> str:
    """Which setting a refused key points at, from the refusal's words (Kalshi's and the simulator's)."""
    text = detail.lower()
    if "signature" in text:
        return ("check kalshi.private_key_path: the key file must be the private key of kalshi.api_key_id "
                "(and the clock must be right)")
    if "unknown" in text or "not found" in text or "invalid api key" in text:
        return "check kalshi.api_key_id: the exchange does not know this key id"
    if "required" in text or "missing" in text:
        return "set kalshi.api_key_id and kalshi.private_key_path"
    return "check kalshi.api_key_id and kalshi.private_key_path"


_REFUSED: Mapping[int, type[ApiError]] = {401: Unauthorized, 403: Unauthorized, 404: NotFound}


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


def _refusal(reply: Reply, path: str) -> HttpError:
    """The error for a non-200 answer: transient ones are retried, the others raised as they are."""
    detail = _error_detail(reply.body)
    if is_transient_status(reply.status):
        return StatusError(reply.status, reply.url, detail, reply.retry_after)
    return _REFUSED.get(reply.status, ApiError)(reply.status, path, detail)


class KalshiRequester:
    """Signed, rate-gated, retried GETs against one Kalshi base URL (the state every endpoint shares).

    ``stats`` is the typed :class:`~kalshi_collector.httpclient.HttpStats` of every attempt;
    ``on_body(source, request_path, status, body)``, when set, sees every body received.
    """

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
        on_body: BodyHook | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._base_path = URL(self.base_url).path.rstrip("/")
        self.signer = signer
        self.rate = requests_per_second
        self.gate = RateGate.per_second(requests_per_second, burst_seconds, cooldown_max=max_backoff, clock=clock)
        self.policy = retry or RetryPolicy(attempts=max_retries + 1, initial_seconds=0.25, max_seconds=max_backoff,
                                           jitter_seconds=min(0.5, max_backoff))
        self.http = HttpClient(user_agent=USER_AGENT, timeout_seconds=timeout,
                               connect_timeout_seconds=min(10.0, timeout), headers={"Accept": "application/json"},
                               concurrency=concurrency, on_body=on_body)
        self._retry_log = RetryLog(log)
        self.stats: HttpStats = self.http.stats

    async def open(self) -> None:
        await self.http.open()

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str, params: dict[str, Any] | Iterable[tuple[str, Any]] | None = None, *,
                  into: type[T] | None = None, decode: Callable[[bytes], T] | None = None) -> T:
        """GET ``path`` (relative to the base URL) and decode into ``into`` (or with ``decode``, a
        page reader of its own such as ``trade_columns.decode_page``), retrying transient failures.
        A ``msgspec.DecodeError`` from either is a truncated or garbled body: retried."""
        qp = _params(params)
        if decode is None:
            if into is None:
                raise TypeError("get() needs into= or decode=")
            decode = msgspec.json.Decoder(into).decode
        sign = (lambda: self.signer.headers("GET", self._base_path + path)) if self.signer else None
        attempts = 0

        async def attempt(budget: Budget) -> T:
            nonlocal attempts
            attempts += 1
            reply = await self.http.send(SOURCE, self.base_url + path, gate=self.gate, params=qp, headers=sign,
                                         budget=budget)
            if reply.status != 200:
                raise _refusal(reply, path)
            try:
                return decode(reply.body)
            except msgspec.DecodeError as exc:
                # A 200 whose JSON is cut short is a transport problem (truncated response).
                self.stats.bad_bodies += 1
                raise BadBody(f"undecodable response on {path}: {exc}", transient=True) from None

        try:
            return await call_with_retries(self.policy, attempt, source=SOURCE,
                                           log=self._retry_log, stats=self.stats)
        except HttpError as exc:
            if isinstance(exc, ApiError) or not exc.transient:
                raise
            raise GaveUp(path, attempts, exc) from None


def _params(params: dict[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, dict) else params
    return [(k, str(v)) for k, v in items if v is not None]


async def pages(get: PageGet, path: str, params: dict[str, Any], into: type[T] | None = None, *,
                 cursor: str | None = None, decode: Callable[[bytes], T] | None = None) -> AsyncIterator[T]:
    """Cursor pagination: every page of ``path`` from ``cursor`` on (Kalshi's last page has cursor "");
    each page decoded into ``into`` or by ``decode``."""
    seen: set[str] = set()
    while True:
        page_params = dict(params)
        if cursor:
            page_params["cursor"] = cursor
        page = await get(path, page_params, into=into, decode=decode)
        yield page
        cursor = getattr(page, "cursor", "") or ""
        if not cursor:
            return
        if cursor in seen:  # a server bug must not turn into an endless loop
            log.error("cursor repeated on %s; stopping pagination", path)
            return
        seen.add(cursor)
