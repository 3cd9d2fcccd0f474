"""The stream: keep one WebSocket connection to Kalshi alive and hand every frame on.

Connect (signed) -> subscribe -> read frames -> on any failure back off (capped, jittered) and
connect again, until stopped. Transport is :mod:`kalshi_collector.kalshi.ws`; what to subscribe,
what a frame means and what a lost connection costs are not this module's business — they are
the callables it is handed:

* ``ready()`` — awaited before each attempt; False = nothing to subscribe yet, try again later;
* ``on_connected(conn)`` — awaited once connected: send the subscriptions;
* ``on_frame(recv_ts, frame)`` — every data frame, synchronously (no queue in between: TCP is the
  backpressure, so nothing can be dropped between the socket and the book);
* ``on_disconnected(why)`` — the connection is gone (``"lost"`` or ``"stopping"``).

The three ``on_*`` callables are public attributes: a recorder may wrap them before :meth:`Stream.run`.
With a ``tape`` (:class:`~kalshi_collector.live.rawtape.RawTape`), every frame is recorded before
``on_frame`` sees it and every command when it is handed over (the collector records each
connection's open and close, with the state changes they bring).
A connection that stayed up for ``healthy_after`` seconds resets the backoff. A bug in a callable
costs a reconnect, never the stream for the rest of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.ws import Backoff, HandshakeRefused, StreamClosed, WsConnection
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.rawtape import RawTape

__all__ = ["Stream"]

YIELD_EVERY_FRAMES = 64
"""Frames one connection reads before it gives the loop a turn (fairness between connections)."""

log = logging.getLogger(__name__)


class Stream:
    def __init__(
        self,
        url: str,
        signer: KalshiSigner | None,
        counters: Counters,
        *,
        ready: Callable[[], Awaitable[bool]],
        on_connected: Callable[[WsConnection], Awaitable[None]],
        on_frame: Callable[[float, str | bytes], None],
        on_disconnected: Callable[[str], None],
        stall_timeout: float = 30.0,
        healthy_after: float = 10.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        stopping: asyncio.Event | None = None,
        tape: RawTape | None = None,
    ) -> None:
        self.url = url
        self._signer = signer
        self._counters = counters
        self._ready = ready
        self.on_connected = on_connected
        self.on_frame = on_frame
        self.on_disconnected = on_disconnected
        self._stall_timeout = stall_timeout
        self._healthy_after = healthy_after
        self.backoff = backoff or Backoff()
        self._clock = clock
        self.conn: WsConnection | None = None
        self._live = False  # connected and subscribed
        self.stopping = stopping if stopping is not None else asyncio.Event()
        self.tape = tape

    @property
    def connected(self) -> bool:
        """True from the moment the subscriptions went out until the connection is lost."""
        return self._live

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Connect, read, reconnect, until :meth:`stop`."""
        while not self.stopping.is_set():
            if not await self._ready():
                continue
            await self._connect_and_read()
            if self.stopping.is_set():
                return
            delay = self.backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            await self.sleep(delay)

    async def _connect_and_read(self) -> None:
        try:
            self.conn = await WsConnection.connect(
                self.url, self._signer, stall_timeout=self._stall_timeout, clock=self._clock
            )
            self._counters.connects += 1
            log.info("connected to %s (connection %d)", self.url, self.conn.number)
            await self.on_connected(self.conn)
            self._live = True
            await self._read(self.conn)
        except HandshakeRefused as exc:
            self._counters.handshake_refused += 1
            log.error("%s", exc.operator_message())
        except StreamClosed as exc:
            self._counters.disconnects += 1
            log.warning("stream lost: %s", exc)
        except Exception:  # a bug must cost a reconnect, never the stream for the rest of the run
            self._counters.disconnects += 1
            self._counters.stream_errors += 1
            log.exception("unexpected error in the stream; reconnecting")
        finally:
            self._live = False
            if self.conn is not None:
                await self.conn.close()
                self.conn = None
                self.on_disconnected("stopping" if self.stopping.is_set() else "lost")

    async def _read(self, conn: WsConnection) -> None:
        on_frame = self.on_frame
        record = self.tape.frames(conn.number) if self.tape is not None else None
        healthy_after = self._clock() + self._healthy_after
        unyielded = 0
        async for recv_ts, frame in conn.frames():
            if record is not None:
                record(recv_ts, frame)  # kept even if the decoder rejects it
            on_frame(recv_ts, frame)
            unyielded += 1
            if unyielded >= YIELD_EVERY_FRAMES:
                # aiohttp returns buffered frames without suspending: without a turn now and then,
                # one connection's backlog would hold every other connection (and the snapshot's
                # steps) until it is drained
                unyielded = 0
                await asyncio.sleep(0)
            if healthy_after and recv_ts > healthy_after:
                self.backoff.reset()
                healthy_after = 0.0

    # --- sending ------------------------------------------------------------------------------------

    async def send(self, payload: bytes) -> None:
        """Send a command on the current connection; a lost connection is logged, not raised."""
        if self.conn is None:
            return
        self.record_sent(payload)
        await self._send(payload)

    async def _send(self, payload: bytes) -> None:
        if self.conn is None:
            return
        try:
            await self.conn.send(payload)
        except StreamClosed as exc:
            log.warning("could not send a command: %s", exc)

    def send_soon(self, payload: bytes) -> bool:
        """Queue a send from synchronous code (the frame handler); False when not connected."""
        if self.conn is None:
            return False
        self.record_sent(payload)  # now, in order with the frame that asked for it
        asyncio.get_running_loop().create_task(self._send(payload))
        return True

    def record_sent(self, payload: bytes) -> bytes:
        """Put a command on the raw tape (callers that send on the connection themselves use it)."""
        if self.tape is not None:
            self.tape.sent(payload, self.conn.number if self.conn is not None else 0)
        return payload

    def drop(self) -> None:
        """Close the current connection from synchronous code; :meth:`run` reconnects."""
        if self.conn is not None:
            asyncio.get_running_loop().create_task(self.conn.close())

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
