"""One lane: a WebSocket connection and the markets it carries (stream, frame handler, resync).

The collector runs one lane per ``collection.markets_per_connection`` markets (see
:mod:`kalshi_collector.live.lanes`). Each lane has its own connection state (command ids, sids
and their ``seq`` numbering start afresh on every connection), its own resync (a sid means
something only on its own connection) and its own subscriptions; the books, the store, the
counters and the lag are shared. Lane 0 alone subscribes ``market_lifecycle_v2`` (it carries
every market; on every lane it would arrive once per lane).

Subscribing within Kalshi's limits: the first ``subscribe_batch`` markets go in the
``subscribe``; the rest follow as ``add_markets`` of the granted sids, ``subscribe_batch`` at a
time, as soon as each channel's ``subscribed`` reply names its sid.

The raw tape (one :class:`~kalshi_collector.live.rawtape.RawTape` for every lane, one numbering):
a lane records its frames, its commands, its connection's ``open`` (naming the lane) and
``close``, its resync retries and the cross-check verdicts on its markets, each with its own
connection id, so a rebuild replays each connection apart (``live.rebuild``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass

from kalshi_collector.book import BookStore, LevelDiff, OrderBook
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.ws import WsConnection
from kalshi_collector.live.counters import Counters, Lag
from kalshi_collector.live.frames import FrameHandler
from kalshi_collector.live.lanes import batches
from kalshi_collector.live.rawtape import RawTape
from kalshi_collector.live.resync import Resync
from kalshi_collector.live.stream import Stream
from kalshi_collector.live.subscriptions import MARKET_CHANNELS
from kalshi_collector.live.tape import US, RowSink

__all__ = ["Lane", "Lanes", "LaneWiring"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaneWiring:
    """What every lane shares: the parts and callables the supervisor hands each one."""

    url: str
    signer: KalshiSigner | None
    books: BookStore
    sink: RowSink
    counters: Counters
    lag: Lag
    clock: Callable[[], float]
    stopping: object  # the collector's asyncio.Event
    stall_timeout: float
    resync_retry_seconds: float
    subscribe_batch: int
    on_ticker: Callable
    on_market_lifecycle: Callable
    on_event_lifecycle: Callable
    tape: RawTape | None = None


class Lane:
    def __init__(self, number: int, wiring: LaneWiring, ready: Callable[[], Awaitable[bool]]) -> None:
        """``ready`` is awaited before each connection attempt (False: nothing to subscribe yet)."""
        self.number = number
        self.markets: set[str] = set()
        self._batch = wiring.subscribe_batch
        self._backlog: dict[str, list[str]] = {}  # channel -> markets still to add on its sid
        w = wiring
        self.tape = w.tape
        self.resync = Resync(w.books, w.sink, w.counters, request=self._request_snapshots,
                             retry_seconds=w.resync_retry_seconds, clock=w.clock,
                             on_retry=self._record_retry if w.tape is not None else None)
        self.handler = FrameHandler(
            w.books, self.resync, w.sink, w.counters, lag=w.lag, clock=w.clock,
            on_ticker=w.on_ticker, on_market_lifecycle=w.on_market_lifecycle,
            on_event_lifecycle=w.on_event_lifecycle, on_terminal_error=lambda: self.stream.drop(),
            on_subscribed=self._on_subscribed, owned=self._owned,
        )
        self.stream = Stream(
            w.url, w.signer, w.counters, ready=ready, on_connected=self.subscribe_all,
            on_frame=self.handler.on_frame, on_disconnected=self._disconnected,
            stall_timeout=w.stall_timeout, clock=w.clock, stopping=w.stopping,  # type: ignore[arg-type]
            tape=w.tape,
        )
        self._clock = w.clock

    def _owned(self) -> Collection[str]:
        return self.markets

    @property
    def conn_number(self) -> int:
        """The id of this lane's connection (0: none open), as the raw tape records it."""
        conn = self.stream.conn
        return conn.number if conn is not None else 0

    # --- subscribing ---------------------------------------------------------------------------

    async def subscribe_all(self, ws: WsConnection) -> None:
        """A fresh connection: the first batch in the ``subscribe``, the rest once sids are known."""
        if self.tape is not None:
            self.tape.opened(ws.number, self.stream.url, self.number)
        state = self.handler.connection_opened(ws.number)
        tickers = sorted(self.markets)
        first, rest = tickers[:self._batch], tickers[self._batch:]
        self._backlog = {channel: rest for channel in MARKET_CHANNELS} if rest else {}
        record = self.stream.record_sent
        if first:
            await ws.send(record(state.subscribe_markets(first)))
        if self.number == 0:
            await ws.send(record(state.subscribe_lifecycle()))
        state.subscribed_at = self._clock()

    def _disconnected(self, why: str) -> None:
        """The connection is gone: on the tape first, then its books (at the recorded time)."""
        conn = self.handler.conn.number
        now_us = self.tape.closed(why, conn) if self.tape is not None else None
        self.handler.connection_closed(why, now_us)

    def _on_subscribed(self, channel: str, sid: int) -> None:
        rest = self._backlog.pop(channel, None)
        if not rest:
            return
        for piece in batches(rest, self._batch):
            self.stream.send_soon(self.handler.conn.update_markets(sid, "add_markets", piece))

    def move_markets(self, added: list[str], removed: list[str]) -> None:
        """Discovery moved this lane's markets (at the raw tape's ``markets`` record, which names
        each lane's markets: a replay's lane owns the same books at the same moment)."""
        self.markets.update(added)
        self.markets.difference_update(removed)
        self.resync.forget(removed)

    async def send_market_changes(self, added: list[str], removed: list[str]) -> None:
        """Bring the live subscriptions to :meth:`move_markets`' change, batch by batch."""
        if self.stream.conn is None or not self.stream.connected:
            return
        conn = self.handler.conn
        if added and not conn.subs.sid_by_channel.keys() & set(MARKET_CHANNELS):
            # nothing granted on this connection yet (it carried no market): subscribe afresh
            first, rest = added[:self._batch], added[self._batch:]
            self._backlog = {channel: rest for channel in MARKET_CHANNELS} if rest else {}
            await self.stream.send(conn.subscribe_markets(first))
            added = []
        for a in batches(added, self._batch):
            for command in conn.market_updates(a, []):
                await self.stream.send(command)
        for r in batches(removed, self._batch):
            for command in conn.market_updates([], r):
                await self.stream.send(command)

    # --- resync --------------------------------------------------------------------------------

    def _request_snapshots(self, sid: int, tickers: list[str]) -> bool:
        if self.stream.conn is None:
            return False
        return self.stream.send_soon(self.handler.conn.update_markets(sid, "get_snapshot", tickers))

    def on_rest_mismatch(self, ticker: str, book: OrderBook, diffs: list[LevelDiff]) -> None:
        sid = book.sid or self.handler.conn.subs.sid("orderbook_delta") or 0
        detail, now_us = f"{len(diffs)} levels differ: {diffs[:3]}", int(self._clock() * US)
        if self.tape is not None:
            self.tape.crosscheck(now_us, ticker, "differs", sid, detail, conn=self.conn_number, lane=self.number)
        self.resync.rest_mismatch(ticker, sid, detail, now_us)

    def record_verdict(self, ticker: str, verdict: str) -> None:
        """A cross-check's outcome on one of this lane's markets, for the raw tape."""
        if self.tape is not None:
            self.tape.crosscheck(self.tape.now_us(), ticker, verdict, conn=self.conn_number, lane=self.number)

    def _record_retry(self, now_us: int, sid: int, tickers: list[str]) -> None:
        if self.tape is not None:
            self.tape.retry(now_us, sid, tickers, conn=self.conn_number, lane=self.number)

    def retry_stuck(self) -> None:
        if self.stream.connected:
            conn = self.handler.conn
            self.resync.retry_stuck(conn.subs.sid("orderbook_delta"), self.markets, conn.subscribed_at)


class Lanes:
    """Every lane of the collector, lane 0 first; a lane opened while running starts at once."""

    def __init__(self, wiring: LaneWiring, *, first_ready: Callable[[], Awaitable[bool]],
                 on_new: Callable[[int, Lane], None]) -> None:
        self._wiring = wiring
        self._first_ready = first_ready
        self._on_new = on_new
        self._lanes: list[Lane] = []
        self._tasks: list[asyncio.Task] = []
        self._running = False
        self._add()

    def __iter__(self) -> Iterator[Lane]:
        return iter(list(self._lanes))

    def __len__(self) -> int:
        return len(self._lanes)

    def __getitem__(self, number: int) -> Lane:
        return self._lanes[number]

    def get(self, number: int) -> Lane:
        """Lane ``number``, opening lanes up to it (they connect once they have markets)."""
        while len(self._lanes) <= number:
            self._add()
        return self._lanes[number]

    def _add(self) -> None:
        number = len(self._lanes)
        if number == 0:
            lane = Lane(0, self._wiring, ready=self._first_ready)
        else:
            lane = Lane(number, self._wiring, ready=lambda: _has_markets(lane))
        self._lanes.append(lane)
        self._on_new(number, lane)
        if self._running:
            self._tasks.append(asyncio.create_task(lane.stream.run(), name=f"stream-{number}"))

    async def run(self) -> None:
        """Every lane's stream until stopped (lanes opened later add their task as they open)."""
        self._running = True
        self._tasks = [asyncio.create_task(ln.stream.run(), name=f"stream-{ln.number}") for ln in self._lanes]
        try:
            while not all(t.done() for t in self._tasks):
                await asyncio.gather(*self._tasks)
        finally:
            self._running = False
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _has_markets(lane: Lane) -> bool:
    """A lane beyond the first connects once discovery has given it markets."""
    if lane.markets:
        return True
    await lane.stream.sleep(5.0)
    return False
