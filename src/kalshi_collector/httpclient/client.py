"""One aiohttp session that sends a request through a :class:`~.ratelimit.RateGate` and says what came back.

:meth:`HttpClient.send` is one attempt: wait for the gate, send, read the whole body, count it in
:class:`~.stats.HttpStats`, hand it to ``on_body`` and return a :class:`Reply` whatever its status.
Failures below HTTP (refused, reset, timed out, cut off) come out as
:class:`~.errors.TransportError`. What a status means is the caller's business (the Kalshi client
and the weather fetchers read error bodies differently); retrying is :mod:`.retry`'s.

``on_body(source, request_path, status, body)`` — when set, called with every body received
(any status), so a raw tape can keep exactly what the server sent; ``request_path`` is the path
and query string as sent. It runs in the event loop: keep it quick (hand off to a queue).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from kalshi_collector.httpclient.errors import TransportError
from kalshi_collector.httpclient.ratelimit import RateGate
from kalshi_collector.httpclient.retry import Budget
from kalshi_collector.httpclient.stats import HttpStats

__all__ = ["HttpClient", "Reply", "BodyHook", "Params"]

log = logging.getLogger(__name__)

BodyHook = Callable[[str, str, int, bytes], None]
Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class Reply:
    url: str
    status: int
    body: bytes
    content_type: str
    retry_after: float | None  # seconds, from a Retry-After header in seconds


class HttpClient:
    """Use as ``async with HttpClient(...)``; or :meth:`open` / :meth:`close`."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout_seconds: float,
        connect_timeout_seconds: float | None = None,
        headers: Mapping[str, str] | None = None,
        concurrency: int = 100,
        on_body: BodyHook | None = None,
        stats: HttpStats | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds, sock_connect=connect_timeout_seconds)
        self._headers = {"User-Agent": user_agent, **(headers or {})}
        self._concurrency = concurrency
        self.on_body = on_body
        self.stats = stats or HttpStats()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._concurrency, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, headers=self._headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        source: str,
        url: str,
        *,
        gate: RateGate | None = None,
        params: Params | None = None,
        headers: Callable[[], Mapping[str, str] | None] | None = None,
        budget: Budget | None = None,
    ) -> Reply:
        """One GET. ``headers`` is called once the gate lets the request through (a signature's
        timestamp must be fresh); so is ``budget.start()``, and ``budget.left()`` shortens the wait
        for the answer below the client's timeout."""
        if self._session is None:
            await self.open()
        assert self._session is not None
        full = URL(url).update_query(params) if params else URL(url)
        async with gate.turn() if gate is not None else contextlib.nullcontext(0.0) as sent_at:
            timeout = None
            if budget is not None:
                budget.start()
                left = budget.left()
                if left is not None and left < self.timeout_seconds:
                    timeout = aiohttp.ClientTimeout(total=left, sock_connect=self._timeout.sock_connect)
            reply = await self._get(source, full, headers() if headers else None, timeout)
        if gate is not None:
            gate.note_status(reply.status, sent_at)
        return reply

    async def _get(self, source: str, url: URL, headers: Mapping[str, str] | None,
                   timeout: aiohttp.ClientTimeout | None) -> Reply:
        assert self._session is not None
        self.stats.requests += 1
        limit = timeout.total if timeout is not None else self.timeout_seconds
        try:
            extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
            async with self._session.get(url, headers=headers, **extra) as resp:
                body = await resp.read()
                reply = Reply(str(url), resp.status, body, resp.headers.get("Content-Type", ""),
                              _retry_after(resp.headers.get("Retry-After")))
        except TimeoutError:
            raise self._transport(f"no answer within {limit:.3g}s", url, "timeout") from None
        except aiohttp.ClientPayloadError as exc:
            raise self._transport(f"response cut off: {exc}", url, "connection") from None
        except aiohttp.ClientError as exc:
            raise self._transport(f"connection failed: {type(exc).__name__}: {exc}", url, "connection") from None
        self.stats.count_status(reply.status)
        if self.on_body is not None:
            self.on_body(source, url.raw_path_qs, reply.status, reply.body)
        return reply

    def _transport(self, message: str, url: URL, kind: str) -> TransportError:
        self.stats.count_transport(kind)
        return TransportError(message, str(url), kind=kind)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
