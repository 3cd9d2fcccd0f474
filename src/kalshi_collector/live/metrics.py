"""Health and Prometheus metrics of the live collector, and the systemd watchdog.

Nothing here runs on the WebSocket hot path. The collector already keeps counters and state
(``Collector.counters``, its books, its store's ``stats``, its REST client's ``stats``, the lag
accumulators of ``stats_line``); this module *reads* them when somebody asks:

* ``GET /metrics`` — a custom ``prometheus_client`` collector (:class:`CollectorMetrics`) turns
  that state into metric families at scrape time. No ``Counter.inc()`` sits in the read loop.
* ``GET /healthz`` — 200 ``ok`` while every stream is live and data is being written; 503 with one
  reason per line otherwise. :func:`assess` is the pure rule book, fed a :class:`HealthView` that
  :meth:`Monitor.view` takes from the running collector.
* ``sd_notify`` — ``READY=1`` once the collector runs and ``WATCHDOG=1`` every half
  ``WatchdogSec`` while the event loop turns, when systemd asked for it (``NOTIFY_SOCKET``). A wedged
  loop stops the pings and systemd restarts the service; an exchange outage does not (restarting
  would not help, and /healthz already says so).

Both endpoints are served by aiohttp inside the collector's event loop on ``metrics.host:metrics.port``
(``port: 0`` turns the server off). A port already taken is logged, not fatal: the daemon collects
without metrics rather than not at all.

Messages per channel: the read loop counts frames, not channels. Every message of a subscription
carries the next ``seq`` of its ``sid`` (API.md 7), so the sequence position *is* a per-channel
message count; :class:`ChannelTally` adds up the positions of every sid ever seen (gaps included:
a gap's lost messages are counted, and reported separately as gaps). ``ticker`` messages carry no
``seq``: they, and control replies, are ``channel="other"`` (all frames minus the sequenced ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector as PromCollector

from kalshi_collector.live.subscriptions import ALL_CHANNELS

if TYPE_CHECKING:
    from kalshi_collector.live.collector import Collector

__all__ = [
    "HealthLimits",
    "HealthView",
    "assess",
    "ChannelTally",
    "CollectorMetrics",
    "Monitor",
    "start_monitoring",
    "sd_notify",
]

log = logging.getLogger(__name__)

PREFIX = "kalshi_collector"
_SEQ_KINDS = ("gap", "duplicate", "out_of_order")
_STORAGE_ERRORS = ("write_errors", "journal_errors", "compaction_errors")
_REST_ERRORS = ("http_429", "http_5xx", "http_4xx", "timeouts", "connection_errors", "bad_bodies")


# ==================================================================================== health (pure)


@dataclass(frozen=True)
class HealthLimits:
    """How long each thing may lag before the collector is reported unhealthy (seconds)."""

    max_silence: float = 30.0  # no frame (data or ping) on the WebSocket
    max_flush_age: float = 660.0  # since the last flush that wrote everything
    max_journal_error_age: float = 60.0  # a journal error this recent means rows are not safe on disk
    max_resync_wait: float = 60.0  # a book waiting this long for its resync snapshot
    startup_grace: float = 15.0  # connecting and subscribing may take this long after start

    @classmethod
    def for_config(cls, config: Any) -> HealthLimits:
        """Limits that follow the config: a flush is late after two flush intervals plus a minute."""
        flush = float(config.storage.flush_interval_seconds)
        return cls(
            max_silence=float(config.collection.stall_timeout_seconds),
            max_flush_age=2 * flush + 60.0,
        )


@dataclass(frozen=True)
class HealthView:
    """What the health rules need to know, taken from the running collector at one instant."""

    now: float
    started_at: float
    markets: int
    connected: bool
    subscribed_channels: frozenset[str]
    last_frame_at: float | None
    last_flush_ok: bool
    last_good_flush_at: float
    write_errors: int
    journal_error_at: float | None
    journal_errors: int
    unsynced_rows: int
    awaiting_resync: tuple[float, ...] = ()  # when each still-invalid book became doubtful
    stopping: bool = False
    connects: int = 0  # connections opened so far: the start-up grace ends with the first one


def assess(view: HealthView, limits: HealthLimits) -> list[str]:
    """Reasons the collector is not healthy; an empty list means healthy.

    Healthy = connected, every channel subscribed, frames arriving, every book that went doubtful
    resynced in time, and rows reaching the journal and the parquet files.
    """
    problems: list[str] = []
    up_for = view.now - view.started_at
    in_grace = up_for < limits.startup_grace and view.connects == 0
    if view.stopping:
        problems.append("stopping")
    if in_grace and not view.connected:
        problems.append(f"starting: not connected yet ({up_for:.0f} s since start)")
    elif view.markets == 0:
        problems.append("no markets to collect (discovery found none for the configured events/series)")
    elif not view.connected:
        problems.append("not connected to the exchange WebSocket"
                        + (f" (reconnecting; {view.connects} connections so far)" if view.connects else ""))
    else:
        missing = [c for c in ALL_CHANNELS if c not in view.subscribed_channels]
        if missing and not in_grace:
            problems.append(f"channel(s) not subscribed: {', '.join(missing)}")
        if view.last_frame_at is not None and view.now - view.last_frame_at > limits.max_silence:
            problems.append(f"no frame for {view.now - view.last_frame_at:.0f} s (limit {limits.max_silence:.0f} s)")
    stuck = [t for t in view.awaiting_resync if view.now - t > limits.max_resync_wait]
    if stuck:
        problems.append(f"{len(stuck)} book(s) waiting more than {limits.max_resync_wait:.0f} s for a resync snapshot "
                        f"(longest {view.now - min(stuck):.0f} s)")
    if not view.last_flush_ok:
        problems.append(f"last flush failed ({view.write_errors} write errors so far; rows kept for the next flush)")
    flush_age = view.now - view.last_good_flush_at
    if flush_age > limits.max_flush_age:
        problems.append(f"no complete flush for {flush_age:.0f} s (limit {limits.max_flush_age:.0f} s)")
    if view.journal_error_at is not None and view.now - view.journal_error_at <= limits.max_journal_error_age:
        problems.append(f"journal write failing ({view.journal_errors} errors, latest {view.now - view.journal_error_at:.0f} s ago; "
                        f"{view.unsynced_rows} rows only in memory)")
    return problems


# ==================================================================================== channel counts


@dataclass
class ChannelTally:
    """Messages per channel from sequence positions (see the module docstring).

    ``observe`` is called at scrape time with the ``(connection, sid, channel, last_seq)`` of every
    live subscription; a sid that disappears (reconnect, unsubscribe) keeps what it had.
    """

    _last: dict[tuple[int, int], tuple[str, int]] = field(default_factory=dict)
    _closed: dict[str, int] = field(default_factory=dict)

    def observe(self, live: list[tuple[int, int, str, int]]) -> dict[str, int]:
        seen: dict[tuple[int, int], tuple[str, int]] = {}
        for conn, sid, channel, last_seq in live:
            key = (conn, sid)
            prev = self._last.get(key)
            if prev is not None and prev[0] == channel:
                last_seq = max(last_seq, prev[1])
            seen[key] = (channel, last_seq)
        for key, (channel, count) in self._last.items():
            if key not in seen:
                self._closed[channel] = self._closed.get(channel, 0) + count
        self._last = seen
        totals = dict(self._closed)
        for channel, count in seen.values():
            totals[channel] = totals.get(channel, 0) + count
        return totals


# ==================================================================================== Prometheus


class CollectorMetrics(PromCollector):
    """A ``prometheus_client`` collector that reads the live :class:`Collector` at scrape time."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.channels = ChannelTally()

    def describe(self) -> list[Metric]:
        return []  # families are only known at scrape time; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        mon = self.monitor
        c = mon.collector
        counters = c.counters
        st = c.store.stats
        now = c.clock()

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)

        problems = mon.problems()
        yield gauge("healthy", "1 when /healthz answers 200", 0.0 if problems else 1.0)
        yield gauge("start_time_seconds", "Unix time the collector started", mon.started_at)

        # -- WebSocket
        conn = c.conn
        yield gauge("ws_connected", "1 while the WebSocket is connected and subscribed", 1.0 if c.connected.is_set() else 0.0)
        yield counter("ws_connects", "WebSocket connections opened", counters["connects"])
        yield counter("ws_disconnects", "WebSocket connections lost (each one is followed by a reconnect)", counters["disconnects"])
        yield counter("ws_frames", "WebSocket data frames handled", counters["messages"])
        last_frame = conn.last_activity if conn is not None else None
        if last_frame is not None:
            yield gauge("ws_seconds_since_last_frame", "seconds since the last frame or ping", max(0.0, now - last_frame))
        per_channel = self.channels.observe(self._live_subscriptions())
        fam = CounterMetricFamily(f"{PREFIX}_ws_messages", "WebSocket messages per channel (by sequence "
                                  "position; `other` = ticker and control messages)", labels=["channel"])
        for channel in ALL_CHANNELS:
            fam.add_metric([channel], per_channel.get(channel, 0))
        fam.add_metric(["other"], max(0, counters["messages"] - sum(per_channel.values())))
        yield fam
        fam = CounterMetricFamily(f"{PREFIX}_sequence_breaks", "sequence problems per subscription: "
                                  "gap (lost messages), duplicate, out_of_order", labels=["kind"])
        for kind in _SEQ_KINDS:
            fam.add_metric([kind], counters[f"seq_{kind}"])
        yield fam
        yield counter("resync_requests", "get_snapshot requests sent to resync books", counters["resync_requests"])
        yield counter("books_recovered", "books made exact again by a snapshot after a doubt", counters["recovered"])
        fam = CounterMetricFamily(f"{PREFIX}_bad_messages", "messages skipped", labels=["kind"])
        for kind in ("malformed", "unknown_type", "handler_errors", "ws_errors"):
            fam.add_metric([kind], counters[kind])
        yield fam
        fam = CounterMetricFamily(f"{PREFIX}_snapshots", "snapshot cycles taken", labels=["trigger"])
        for trigger in ("periodic", "spike"):
            fam.add_metric([trigger], counters[f"snapshots_{trigger}"])
        yield fam
        yield gauge("markets_tracked", "markets the collector follows", len(c.markets))
        yield gauge("books_valid", "order books known to be exact", c.books.valid_count())
        yield counter("rest_crosschecks", "books compared with REST", counters["rest_checks"])
        yield counter("rest_crosscheck_mismatches", "books that differed from REST (resynced)", counters["rest_mismatches"])

        # -- lag from exchange time to receive time (deltas only; monotonic totals on the collector)
        yield SummaryMetricFamily(f"{PREFIX}_ws_lag_seconds", "receive time minus exchange time of order-book deltas",
                                  count_value=c.lag_count_total, sum_value=c.lag_sum_total)
        yield gauge("ws_lag_max_seconds", "largest lag in the current stats period", float(c.lag_max_period))

        # -- storage
        yield gauge("rows_buffered", "rows accepted, not yet in a parquet file", st["buffered_rows"])
        yield gauge("rows_unsynced", "rows not yet in the journal (a kill -9 now would lose them)", st["unsynced_rows"])
        for name, doc in (("rows_written", "rows written to parquet part files"),
                          ("rows_rejected", "rows quarantined under _rejected/ (a bug upstream)"),
                          ("rows_recovered", "rows recovered from the journal after an unclean stop")):
            fam = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["table"])
            for table, count in sorted(st[name].items()):
                fam.add_metric([table], count)
            yield fam
        fam = CounterMetricFamily(f"{PREFIX}_storage_errors", "storage failures (rows are kept and retried)", labels=["kind"])
        for kind in _STORAGE_ERRORS:
            fam.add_metric([kind.removesuffix("_errors")], st[kind])
        yield fam
        yield counter("flushes", "flushes of buffered rows to part files", st["flushes"])
        yield gauge("flush_duration_seconds", "duration of the last flush", st["last_flush_seconds"])
        yield gauge("last_flush_ok", "1 when the last flush wrote everything", 1.0 if st["last_flush_ok"] else 0.0)
        yield gauge("last_flush_success_time_seconds", "Unix time of the last complete flush", c.last_flush_ok)
        yield gauge("journal_segments", "write-ahead journal segments on disk", st["journal_segments"])
        yield counter("parts_written", "parquet part files written", st["parts_written"])
        yield counter("days_compacted", "day files written by compaction", st["days_compacted"])

        # -- REST
        rest = c.rest.stats
        yield counter("rest_requests", "REST requests sent (retries included)", rest["requests"])
        yield counter("rest_retries", "REST requests retried", rest["retries"])
        fam = CounterMetricFamily(f"{PREFIX}_rest_errors", "REST failures by kind (http_429 = rate limited)", labels=["kind"])
        for kind in _REST_ERRORS:
            fam.add_metric([kind], rest[kind])
        yield fam

    def _live_subscriptions(self) -> list[tuple[int, int, str, int]]:
        c = self.monitor.collector
        conn = c.conn
        number = conn.number if conn is not None else 0
        out = []
        for sid, channel in list(c.subs.channel_by_sid.items()):
            last = c.seq.last(sid)
            if last is not None:
                out.append((number, sid, channel, last))
        return out


# ==================================================================================== systemd


def sd_notify(message: str, socket_path: str | None = None) -> bool:
    """Send one ``sd_notify`` datagram (``READY=1``, ``WATCHDOG=1``...); False when not under systemd.

    The protocol is one datagram on the unix socket named by ``$NOTIFY_SOCKET`` (``@name`` is the
    abstract namespace): cheap enough not to need libsystemd. Sent non-blocking: a full receive
    queue must not stall the collector's event loop (found by the watchdog test).
    """
    path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # never block the event loop: a receiver that does not keep up loses a ping, not the loop
            sock.setblocking(False)
            sock.sendto(message.encode(), address)
    except OSError as exc:
        log.warning("sd_notify(%s) failed: %s", message.split("\n", 1)[0], exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of systemd's ``WatchdogSec`` (from ``$WATCHDOG_USEC``), or None when there is no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(0.05, int(usec) / 2_000_000)
    except ValueError:
        return None


# ==================================================================================== the monitor


class Monitor:
    """Health, metrics and watchdog of one running :class:`Collector`. See the module docstring."""

    def __init__(self, collector: Collector, limits: HealthLimits | None = None) -> None:
        self.collector = collector
        self.limits = limits or HealthLimits.for_config(collector.config)
        self.started_at = collector.clock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.metrics = CollectorMetrics(self)
        self.registry.register(self.metrics)
        with contextlib.suppress(Exception):  # /proc may be missing (not Linux): process metrics are a bonus
            ProcessCollector(namespace=PREFIX, registry=self.registry)
        self._journal_errors = 0
        self._journal_error_at: float | None = None
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.bound: tuple[str, int] | None = None

    # -- health ---------------------------------------------------------------------------------

    def view(self) -> HealthView:
        c = self.collector
        now = c.clock()
        st = c.store.stats
        if st["journal_errors"] != self._journal_errors:
            self._journal_errors = st["journal_errors"]
            self._journal_error_at = now
        awaiting = c.awaiting_resync
        conn = c.conn
        return HealthView(
            now=now,
            started_at=self.started_at,
            markets=len(c.markets),
            connected=c.connected.is_set(),
            subscribed_channels=frozenset(c.subs.sid_by_channel),
            last_frame_at=conn.last_activity if conn is not None else None,
            last_flush_ok=bool(st["last_flush_ok"]),
            last_good_flush_at=c.last_flush_ok,
            write_errors=st["write_errors"],
            journal_error_at=self._journal_error_at,
            journal_errors=st["journal_errors"],
            unsynced_rows=st["unsynced_rows"],
            awaiting_resync=tuple(v[0] / 1e6 for v in list(awaiting.values())),
            stopping=c.stopping.is_set(),
            connects=c.counters["connects"],
        )

    def problems(self) -> list[str]:
        return assess(self.view(), self.limits)

    # -- HTTP -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = self.problems()
        if problems:
            return web.Response(status=503, text="unhealthy\n" + "".join(f"- {p}\n" for p in problems))
        c = self.collector
        return web.Response(text=f"ok: {len(c.markets)} markets, {c.books.valid_count()} books valid\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="kalshi-collector: /healthz /metrics\n")

    async def start(self, host: str, port: int) -> None:
        """Serve /healthz and /metrics (port 0: no server), start the watchdog, tell systemd we run."""
        if port:
            runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, host, port, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                await runner.cleanup()
                log.error("metrics server cannot listen on %s:%d (%s); collecting without /healthz and /metrics",
                          host, port, exc.strerror or exc)
            else:
                self._runner = runner
                self.bound = (host, port)
                log.info("health and metrics on http://%s:%d/healthz and /metrics", host, port)
        sd_notify("READY=1\nSTATUS=collecting")
        interval = watchdog_interval()
        if interval is not None:
            self._watchdog = asyncio.create_task(self._watchdog_loop(interval), name="watchdog")

    async def _watchdog_loop(self, interval: float) -> None:
        while True:
            problems = self.problems()
            status = "healthy" if not problems else "unhealthy: " + "; ".join(problems)
            sd_notify(f"WATCHDOG=1\nSTATUS={status[:200]}")
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        sd_notify("STOPPING=1")
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_monitoring(collector: Collector) -> Monitor:
    """Start health, metrics and the watchdog for ``collector``; never raises (logs instead)."""
    monitor = Monitor(collector)
    metrics = collector.config.metrics
    try:
        await monitor.start(metrics.host, metrics.port)
    except Exception:  # noqa: BLE001 - monitoring must never stop the collector
        log.exception("could not start health/metrics")
    return monitor

