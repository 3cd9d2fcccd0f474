"""WebSocket transport to Kalshi: connect (signed handshake), send commands, receive frames.

Transport only. It knows nothing of subscriptions, books or sequence numbers; the collector's
stream manager owns the connection lifecycle (connect -> subscribe -> live -> backoff -> connect).

Liveness: Kalshi pings every 10 s with payload ``heartbeat`` (API.md 7). We answer pings
ourselves (``autoping=False``) so that a ping counts as a sign of life: a stream that sends
neither data nor pings for ``stall_timeout`` seconds is declared stalled (:class:`StreamStalled`)
even though the TCP connection looks open — the failure a plain ``autoping`` client never sees.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp

from kalshi_collector import __version__
from kalshi_collector.config import PROD_WS_URL
from kalshi_collector.kalshi.auth import KalshiSigner

__all__ = ["WsConnection", "StreamStalled", "StreamClosed", "Backoff", "HandshakeRefused"]

log = logging.getLogger(__name__)


class StreamClosed(Exception):
    """The server closed the connection or it dropped."""


class StreamStalled(StreamClosed):
    """Nothing (no data, no ping) arrived for longer than the stall timeout."""


class HandshakeRefused(StreamClosed):
    """The upgrade was refused: 401/403 is the key, 404 (or any other status) the URL."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"WebSocket handshake refused: HTTP {status} {reason}")
        self.status = status

    @property
    def key_refused(self) -> bool:
        return self.status in (401, 403)

    def operator_message(self) -> str:
        """One line naming the setting to fix: a 404 is a wrong ``kalshi.ws_url``, not a key problem."""
        if self.key_refused:
            return f"{self} — check kalshi.api_key_id and kalshi.private_key_path"
        if self.status == 404:
            return f"{self} — no WebSocket at that path: check kalshi.ws_url, e.g. {PROD_WS_URL}"
        return f"{self} — check kalshi.ws_url, e.g. {PROD_WS_URL}"


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter; ``reset()`` after a connection proved healthy."""

    initial: float = 0.5
    cap: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class WsConnection:
    """One WebSocket connection. Create with :meth:`connect`; iterate :meth:`frames`."""

    _last_number = 0

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        stall_timeout: float,
        clock: Callable[[], float],
        owns_session: bool,
    ) -> None:
        self._session = session
        self._ws = ws
        self._stall_timeout = stall_timeout
        self._clock = clock
        self._owns_session = owns_session
        self._cmd_ids = itertools.count(1)
        # Connection id = epoch ms at connect (unique across restarts, unlike a process counter).
        self.number = max(int(clock() * 1000), WsConnection._last_number + 1)
        WsConnection._last_number = self.number
        self.frames_received = 0
        self.pings_received = 0
        self.last_activity = clock()
        self._stalled = False

    @classmethod
    async def connect(
        cls,
        url: str,
        signer: KalshiSigner | None,
        *,
        stall_timeout: float = 30.0,
        connect_timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
        max_msg_size: int = 64 * 1024 * 1024,
    ) -> WsConnection:
        owns = session is None
        session = session or aiohttp.ClientSession(headers={"User-Agent": f"kalshi-collector/{__version__}"})
        headers = signer.ws_headers(url) if signer else {}
        try:
            ws = await asyncio.wait_for(
                session.ws_connect(url, headers=headers, autoping=False, max_msg_size=max_msg_size),
                connect_timeout,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if owns:
                await session.close()
            raise HandshakeRefused(exc.status, exc.message) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if owns:
                await session.close()
            raise StreamClosed(f"cannot connect to {url}: {type(exc).__name__}: {exc}") from None
        return cls(session, ws, stall_timeout=stall_timeout, clock=clock, owns_session=owns)

    def next_id(self) -> int:
        return next(self._cmd_ids)

    async def send(self, payload: bytes | str) -> None:
        try:
            await self._ws.send_str(payload.decode() if isinstance(payload, bytes) else payload)
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            raise StreamClosed(f"send failed: {exc}") from None

    async def frames(self) -> AsyncIterator[tuple[float, str | bytes]]:
        """Yield ``(receive_time, payload)`` for each data frame until the stream ends or stalls.

        No per-frame timeout: aiohttp's receive timeout builds a timer per call, which costs about
        as much as the rest of the read path. A watchdog task checks ``last_activity`` instead and
        cancels the reader when the stream has been silent for ``stall_timeout``.
        """
        ws = self._ws
        reader = asyncio.current_task()
        assert reader is not None
        self._stalled = False
        watchdog = asyncio.get_running_loop().create_task(self._watch(reader))
        try:
            while True:
                try:
                    msg = await ws.receive()
                except asyncio.CancelledError:
                    if not self._stalled:
                        raise
                    reader.uncancel()
                    raise StreamStalled(f"no data or ping for {self._stall_timeout:.0f} s") from None
                now = self._clock()
                self.last_activity = now
                t = msg.type
                if t is aiohttp.WSMsgType.TEXT or t is aiohttp.WSMsgType.BINARY:
                    self.frames_received += 1
                    yield now, msg.data
                elif t is aiohttp.WSMsgType.PING:
                    self.pings_received += 1
                    await ws.pong(msg.data)
                elif t is aiohttp.WSMsgType.PONG:
                    continue
                elif t in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    raise StreamClosed(f"closed by server (code {ws.close_code})")
                elif t is aiohttp.WSMsgType.ERROR:
                    raise StreamClosed(f"connection error: {ws.exception()!r}")
        finally:
            watchdog.cancel()

    async def _watch(self, reader: asyncio.Task) -> None:
        period = min(1.0, self._stall_timeout / 4)
        while True:
            await asyncio.sleep(period)
            if self._clock() - self.last_activity > self._stall_timeout:
                self._stalled = True
                reader.cancel()
                return

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._ws.close(), 5.0)
        except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
            pass
        if self._owns_session:
            await self._session.close()
