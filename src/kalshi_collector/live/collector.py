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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kalshi_collector.book import BookStore, LevelDiff, OrderBook
from kalshi_collector.config import Config
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient
from kalshi_collector.live.counters import Counters, Lag
from kalshi_collector.live.crosscheck import CrossCheck
from kalshi_collector.live.discovery import Discovery, TrackedMarket
from kalshi_collector.live.frames import FrameHandler
from kalshi_collector.live.lane import Lane, Lanes, LaneWiring
from kalshi_collector.live.lanes import LanePlan
from kalshi_collector.live.priority import ReadLoopPriority
from kalshi_collector.live.rawtape import RawTape
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
    nudge_coalesce_seconds: float = 10.0  # following the exchange: lifecycle news gathered this long


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
        self.store = store or LiveStore(config.storage.data_dir, collector_id=config.storage.collector_id,
                                        writer_process_min_rows=config.storage.writer_process_min_rows or None)
        self.stop_report: StopReport | None = None  # set once stopped: rows a full disk kept out of parts
        self.tape = RawTape.for_store(self.store, clock=clock) if col.raw_tape else None
        if self.tape is not None:
            self.rest.on_body = self.tape.rest
        self.discovery = Discovery(self.rest, config.events, config.event_series, on_reject=self._rest_reject,
                                   follow_all=col.follow_all, categories=col.follow_categories)
        self.books = BookStore()
        self.markets: dict[str, TrackedMarket] = {}
        self.counters = Counters()
        self.stopping = asyncio.Event()
        self.valid_at_stop = 0
        self.snapshots = SnapshotCycle(self.books, self.store, self.counters, col, self.tape)
        self.upkeep = StoreUpkeep(self.store, config.storage, self.stopping,
                                  compact_check_interval=opts.compact_check_interval, clock=clock)
        self.lag = Lag()
        self.plan = LanePlan(col.markets_per_connection, col.max_connections)
        self._wiring = LaneWiring(
            url=config.kalshi.ws_url, signer=KalshiSigner.from_files(key_id, key_path), books=self.books,
            sink=self.store, counters=self.counters, lag=self.lag, clock=clock, stopping=self.stopping,
            stall_timeout=col.stall_timeout_seconds, resync_retry_seconds=opts.resync_retry_seconds,
            subscribe_batch=min(col.subscribe_batch, col.markets_per_connection), on_ticker=self.snapshots.on_ticker,
            on_market_lifecycle=self.discovery.on_market_lifecycle,
            on_event_lifecycle=self.discovery.on_event_lifecycle, tape=self.tape,
        )
        self.lanes = Lanes(self._wiring, first_ready=self._ready, on_new=self._new_lane)
        self.crosscheck = CrossCheck(self.books, self.rest.get_orderbook, self.counters,
                                     on_mismatch=self._on_rest_mismatch, on_verdict=self._verdict)
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
        priority = ReadLoopPriority()  # GIL switch interval and GC cadence: see live/priority.py
        priority.apply()
        for service in services:
            await service.start()
        rest_check = self.config.collection.rest_check_interval_seconds
        tasks = [asyncio.create_task(coro, name=name) for name, coro in (
            ("stream", self.lanes.run()),
            ("snapshots", self._every(self.opts.snapshot_tick, self._snapshot_if_due)),
            ("flush", self.upkeep.flush_loop()),
            ("compact", self.upkeep.compact_loop()),
            ("discovery", self._discovery_task()),
            ("cross-check", self._every(rest_check, self._crosscheck_next) if rest_check else asyncio.sleep(0)),
            ("resync", self._every(_RESYNC_CHECK_SECONDS, self._retry_stuck_resyncs)),
            ("stats", self._every(self.opts.stats_interval, lambda: log.info(self.stats_line()))),
            ("gc-settle", priority.settle(lambda: self.books.all_valid(self.markets))),
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
            priority.restore()

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for t, r in zip(tasks, results, strict=True):
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                log.error("task %s failed: %r", t.get_name(), r)
        for lane in self.lanes:
            if lane.stream.conn is not None:
                await lane.stream.conn.close()
        await self.rest.close()
        self.stop_report = await asyncio.to_thread(self.store.close,
                                                   self.config.storage.stop_wait_for_space_seconds)
        st = self.store.stats
        log.info("stopped; rows written %s, %d still buffered", st["rows_written"], st["buffered_rows"])

    def stop(self) -> None:
        self.stopping.set()

    def view(self) -> CollectorView:
        """The collector at this instant, for health, metrics and the stats line (every lane)."""
        lanes = self.lanes
        activity = [ln.stream.conn.last_activity for ln in lanes if ln.stream.conn is not None]
        return CollectorView(
            now=self.clock(), markets=len(self.markets), books_valid=self.books.valid_count(),
            connected=all(ln.stream.connected for ln in lanes if ln.markets or ln.number == 0),
            subscribed_channels=frozenset(c for ln in lanes for c in ln.handler.conn.subs.sid_by_channel),
            subscriptions=tuple(p for ln in lanes for p in ln.handler.conn.positions()),
            last_frame_at=min(activity) if activity else None, counters=self.counters.copy(), lag=self.lag.copy(),
            awaiting_resync=tuple(t for ln in lanes for t in ln.resync.waiting_since()),
            last_good_flush_at=self.upkeep.last_good_flush_at, store=self.store.stats, rest=copy.copy(self.rest.stats),
            stopping=self.stopping.is_set(),
        )

    # ================================================================== lanes (one connection each)

    @property
    def stream(self) -> Stream:
        """Lane 0's stream (the only one unless more markets than one connection carries)."""
        return self.lanes[0].stream

    @property
    def handler(self) -> FrameHandler:
        return self.lanes[0].handler

    @property
    def resync(self) -> Resync:
        return self.lanes[0].resync

    def _new_lane(self, number: int, lane: Lane) -> None:
        """Called with every lane as it is built (a benchmark overrides it to observe each handler)."""

    async def _ready(self) -> bool:
        """Connect only with something to subscribe; otherwise look again after a while."""
        if not self.markets:
            await self._refresh_markets()
        if self.lanes[0].markets:
            return True
        await self.stream.sleep(min(30.0, self.config.collection.discovery_interval_seconds))
        return False

    def _lane_of(self, ticker: str) -> Lane:
        """The lane that carries ``ticker`` (lane 0 for a market on none): its resync acts on it."""
        lane = self.plan.lane_of(ticker)
        return self.lanes[lane if lane is not None else 0]

    def _on_rest_mismatch(self, ticker: str, book: OrderBook, diffs: list[LevelDiff]) -> None:
        self._lane_of(ticker).on_rest_mismatch(ticker, book, diffs)

    def _verdict(self, ticker: str, verdict: str) -> None:
        self._lane_of(ticker).record_verdict(ticker, verdict)

    # ================================================================== markets

    async def _refresh_markets(self) -> None:
        try:
            found = await self.discovery.discover()
        except ApiError as exc:
            log.warning("discovery failed, keeping the current %d markets: %s", len(self.markets), exc)
            return
        if not self.plan.unplaced and found == self.markets:
            return  # the usual rediscovery: one comparison in C (~1.6 ms at 20,000 markets), nothing rebuilt
        changes = self.plan.assign(found)
        if self.plan.unplaced:
            col = "collection.markets_per_connection x collection.max_connections"
            log.error("%d markets not followed: %s = %d markets is the most this collector carries; "
                      "raise one of them (or follow fewer)", len(self.plan.unplaced), col,
                      self.plan.per_lane * self.plan.max_lanes)
        unplaced = set(self.plan.unplaced)
        removed = sorted(self.markets.keys() - found.keys())
        tracked = {t: m for t, m in found.items() if t not in unplaced} if unplaced else found
        changed = tracked != self.markets or bool(changes)
        if not changed:  # the usual rediscovery: nothing to do, nothing rebuilt
            return
        self.markets = tracked
        if self.tape is not None:  # before any effect of it, with the books it drops
            lanes = [sorted(self.plan.markets(i)) for i in range(len(self.plan))]
            self.tape.markets(self.tape.now_us(), tracked, removed, lanes)
        self.snapshots.set_markets(tracked)
        added = sum(len(c.added) for c in changes)
        if added or removed:
            log.info("markets: %d tracked (+%d -%d) on %d connection(s)", len(tracked), added,
                     len(removed), len(self.plan))
        # every state change at once, so the raw tape's `markets` record is the whole change
        for change in changes:
            self.lanes.get(change.lane).move_markets(change.added, change.removed)
        for t in removed:
            self.books.remove(t)
        for change in changes:
            await self.lanes.get(change.lane).send_market_changes(change.added, change.removed)

    # ================================================================== tasks

    async def _discovery_task(self) -> None:
        interval, nudged = self.config.collection.discovery_interval_seconds, self.discovery.nudged
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(nudged.wait(), interval)
            if nudged.is_set() and self.config.collection.follows_exchange:
                # a whole exchange opens and settles markets all the time: one listing per
                # burst of lifecycle news, not one per message
                await self.stream.sleep(self.opts.nudge_coalesce_seconds)
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

    async def _retry_stuck_resyncs(self) -> None:
        """The one caller of the stuck-resync retry (every second, while connected). Each lane's
        scan (its 4,000 markets at scale: about a millisecond) gets a loop turn of its own."""
        for lane in self.lanes:
            lane.retry_stuck()
            await asyncio.sleep(0)

    async def _crosscheck_next(self) -> None:
        ticker = self.crosscheck.next_ticker(self.markets)
        if ticker is not None:
            await self.crosscheck.check(ticker)

    def stats_line(self) -> str:
        """One log line of rates since the previous one (which also restarts the lag maximum)."""
        line = self._stats.line(self.view())
        self.lag.period_max = 0.0
        return line
