"""A polite HTTP client for the public weather services (IEM and the Aviation Weather Center).

IEM's maintainer added per-IP throttles in 2026 because of "incessant requests" from people
wagering on weather, and AWC blocks clients over 100 requests a minute (SOURCES.md 1.5, 3.4).
The transport is the shared HTTP stack (:mod:`kalshi_collector.httpclient`); per service here:

- a gate: IEM one request a second, serially; AWC one per 0.6 s (100 a minute with no burst);
- the shared retry policy, only for what can heal (timeouts, dropped connections, 429, 5xx);
  a ``Retry-After`` header is honoured up to the cap;
- a **total time limit per request** (``HttpOptions.total_seconds``, retries and waits included):
  a server that accepts the connection and never answers costs one request that long, not minutes;
- a User-Agent naming the project, as both services ask.

Failures come out as :class:`FetchError` subclasses whose message is one readable line with the
URL, so the orchestrator can log it and move on to the next station.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kalshi_collector import __version__
from kalshi_collector.httpclient import (
    BadBody,
    BodyHook,
    Budget,
    HttpClient,
    HttpError,
    HttpStats,
    RateGate,
    RetryLog,
    RetryPolicy,
    StatusError,
    TransportError,
    call_with_retries,
    snippet,
)

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

# The weather names of the shared error classes (one hierarchy, see httpclient/errors.py).
FetchError = HttpError  # a request that did not give usable data
HttpStatusError = StatusError  # an answer outside the accepted statuses
NetworkError = TransportError  # timeout, refused or dropped connection, cut-off body


class BadPayload(BadBody):
    """A 200 whose body is not what the endpoint sends (HTML error page, cut-off CSV, bad JSON)."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message, url, transient=False)


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """At most one request per ``min_interval_seconds``, at most ``concurrency`` in flight."""

    min_interval_seconds: float
    concurrency: int = 1


# SOURCES.md: IEM >= 1 s between requests, serial; AWC 100 requests/minute.
DEFAULT_POLICIES: Mapping[str, HostPolicy] = {IEM: HostPolicy(1.0, 1), AWC: HostPolicy(0.6, 2)}


@dataclass(frozen=True, slots=True)
class HttpOptions:
    timeout_seconds: float = 30.0  # one attempt
    attempts: int = 4  # first try included
    backoff_initial_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    backoff_jitter_seconds: float = 1.0
    policies: Mapping[str, HostPolicy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    # One request, every attempt and wait included (config: weather.request_total_seconds).
    total_seconds: float = 30.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(attempts=self.attempts, initial_seconds=self.backoff_initial_seconds,
                           max_seconds=self.backoff_max_seconds, jitter_seconds=self.backoff_jitter_seconds,
                           total_seconds=self.total_seconds)


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    body: bytes
    content_type: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def reject_html(body: bytes | str, expected: str, url: str | None = None) -> None:
    """Raise :class:`BadPayload` when a proxy or error page answered instead of the service."""
    head = (body[:512].decode("utf-8", "replace") if isinstance(body, bytes) else body[:512]).lstrip().lower()
    if head.startswith("<!doctype html") or head.startswith("<html") or "<html" in head[:200]:
        raw = body.encode() if isinstance(body, str) else body
        raise BadPayload(f"got an HTML page instead of {expected} ({snippet(raw)!r})", url)


class WeatherHttp:
    """One HTTP client with per-service gates. Use as ``async with WeatherHttp(options) as http``."""

    def __init__(self, options: HttpOptions | None = None, *, user_agent: str = USER_AGENT,
                 on_body: BodyHook | None = None) -> None:
        self.options = options or HttpOptions()
        self.user_agent = user_agent
        self._policy = self.options.retry_policy()
        self._http = HttpClient(user_agent=user_agent, timeout_seconds=self.options.timeout_seconds,
                                on_body=on_body)
        self._gates: dict[str, RateGate] = {}
        self._retry_log = RetryLog(log)
        self._open = False

    @property
    def stats(self) -> HttpStats:
        return self._http.stats

    async def __aenter__(self) -> WeatherHttp:
        await self._http.open()
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._open = False
        await self._http.close()

    def _gate(self, service: str) -> RateGate:
        if service not in self._gates:
            policy = self.options.policies.get(service) or DEFAULT_POLICIES.get(service) or HostPolicy(1.0, 1)
            self._gates[service] = RateGate.spaced(policy.min_interval_seconds, policy.concurrency)
        return self._gates[service]

    async def get(
        self,
        service: str,
        url: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        *,
        ok_status: frozenset[int] = frozenset({200}),
    ) -> Response:
        """GET with the service's limits and retries; statuses outside ``ok_status`` raise."""
        if not self._open:
            raise RuntimeError("WeatherHttp used outside 'async with'")

        async def attempt(budget: Budget) -> Response:
            reply = await self._http.send(service, url, gate=self._gate(service), params=params, budget=budget)
            if reply.status not in ok_status:
                raise HttpStatusError(reply.status, reply.url, snippet(reply.body), reply.retry_after)
            return Response(url=reply.url, status=reply.status, body=reply.body, content_type=reply.content_type)

        return await call_with_retries(self._policy, attempt, source=f"weather http ({service})",
                                       log=self._retry_log, stats=self.stats)
