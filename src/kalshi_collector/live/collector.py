"""The live collector: the supervisor that builds the parts, wires their callables, runs their tasks.

Parts (each owns its state): ``Stream`` (connection), ``FrameHandler`` (the read path: seq, books,
tape rows), ``Resync``, ``CrossCheck``, ``SnapshotCycle``, ``StoreUpkeep`` (flush, compaction),
``Discovery``. Tasks: stream, snapshots, flush, compact, discovery, cross-check, resync retry,
stats. Health and metrics are not started here: the ``collect`` command hands :meth:`Collector.run`
the monitor as a service, and it reads :meth:`Collector.view`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kalshi_collector.book import BookStore, LevelDiff, OrderBook
from kalshi_collector.config import Config
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient
from kalshi_collector.kalshi.ws import WsConnection
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.crosscheck import CrossCheck
from kalshi_collector.live.discovery import Discovery, TrackedMarket
from kalshi_collector.live.frames import FrameHandler
from kalshi_collector.live.resync import Resync
from kalshi_collector.live.snapshot_cycle import SnapshotCycle
from kalshi_collector.live.stream import Stream
from kalshi_collector.live.tape import REJECTS, US, reject_row
from kalshi_collector.live.upkeep import StoreUpkeep
from kalshi_collector.live.view import CollectorView, StatsLine
from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.closing import StopReport

__all__ = ["Collector", "CollectorOptions", "Service"]

log = logging.getLogger(__name__)

_RESYNC_CHECK_SECONDS = 1.0  # how often the resync retry looks for stuck books


@dataclass
class CollectorOptions:
    """Knobs that are not user config: timings a test or the demo wants shorter."""

    stats_interval: float = 60.0
    snapshot_tick: float = 0.05
    resync_retry_seconds: float = 10.0
    compact_check_interval: float = 3600.0


class Service(Protocol):
    """Something that runs beside the collector (health and metrics): started once the collector
    has recovered its store, stopped as soon as it begins to stop."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Collector:
    def __init__(self, config: Config, *, options: CollectorOptions | None = None,
                 clock: Callable[[], float] = time.time, store: LiveStore | None = None) -> None:
        """``store``: the live store to write to (default: one on ``storage.data_dir``; tests hand
        in one over a faulty file layer)."""
        self.config = config
        self.opts = opts = options or CollectorOptions()
        self.clock = clock
        col = config.collection
        key_id, key_path = config.require_credentials("the WebSocket")
        self.rest = KalshiRestClient.from_config(config)
        self.store = store or LiveStore(config.storage.data_dir, collector_id=config.storage.collector_id)
        self.stop_report: StopReport | None = None  # set once stopped: rows a full disk kept out of parts
        self.discovery = Discovery(self.rest, config.events, config.event_series, on_reject=self._rest_reject)
        self.books = BookStore()
        self.markets: dict[str, TrackedMarket] = {}
        self.counters = Counters()
        self.stopping = asyncio.Event()
        self.valid_at_stop = 0
        self.snapshots = SnapshotCycle(self.books, self.store, self.counters, col)
        self.upkeep = StoreUpkeep(self.store, config.storage, self.stopping,
                                  compact_check_interval=opts.compact_check_interval, clock=clock)
        self.resync = Resync(self.books, self.store, self.counters, request=self._request_snapshots,
                             retry_seconds=opts.resync_retry_seconds, clock=clock)
        self.handler = FrameHandler(
            self.books, self.resync, self.store, self.counters, clock=clock,
            on_ticker=self.snapshots.on_ticker, on_market_lifecycle=self.discovery.on_market_lifecycle,
            on_event_lifecycle=self.discovery.on_event_lifecycle, on_terminal_error=lambda: self.stream.drop(),
        )
        self.stream = Stream(
            config.kalshi.ws_url, KalshiSigner.from_files(key_id, key_path), self.counters,
            ready=self._ready, on_connected=self._subscribe_all, on_frame=self.handler.on_frame,
            on_disconnected=self.handler.connection_closed, stall_timeout=col.stall_timeout_seconds,
            clock=clock, stopping=self.stopping,
        )
        self.crosscheck = CrossCheck(self.books, self.rest.get_orderbook, self.counters,
                                     on_mismatch=self._on_rest_mismatch)
        self._stats = StatsLine(clock())

    def _rest_reject(self, source: str, raw: bytes, reason: str) -> None:
        """A REST item that could not be decoded: kept raw in ``rejects`` (the rest of its page was kept)."""
        log.warning("%s: kept an unreadable item in rejects: %s", source, reason)
        self.counters.note_reject(source)
        self.store.append(REJECTS, reject_row(int(self.clock() * US), source, None, raw, reason))

    # ================================================================== lifecycle

    async def run(self, duration: float | None = None, *, services: Sequence[Service] = ()) -> None:
        """Run until :meth:`stop` (SIGINT/SIGTERM) or ``duration`` seconds; always flush on the way out."""
        recovered = await asyncio.to_thread(self.store.recover)
        if any(recovered.values()):
            log.warning("recovered rows from the journal after an unclean stop: %s", dict(recovered))
        await self.rest.open()
        # The read loop shares the GIL with the journal and flush threads; a shorter switch interval
        # than the default 5 ms keeps it from waiting behind them (receive-to-applied latency).
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        for service in services:
            await service.start()
        rest_check = self.config.collection.rest_check_interval_seconds
        tasks = [asyncio.create_task(coro, name=name) for name, coro in (
            ("stream", self.stream.run()),
            ("snapshots", self._every(self.opts.snapshot_tick, self._snapshot_if_due)),
            ("flush", self.upkeep.flush_loop()),
            ("compact", self.upkeep.compact_loop()),
            ("discovery", self._discovery_task()),
            ("cross-check", self._every(rest_check, self._crosscheck_next) if rest_check else asyncio.sleep(0)),
            ("resync", self._every(_RESYNC_CHECK_SECONDS, self._retry_stuck_resyncs)),
            ("stats", self._every(self.opts.stats_interval, lambda: log.info(self.stats_line()))),
        )]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), duration)
        finally:
            self.stopping.set()
            self.valid_at_stop = self.books.valid_count()
            for service in services:
                await service.stop()
            await self._shutdown(tasks)
            sys.setswitchinterval(switch_interval)

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for t, r in zip(tasks, results, strict=True):
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                log.error("task %s failed: %r", t.get_name(), r)
        if self.stream.conn is not None:
            await self.stream.conn.close()
        await self.rest.close()
        self.stop_report = await asyncio.to_thread(self.store.close,
                                                   self.config.storage.stop_wait_for_space_seconds)
        st = self.store.stats
        log.info("stopped; rows written %s, %d still buffered", st["rows_written"], st["buffered_rows"])

    def stop(self) -> None:
        self.stopping.set()

    def view(self) -> CollectorView:
        """The collector at this instant, for health, metrics and the stats line."""
        conn, ws = self.handler.conn, self.stream.conn
        return CollectorView(
            now=self.clock(), markets=len(self.markets), books_valid=self.books.valid_count(),
            connected=self.stream.connected, subscribed_channels=frozenset(conn.subs.sid_by_channel),
            subscriptions=tuple(conn.positions()), last_frame_at=ws.last_activity if ws is not None else None,
            counters=self.counters.copy(), lag=self.handler.lag.copy(), awaiting_resync=self.resync.waiting_since(),
            last_good_flush_at=self.upkeep.last_good_flush_at, store=self.store.stats, rest=copy.copy(self.rest.stats),
            stopping=self.stopping.is_set(),
        )

    # ================================================================== the stream's callables

    async def _ready(self) -> bool:
        """Connect only with something to subscribe; otherwise look again after a while."""
        if not self.markets:
            await self._refresh_markets()
        if self.markets:
            return True
        await self.stream.sleep(min(30.0, self.config.collection.discovery_interval_seconds))
        return False

    async def _subscribe_all(self, ws: WsConnection) -> None:
        state = self.handler.connection_opened(ws.number)
        await ws.send(state.subscribe_markets(sorted(self.markets)))
        await ws.send(state.subscribe_lifecycle())
        state.subscribed_at = self.clock()

    def _request_snapshots(self, sid: int, tickers: list[str]) -> bool:
        if self.stream.conn is None:
            return False
        return self.stream.send_soon(self.handler.conn.update_markets(sid, "get_snapshot", tickers))

    def _on_rest_mismatch(self, ticker: str, book: OrderBook, diffs: list[LevelDiff]) -> None:
        sid = book.sid or self.handler.conn.subs.sid("orderbook_delta") or 0
        self.resync.rest_mismatch(ticker, sid, f"{len(diffs)} levels differ: {diffs[:3]}")

    # ================================================================== markets

    async def _refresh_markets(self) -> None:
        try:
            found = await self.discovery.discover()
        except ApiError as exc:
            log.warning("discovery failed, keeping the current %d markets: %s", len(self.markets), exc)
            return
        added = sorted(set(found) - set(self.markets))
        removed = sorted(set(self.markets) - set(found))
        self.markets = found
        self.snapshots.set_markets(found)
        if added or removed:
            log.info("markets: %d tracked (+%d -%d)", len(found), len(added), len(removed))
        if self.stream.conn is None or not self.stream.connected:
            return
        for command in self.handler.conn.market_updates(added, removed):
            await self.stream.send(command)
        for t in removed:
            self.books.remove(t)
        self.resync.forget(removed)

    # ================================================================== tasks

    async def _discovery_task(self) -> None:
        interval, nudged = self.config.collection.discovery_interval_seconds, self.discovery.nudged
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(nudged.wait(), interval)
            nudged.clear()
            if self.stopping.is_set():
                return
            await self._refresh_markets()

    async def _every(self, seconds: float, action: Callable[[], Awaitable[object] | None]) -> None:
        """Run ``action`` every ``seconds`` until stopping (awaiting it when it is a coroutine)."""
        while not self.stopping.is_set():
            await asyncio.sleep(seconds)
            if self.stopping.is_set():
                return
            result = action()
            if inspect.isawaitable(result):
                await result

    async def _snapshot_if_due(self) -> None:
        now = self.clock()
        trigger = self.snapshots.due(now)
        if trigger is not None and self.markets:
            await self.snapshots.run(trigger, now)  # in chunks: the read loop runs between them

    def _retry_stuck_resyncs(self) -> None:
        """The one caller of the stuck-resync retry (every second, while connected)."""
        if self.stream.connected:
            conn = self.handler.conn
            self.resync.retry_stuck(conn.subs.sid("orderbook_delta"), self.markets, conn.subscribed_at)

    async def _crosscheck_next(self) -> None:
        ticker = self.crosscheck.next_ticker(self.markets)
        if ticker is not None:
            await self.crosscheck.check(ticker)

    def stats_line(self) -> str:
        """One log line of rates since the previous one (which also restarts the lag maximum)."""
        line = self._stats.line(self.view())
        self.handler.lag.period_max = 0.0
        return line
