"""The live collector: WebSocket in, books in memory, tape and snapshots out to the store.

Tasks running side by side in one event loop:

* **stream** — connect (signed), subscribe, read frames; on any failure invalidate every book,
  back off (capped, jittered) and reconnect. The read loop is synchronous per frame and does the
  least work that keeps books exact: decode once, check ``seq`` per sid, append the tape row,
  apply to the book. No queue sits between the socket and the book: TCP is the backpressure, so
  nothing can be dropped in between.
* **snapshots** — scheduler (interval + time-of-day overrides) and spike detector decide; the
  builder captures every tracked market under one ``snapshot_ts``.
* **journal** — the store's own thread moves rows appended since the last sync into the
  write-ahead journal every 0.2 s (fsync); a ``kill -9`` after that loses nothing.
* **flush** — every ``flush_interval_seconds``, buffered rows become parquet part files.
* **discovery** — every few minutes (or when lifecycle messages say so) the market set is
  re-listed and subscriptions updated.
* **cross-check** — one market at a time, the local book is compared with REST's order book;
  a real difference invalidates and resyncs it.
* **stats** — one log line per period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kalshi_collector.book import BookStatus, BookStore
from kalshi_collector.config import Config
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient
from kalshi_collector.kalshi.ws import Backoff, HandshakeRefused, StreamClosed, WsConnection
from kalshi_collector.live.discovery import Discovery, TrackedMarket
from kalshi_collector.live.scheduler import SnapshotScheduler, SpikeDetector
from kalshi_collector.live.sequence import SeqStatus, SequenceTracker
from kalshi_collector.live.snapshot import SnapshotBuilder
from kalshi_collector.live.subscriptions import MARKET_CHANNELS, PendingCommand, Subscriptions
from kalshi_collector.storage import LiveStore

__all__ = ["Collector", "CollectorOptions"]

log = logging.getLogger(__name__)

_US = 1_000_000


@dataclass
class CollectorOptions:
    """Knobs that are not user config: timings a test or the demo wants shorter."""

    stats_interval: float = 60.0
    snapshot_tick: float = 0.05
    resync_retry_seconds: float = 10.0
    compact_check_interval: float = 3600.0


class Collector:
    def __init__(
        self,
        config: Config,
        *,
        options: CollectorOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.opts = options or CollectorOptions()
        self.clock = clock
        col = config.collection
        key_id, key_path = config.require_credentials("the WebSocket")
        self.signer = KalshiSigner.from_files(key_id, key_path)
        self.rest = KalshiRestClient.from_config(config)
        self.store = LiveStore(config.storage.data_dir, collector_id=config.storage.collector_id)
        self.discovery = Discovery(self.rest, config.events, config.event_series)
        self.books = BookStore()
        self.seq = SequenceTracker()
        self.scheduler = SnapshotScheduler(col.interval_seconds, col.interval_overrides)
        self.spikes = SpikeDetector(col.spike_threshold_cents, col.spike_cooldown_seconds)
        self.builder = SnapshotBuilder(max_depth=col.max_orderbook_depth)
        self.markets: dict[str, TrackedMarket] = {}
        self.subs = Subscriptions()
        self.counters: Counter[str] = Counter()
        self.conn: WsConnection | None = None
        self.connected = asyncio.Event()
        self.stopping = asyncio.Event()
        self._rediscover = asyncio.Event()
        # ticker -> (gap_ts_us, sid, expected, received): books waiting for a resync snapshot
        self._awaiting: dict[str, tuple[int, int, int | None, int | None]] = {}
        self._resync_requested_at: dict[str, float] = {}
        self._rest_check_cursor = 0
        # Exchange-to-receive lag of order-book deltas: monotonic totals (read by metrics at scrape
        # time) and the largest value since the last stats line.
        self.lag_sum_total = 0.0
        self.lag_count_total = 0
        self.lag_max_period = 0.0
        self._lag_at_last_stats = (0.0, 0)
        self._last_stats = (clock(), 0)
        self.last_flush_ok = clock()
        self._backoff = Backoff()
        self._warned: dict[str, float] = {}
        self.valid_at_stop = 0
        self._conn_id = 0  # id of the current connection, recorded on every tape row
        self._connected_at = 0.0

    # ================================================================== lifecycle

    async def run(self, duration: float | None = None) -> None:
        """Run until :meth:`stop` (SIGINT/SIGTERM) or ``duration`` seconds; always flush on the way out."""
        recovered = await asyncio.to_thread(self.store.recover)
        if any(recovered.values()):
            log.warning("recovered rows from the journal after an unclean stop: %s", dict(recovered))
        await self.rest.open()
        # The read loop shares the GIL with the journal and flush threads; a shorter switch interval
        # than the default 5 ms keeps it from waiting behind them (receive-to-applied latency).
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        from kalshi_collector.live.metrics import start_monitoring  # /healthz, /metrics, sd_notify

        self.monitor = await start_monitoring(self)
        tasks = [
            asyncio.create_task(self._stream_task(), name="stream"),
            asyncio.create_task(self._snapshot_task(), name="snapshots"),
            asyncio.create_task(self._flush_task(), name="flush"),
            asyncio.create_task(self._discovery_task(), name="discovery"),
            asyncio.create_task(self._crosscheck_task(), name="cross-check"),
            asyncio.create_task(self._stats_task(), name="stats"),
            asyncio.create_task(self._compact_task(), name="compact"),
        ]
        try:
            if duration is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), duration)
            else:
                await self.stopping.wait()
        finally:
            self.stopping.set()
            self.valid_at_stop = self.books.valid_count()
            await self.monitor.stop()
            for t in tasks:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for t, r in zip(tasks, results, strict=True):
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                    log.error("task %s failed: %r", t.get_name(), r)
            if self.conn is not None:
                await self.conn.close()
            await self.rest.close()
            await asyncio.to_thread(self.store.close)
            sys.setswitchinterval(switch_interval)
            st = self.store.stats
            log.info("stopped; rows written %s, %d still buffered", st["rows_written"], st["buffered_rows"])

    def stop(self) -> None:
        self.stopping.set()

    @property
    def awaiting_resync(self) -> dict[str, tuple[int, int, int | None, int | None]]:
        """Markets whose book is waiting for a fresh snapshot: ticker -> (since_us, sid, expected, received)."""
        return self._awaiting

    # ================================================================== stream

    async def _stream_task(self) -> None:
        cfg = self.config
        while not self.stopping.is_set():
            if not self.markets:
                await self._refresh_markets()
                if not self.markets:
                    await self._sleep(min(30.0, cfg.collection.discovery_interval_seconds))
                    continue
            try:
                self.conn = await WsConnection.connect(
                    cfg.kalshi.ws_url, self.signer, stall_timeout=cfg.collection.stall_timeout_seconds, clock=self.clock
                )
                self.counters["connects"] += 1
                log.info("connected to %s (connection %d)", cfg.kalshi.ws_url, self.conn.number)
                await self._subscribe_all()
                self._conn_id = self.conn.number
                self._connected_at = self.clock()
                self.connected.set()
                healthy_after = self.clock() + 10.0
                async for recv_ts, frame in self.conn.frames():
                    self.on_frame(recv_ts, frame)
                    if healthy_after and recv_ts > healthy_after:
                        self._backoff.reset()
                        healthy_after = 0.0
            except HandshakeRefused as exc:
                self.counters["handshake_refused"] += 1
                log.error("%s — check kalshi.api_key_id and the private key", exc)
            except StreamClosed as exc:
                self.counters["disconnects"] += 1
                log.warning("stream lost: %s", exc)
            except Exception:  # a bug must cost a reconnect, never the stream for the rest of the run
                self.counters["disconnects"] += 1
                self.counters["stream_errors"] += 1
                log.exception("unexpected error in the stream; reconnecting")
            finally:
                self.connected.clear()
                if self.conn is not None:
                    await self.conn.close()
                    self._on_disconnect(self.conn.number, "stopping" if self.stopping.is_set() else "lost")
                    self.conn = None
            if self.stopping.is_set():
                return
            delay = self._backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            await self._sleep(delay)

    def _on_disconnect(self, conn_number: int, why: str) -> None:
        now_us = int(self.clock() * _US)
        tickers = [b.ticker for b in self.books if b.valid]
        self.books.invalidate_all("disconnected")
        self.seq.reset_all()
        self.subs = Subscriptions()
        self._resync_requested_at.clear()
        for t in tickers:
            self._awaiting.setdefault(t, (now_us, 0, None, None))
        action = "stopped" if why == "stopping" else "disconnect"
        self._book_event(now_us, None, None, None, None, action, f"connection {conn_number} {why}; {len(tickers)} books invalidated")

    async def _subscribe_all(self) -> None:
        tickers = sorted(self.markets)
        conn = self.conn
        assert conn is not None
        cid = conn.next_id()
        self.subs.expect(cid, PendingCommand("subscribe", MARKET_CHANNELS, tuple(tickers)))
        await conn.send(wm.subscribe(cid, list(MARKET_CHANNELS), tickers, use_yes_price=False))
        cid = conn.next_id()
        self.subs.expect(cid, PendingCommand("subscribe", ("market_lifecycle_v2",)))
        await conn.send(wm.subscribe(cid, ["market_lifecycle_v2"]))

    async def _send(self, payload: bytes) -> None:
        if self.conn is None:
            return
        try:
            await self.conn.send(payload)
        except StreamClosed as exc:
            log.warning("could not send a command: %s", exc)

    def _send_soon(self, payload: bytes) -> None:
        asyncio.get_running_loop().create_task(self._send(payload))

    # ================================================================== the read loop (hot path)

    def on_frame(self, recv_ts: float, frame: str | bytes) -> None:
        """Handle one frame synchronously. Never raises: a bad frame is logged, counted and skipped."""
        try:
            msg = wm.decode(frame)
        except wm.MessageError as exc:
            self.counters["malformed"] += 1
            self._warn_limited("malformed", "skipping malformed frame: %s", exc)
            return
        t = type(msg)
        try:
            if t is wm.OrderbookDelta:
                self._on_delta(recv_ts, msg)  # type: ignore[arg-type]
            elif t is wm.Ticker:
                self._on_ticker(recv_ts, msg)  # type: ignore[arg-type]
            elif t is wm.Trade:
                self._on_trade(recv_ts, msg)  # type: ignore[arg-type]
            elif t is wm.OrderbookSnapshot:
                self._on_snapshot(recv_ts, msg)  # type: ignore[arg-type]
            else:
                self._on_control(recv_ts, msg)
        except Exception as exc:  # a bug or a shape we did not foresee must not kill the daemon
            self.counters["handler_errors"] += 1
            self._warn_limited("handler", "error handling %s: %r", t.__name__, exc)
        self.counters["messages"] += 1

    def _check_seq(self, recv_ts: float, sid: int, seq: int) -> bool:
        """True if the message is in order; otherwise records the doubt and starts the resync."""
        check = self.seq.observe(sid, seq)
        if check.status is SeqStatus.OK:
            return True
        self._on_sequence_break(recv_ts, sid, check.status.value, check.expected, seq)
        return check.status is SeqStatus.GAP  # a gap's message itself is new (dups/reorders are not)

    def _on_sequence_break(self, recv_ts: float, sid: int, kind: str, expected: int | None, received: int | None) -> None:
        self.counters[f"seq_{kind}"] += 1
        now_us = int(recv_ts * _US)
        channel = self.subs.channel(sid) or "?"
        self._book_event(now_us, None, sid, expected, received, kind, f"channel {channel}")
        if channel != "orderbook_delta":
            # trades/lifecycle cannot be replayed over the WebSocket; the ledger says what was missed
            log.warning("%s on %s sid %d: expected seq %s, got %s", kind, channel, sid, expected, received)
            return
        tickers = set(self.subs.markets(sid)) | set(self.books.tickers_for_sid(sid))
        self.books.invalidate(tickers, f"{kind} on sid {sid}")
        for t in tickers:
            self._awaiting.setdefault(t, (now_us, sid, expected, received))
        log.warning("%s on orderbook sid %d (expected %s, got %s): resyncing %d books", kind, sid, expected, received, len(tickers))
        self._request_snapshots(sid, sorted(tickers))

    def _request_snapshots(self, sid: int, tickers: list[str]) -> None:
        if not tickers or self.conn is None:
            return
        now = self.clock()
        cid = self.conn.next_id()
        self.subs.expect(cid, PendingCommand("update_subscription", (), tuple(tickers), sid, "get_snapshot"))
        for t in tickers:
            self._resync_requested_at[t] = now
        self.counters["resync_requests"] += 1
        self._book_event(int(now * _US), None, sid, None, None, "resync_requested", f"{len(tickers)} markets")
        self._send_soon(wm.update_subscription(cid, "get_snapshot", tickers, sid=sid))

    def _on_delta(self, recv_ts: float, msg: wm.OrderbookDelta) -> None:
        in_order = self._check_seq(recv_ts, msg.sid, msg.seq)
        body = msg.msg
        ts_ms = body.ts_ms
        self.store.append(
            "orderbook_deltas",
            (
                int(recv_ts * _US),
                ts_ms * 1000 if ts_ms is not None else None,
                msg.sid,
                msg.seq,
                body.market_ticker,
                "delta",
                body.side,
                body.price_cents,
                body.delta_contracts,
                self._conn_id,
            ),
        )
        if ts_ms is not None:
            lag = recv_ts - ts_ms / 1000.0
            self.lag_sum_total += lag
            self.lag_count_total += 1
            if lag > self.lag_max_period:
                self.lag_max_period = lag
        if not in_order:
            return
        status = self.books.apply_delta(msg)
        if status is BookStatus.APPLIED or status is BookStatus.NOT_READY:
            return
        self._on_bad_book(recv_ts, msg.sid, body.market_ticker, status)

    def _on_bad_book(self, recv_ts: float, sid: int, ticker: str, status: BookStatus) -> None:
        self.counters[f"book_{status.value}"] += 1
        now_us = int(recv_ts * _US)
        self._book_event(now_us, ticker, sid, None, None, status.value, "book invalidated")
        self._awaiting.setdefault(ticker, (now_us, sid, None, None))
        # A book the exchange itself reports crossed would otherwise bounce snapshot requests
        # back and forth: at most one immediate request per market per second; the stuck-resync
        # retry asks again later.
        if self.clock() - self._resync_requested_at.get(ticker, 0.0) >= 1.0:
            self._request_snapshots(sid, [ticker])

    def _on_snapshot(self, recv_ts: float, msg: wm.OrderbookSnapshot) -> None:
        self._check_seq(recv_ts, msg.sid, msg.seq)
        body = msg.msg
        recv_us = int(recv_ts * _US)
        conn = self._conn_id
        rows = [
            (recv_us, None, msg.sid, msg.seq, body.market_ticker, "snapshot", side, price, qty, conn)
            for side, levels in (("yes", body.yes_levels()), ("no", body.no_levels()))
            for price, qty in levels
        ]
        if not rows:  # an empty book is still a reset: keep it on the tape
            rows.append((recv_us, None, msg.sid, msg.seq, body.market_ticker, "snapshot", None, None, None, conn))
        self.store.extend("orderbook_deltas", rows)
        status = self.books.apply_snapshot(msg)
        if status is not BookStatus.APPLIED:
            self._on_bad_book(recv_ts, msg.sid, body.market_ticker, status)
            return
        self._resync_requested_at.pop(body.market_ticker, None)
        waiting = self._awaiting.pop(body.market_ticker, None)
        if waiting is not None:
            gap_us, gap_sid, expected, received = waiting
            self.counters["recovered"] += 1
            self._book_event(gap_us, body.market_ticker, gap_sid or msg.sid, expected, received, "recovered",
                             f"resynced by snapshot seq {msg.seq}", recovered_us=recv_us)

    def _on_ticker(self, recv_ts: float, msg: wm.Ticker) -> None:
        ticker = msg.msg.market_ticker
        self.builder.update_ticker(msg.msg)
        # compare like with like: the detector sees the same quote the snapshot rows will hold
        self.spikes.observe(ticker, *self.builder.quote(self.books, ticker), recv_ts)

    def _on_trade(self, recv_ts: float, msg: wm.Trade) -> None:
        self._check_seq(recv_ts, msg.sid, msg.seq)
        b = msg.msg
        self.store.append(
            "trades_live",
            (
                int(recv_ts * _US),
                b.ts_ms * 1000,
                b.trade_id,
                b.market_ticker,
                b.yes_price_cents,
                b.no_price_cents,
                b.count,
                b.outcome_side,
                b.taker_book_side,
                b.is_block_trade,
                msg.sid,
                msg.seq,
            ),
        )

    def _on_control(self, recv_ts: float, msg: object) -> None:
        t = type(msg)
        if t is wm.Subscribed:
            m: wm.Subscribed = msg  # type: ignore[assignment]
            self.subs.on_subscribed(m.id, m.msg.channel, m.msg.sid)
            self.seq.forget(m.msg.sid)
            log.info("subscribed %s as sid %d", m.msg.channel, m.msg.sid)
        elif t is wm.Ok:
            ok: wm.Ok = msg  # type: ignore[assignment]
            if ok.sid is not None and ok.seq is not None:
                self._check_seq(recv_ts, ok.sid, ok.seq)
            self.subs.on_ok(ok.id, ok.sid, ok.market_tickers)
        elif t is wm.Unsubscribed:
            u: wm.Unsubscribed = msg  # type: ignore[assignment]
            self._check_seq(recv_ts, u.sid, u.seq)
            self.subs.on_unsubscribed(u.sid)
            self.seq.forget(u.sid)
        elif t is wm.Error:
            self._on_error(recv_ts, msg)  # type: ignore[arg-type]
        elif t is wm.MarketLifecycle:
            lc: wm.MarketLifecycle = msg  # type: ignore[assignment]
            self._check_seq(recv_ts, lc.sid, lc.seq)
            self._on_lifecycle(lc.msg)
        elif t is wm.EventLifecycle:
            ev: wm.EventLifecycle = msg  # type: ignore[assignment]
            self._check_seq(recv_ts, ev.sid, ev.seq)
            if ev.msg.series_ticker in self.config.event_series:
                self._rediscover.set()
        elif t is wm.UnknownMessage:
            un: wm.UnknownMessage = msg  # type: ignore[assignment]
            self.counters["unknown_type"] += 1
            self._warn_limited("unknown", "skipping message of unknown type %r", un.type)
            if un.sid is not None and un.seq is not None:
                self._check_seq(recv_ts, un.sid, un.seq)

    def _on_error(self, recv_ts: float, err: wm.Error) -> None:
        self.counters["ws_errors"] += 1
        if err.sid is not None and err.seq is not None:
            self._check_seq(recv_ts, err.sid, err.seq)
        pending = self.subs.on_error(err.id)
        what = f"{pending.cmd} {pending.action or ''}".strip() if pending else "?"
        log.warning("exchange error %d (%s) answering %s", err.msg.code, err.msg.msg, what)
        if err.terminal and err.sid is not None:
            # the subscription is dead (API.md 7): start over on a fresh connection
            log.error("subscription %d terminated by the exchange (code %d); reconnecting", err.sid, err.msg.code)
            if self.conn is not None:
                asyncio.get_running_loop().create_task(self.conn.close())

    def _on_lifecycle(self, body: wm.MarketLifecycleBody) -> None:
        ev = body.event_type
        if ev in ("determined", "settled", "deactivated", "close_date_updated"):
            if body.market_ticker in self.markets:
                self._rediscover.set()
        elif ev == "created":
            meta = body.additional_metadata
            event_ticker = meta.event_ticker if meta else None
            if event_ticker and (
                event_ticker in self.config.events
                or any(event_ticker.startswith(s + "-") for s in self.config.event_series)
            ):
                self._rediscover.set()

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
        self.builder.set_markets(found)
        if added or removed:
            log.info("markets: %d tracked (+%d -%d)", len(found), len(added), len(removed))
        if self.conn is None or not self.connected.is_set():
            return
        for channel in MARKET_CHANNELS:
            sid = self.subs.sid(channel)
            if sid is None:
                continue
            for action, tickers in (("add_markets", added), ("delete_markets", removed)):
                if tickers:
                    cid = self.conn.next_id()
                    self.subs.expect(cid, PendingCommand("update_subscription", (), tuple(tickers), sid, action))
                    await self._send(wm.update_subscription(cid, action, tickers, sid=sid))  # type: ignore[arg-type]
        for t in removed:
            self.books.remove(t)
            self._awaiting.pop(t, None)

    async def _discovery_task(self) -> None:
        interval = self.config.collection.discovery_interval_seconds
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rediscover.wait(), interval)
            self._rediscover.clear()
            if self.stopping.is_set():
                return
            await self._refresh_markets()
            self._retry_stuck_resyncs()

    def _retry_stuck_resyncs(self) -> None:
        """A lost snapshot would leave a book invalid for ever: ask again after a while.

        A market never asked for counts from the moment the connection subscribed, so the
        snapshots a fresh subscription is still delivering are not requested twice.
        """
        sid = self.subs.sid("orderbook_delta")
        if sid is None or not self.connected.is_set():
            return
        now = self.clock()
        stale = [
            t for t in self.markets
            if not self.books.is_valid(t)
            and now - self._resync_requested_at.get(t, self._connected_at) > self.opts.resync_retry_seconds
        ]
        if stale:
            self._request_snapshots(sid, sorted(stale))

    # ================================================================== snapshots

    async def _snapshot_task(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(self.opts.snapshot_tick)
            if self.stopping.is_set():
                return
            now = self.clock()
            when = datetime.fromtimestamp(now, UTC)
            trigger = None
            if self.scheduler.is_due(when):
                trigger = "periodic"
            elif self.spikes.should_snapshot(now):
                trigger = "spike"
            if trigger is None or not self.markets:
                continue
            self.take_snapshot(trigger, now)
            if self.opts.resync_retry_seconds and self.connected.is_set():
                self._retry_stuck_resyncs()

    def take_snapshot(self, trigger: str, now: float) -> None:
        ts_us = int(now * _US)
        snap = self.builder.build(self.books, ts_us, trigger)
        self.store.extend("market_snapshots", snap.market_rows)
        self.store.extend("orderbook_snapshots", snap.orderbook_rows())
        self.scheduler.record(datetime.fromtimestamp(now, UTC))
        self.spikes.record_snapshot(self.builder.reference_values(), now)
        self.counters[f"snapshots_{trigger}"] += 1

    # ================================================================== storage tasks

    async def _flush_task(self) -> None:
        """Flush every ``flush_interval_seconds``, or sooner when ``max_buffered_rows`` is reached:
        at high message rates the time rule alone would hold minutes of rows in memory.

        After a failed flush (disk full...) the rows stay buffered and journaled, and the next
        attempt waits a growing, capped delay instead of hammering a broken disk.
        """
        interval = self.config.storage.flush_interval_seconds
        limit = self.config.storage.max_buffered_rows
        retry = Backoff(initial=1.0, cap=min(60.0, interval))
        earliest = 0.0
        while not self.stopping.is_set():
            due = self.clock() + interval
            while not self.stopping.is_set() and (
                self.clock() < earliest or (self.clock() < due and self.store.buffered_rows < limit)
            ):
                await asyncio.sleep(min(1.0, interval))
            if self.stopping.is_set():
                return
            started = time.perf_counter()
            written = await asyncio.to_thread(self.store.flush)
            if self.store.stats.get("last_flush_ok", True):
                self.last_flush_ok = self.clock()
                retry.reset()
                earliest = 0.0
            else:
                earliest = self.clock() + retry.next_delay()
            log.debug("flushed %s in %.3f s", written, time.perf_counter() - started)

    async def _compact_task(self) -> None:
        while not self.stopping.is_set():
            today = datetime.fromtimestamp(self.clock(), UTC).date()
            try:
                done = await asyncio.to_thread(self.store.compact, today)
                if done:
                    log.info("compacted %d finished day file(s)", len(done))
            except OSError as exc:
                log.error("compaction failed (parts kept, will retry): %s", exc)
            await asyncio.sleep(self.opts.compact_check_interval)

    # ================================================================== REST cross-check

    async def _crosscheck_task(self) -> None:
        interval = self.config.collection.rest_check_interval_seconds
        if not interval:
            return
        while not self.stopping.is_set():
            await asyncio.sleep(interval)
            candidates = sorted(t for t in self.markets if self.books.is_valid(t))
            if not candidates:
                continue
            ticker = candidates[self._rest_check_cursor % len(candidates)]
            self._rest_check_cursor += 1
            await self.crosscheck(ticker)

    async def crosscheck(self, ticker: str, *, settle: float = 0.5, attempts: int = 3) -> bool | None:
        """Compare one local book with REST: True = same, False = real difference (resynced), None = inconclusive.

        REST and the stream are not atomic with each other: REST may already show a change whose
        delta is still in flight. So a difference only counts when the local book stays unchanged
        for ``settle`` seconds after the answer and still differs; otherwise try again.
        """
        def state() -> tuple[dict, dict] | None:
            book = self.books.get(ticker)
            return (dict(book.yes_bids), dict(book.no_bids)) if book is not None and book.valid else None

        for _ in range(attempts):
            before = state()
            if before is None:
                return None
            try:
                rest_book = await self.rest.get_orderbook(ticker)
            except ApiError as exc:
                log.debug("cross-check of %s skipped: %s", ticker, exc)
                return None
            self.counters["rest_checks"] += 1
            rest = {"yes": rest_book.yes, "no": rest_book.no}
            book = self.books.get(ticker)
            if state() != before or book is None:
                continue  # moved while the request was in flight: proves nothing
            if book.matches_rest(rest):
                return True
            await asyncio.sleep(settle)  # let deltas already sent by the exchange arrive
            book = self.books.get(ticker)
            if book is None or not book.valid:
                return None
            if book.matches_rest(rest):
                return True
            if state() != before:
                continue
            diffs = book.diff_rest(rest)
            self.counters["rest_mismatches"] += 1
            sid = book.sid or self.subs.sid("orderbook_delta") or 0
            now_us = int(self.clock() * _US)
            log.warning("book %s differs from REST at %d level(s) and stayed so for %.1f s; resyncing",
                        ticker, len(diffs), settle)
            self._book_event(now_us, ticker, sid, None, None, "rest_mismatch", f"{len(diffs)} levels differ: {diffs[:3]}")
            self.books.invalidate([ticker], "differs from REST")
            self._awaiting.setdefault(ticker, (now_us, sid, None, None))
            self._request_snapshots(sid, [ticker])
            return False
        self.counters["rest_checks_inconclusive"] += 1
        return None

    # ================================================================== stats, helpers

    async def _stats_task(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(self.opts.stats_interval)
            log.info(self.stats_line())

    def stats_line(self) -> str:
        now = self.clock()
        then, n_then = self._last_stats
        n = self.counters["messages"]
        rate = (n - n_then) / max(now - then, 1e-9)
        self._last_stats = (now, n)
        lag_sum, lag_n = self._lag_at_last_stats
        n_lag = self.lag_count_total - lag_n
        lag = (self.lag_sum_total - lag_sum) / n_lag * 1000 if n_lag else 0.0
        lag_max = self.lag_max_period * 1000
        self._lag_at_last_stats = (self.lag_sum_total, self.lag_count_total)
        self.lag_max_period = 0.0
        return (
            f"stats: {rate:.0f} msg/s, books {self.books.valid_count()}/{len(self.markets)} valid, "
            f"lag avg {lag:.1f} ms max {lag_max:.1f} ms, rows buffered {self.store.buffered_rows}, "
            f"gaps {self.counters['seq_gap']}, resyncs {self.counters['resync_requests']}, "
            f"reconnects {self.counters['disconnects']}, malformed {self.counters['malformed']}"
        )

    def _book_event(
        self,
        ts_us: int,
        ticker: str | None,
        sid: int | None,
        expected: int | None,
        received: int | None,
        action: str,
        detail: str,
        *,
        recovered_us: int | None = None,
    ) -> None:
        self.store.append("book_events", (ts_us, ticker, sid, expected, received, action, detail, recovered_us))

    def _warn_limited(self, key: str, fmt: str, *args: object) -> None:
        """At most one log line per kind per 10 s: a flood of bad frames must not flood the log."""
        now = self.clock()
        if now - self._warned.get(key, 0.0) >= 10.0:
            self._warned[key] = now
            log.warning(fmt, *args)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

