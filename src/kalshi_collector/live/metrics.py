"""Health and Prometheus metrics of the live collector, and the systemd watchdog.

Nothing here runs on the WebSocket hot path. The collector's parts already keep typed counters
and state; the :class:`Monitor` is handed a callable that returns a :class:`CollectorView` of them
(``Collector.view``) and *reads* it when somebody asks. This module never sees the collector itself.

* ``GET /metrics`` — a custom ``prometheus_client`` collector (:class:`CollectorMetrics`) turns
  one view into metric families at scrape time. No ``Counter.inc()`` sits in the read loop.
* ``GET /healthz`` — 200 ``ok`` while every stream is live and data is being written; 503 with one
  reason per line otherwise. :func:`assess` is the pure rule book, fed a :class:`HealthView` that
  :meth:`Monitor.health_view` takes from a view.
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
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector as PromCollector

from kalshi_collector.live.counters import SEQ_BREAKS
from kalshi_collector.live.subscriptions import ALL_CHANNELS
from kalshi_collector.live.view import CollectorView

__all__ = [
    "HealthLimits",
    "HealthView",
    "assess",
    "ChannelTally",
    "CollectorMetrics",
    "Monitor",
    "sd_notify",
]

log = logging.getLogger(__name__)

PREFIX = "kalshi_collector"
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


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)


def _labelled(name: str, doc: str, label: str, values: Iterable[tuple[str, float]]) -> CounterMetricFamily:
    fam = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=[label])
    for key, value in values:
        fam.add_metric([key], value)
    return fam


def stream_metrics(v: CollectorView, per_channel: dict[str, int]) -> Iterator[Metric]:
    """The WebSocket: connection, frames, messages per channel, sequence breaks, bad messages, lag."""
    c = v.counters
    yield _gauge("ws_connected", "1 while the WebSocket is connected and subscribed", 1.0 if v.connected else 0.0)
    yield _counter("ws_connects", "WebSocket connections opened", c.connects)
    yield _counter("ws_disconnects", "WebSocket connections lost (each one is followed by a reconnect)", c.disconnects)
    yield _counter("ws_frames", "WebSocket data frames handled", c.messages)
    if v.last_frame_at is not None:
        yield _gauge("ws_seconds_since_last_frame", "seconds since the last frame or ping", max(0.0, v.now - v.last_frame_at))
    yield _labelled("ws_messages", "WebSocket messages per channel (by sequence position; `other` = ticker and "
                    "control messages)", "channel",
                    [*((ch, per_channel.get(ch, 0)) for ch in ALL_CHANNELS),
                     ("other", max(0, c.messages - sum(per_channel.values())))])
    yield _labelled("sequence_breaks", "sequence problems per subscription: gap (lost messages), duplicate, "
                    "out_of_order", "kind", [(s.value, c.seq_breaks[s]) for s in SEQ_BREAKS])
    yield _labelled("bad_messages", "messages skipped", "kind",
                    [("malformed", c.malformed), ("unknown_type", c.unknown_type),
                     ("handler_errors", c.handler_errors), ("ws_errors", c.ws_errors)])
    yield from decoding_metrics(v)
    # lag from exchange time to receive time (deltas only; monotonic totals)
    yield SummaryMetricFamily(f"{PREFIX}_ws_lag_seconds", "receive time minus exchange time of order-book deltas",
                              count_value=v.lag.count, sum_value=v.lag.total)
    yield _gauge("ws_lag_max_seconds", "largest lag in the current stats period", float(v.lag.period_max))


def decoding_metrics(v: CollectorView) -> Iterator[Metric]:
    """The tolerant decoder: unknown types by name, repaired fields, records kept in ``rejects``."""
    c = v.counters
    yield _labelled("ws_unknown_types", "WebSocket messages of a type this version does not know (ignored; "
                    "their seq still counted)", "type", sorted(c.unknown_types.items()))
    fam = CounterMetricFamily(f"{PREFIX}_decode_repairs", "fields the tolerant decoder had to read leniently "
                              "(empty as null, number from text, text from number, dropped)",
                              labels=["type", "field", "repair"])
    for r, n in sorted(c.field_repairs.items(), key=lambda kv: (kv[0].record, kv[0].field, kv[0].repair.value)):
        fam.add_metric([r.record, r.field, r.repair.value], n)
    yield fam
    fields = CounterMetricFamily(f"{PREFIX}_ws_unknown_fields", "fields of known message types that this version "
                                 "does not declare (ignored), in the sampled frames (one in 1024)",
                                 labels=["type", "field"])
    for f, n in sorted(c.unknown_fields.items()):
        fields.add_metric([f.type, f.field], n)
    yield fields
    yield _labelled("rejects", "exchange records that could not be decoded, kept raw in the rejects table",
                    "source", sorted(c.rejects.items()))


def book_metrics(v: CollectorView) -> Iterator[Metric]:
    """Books, their resyncs and cross-checks, and the snapshot cycles taken of them."""
    c = v.counters
    yield _counter("resync_requests", "get_snapshot requests sent to resync books", c.resync_requests)
    yield _counter("books_recovered", "books made exact again by a snapshot after a doubt", c.recovered)
    yield _labelled("snapshots", "snapshot cycles taken", "trigger", [(t.value, n) for t, n in c.snapshots.items()])
    yield _gauge("markets_tracked", "markets the collector follows", v.markets)
    yield _gauge("books_valid", "order books known to be exact", v.books_valid)
    yield _counter("rest_crosschecks", "books compared with REST", c.rest_checks)
    yield _counter("rest_crosscheck_mismatches", "books that differed from REST (resynced)", c.rest_mismatches)


def storage_metrics(v: CollectorView) -> Iterator[Metric]:
    st = v.store
    yield _gauge("rows_buffered", "rows accepted, not yet in a parquet file", st["buffered_rows"])
    yield _gauge("rows_unsynced", "rows not yet in the journal (a kill -9 now would lose them)", st["unsynced_rows"])
    for name, doc in (("rows_written", "rows written to parquet part files"),
                      ("rows_rejected", "rows quarantined under _rejected/ (a bug upstream)"),
                      ("rows_recovered", "rows recovered from the journal after an unclean stop")):
        yield _labelled(name, doc, "table", sorted(st[name].items()))
    yield _labelled("storage_errors", "storage failures (rows are kept and retried)", "kind",
                    [(kind.removesuffix("_errors"), st[kind]) for kind in _STORAGE_ERRORS])
    yield _counter("flushes", "flushes of buffered rows to part files", st["flushes"])
    yield _gauge("flush_duration_seconds", "duration of the last flush", st["last_flush_seconds"])
    yield _gauge("last_flush_ok", "1 when the last flush wrote everything", 1.0 if st["last_flush_ok"] else 0.0)
    yield _gauge("last_flush_success_time_seconds", "Unix time of the last complete flush", v.last_good_flush_at)
    yield _gauge("journal_segments", "write-ahead journal segments on disk", st["journal_segments"])
    yield _counter("parts_written", "parquet part files written", st["parts_written"])
    yield _counter("days_compacted", "day files written by compaction", st["days_compacted"])


def rest_metrics(v: CollectorView) -> Iterator[Metric]:
    rest = v.rest
    yield _counter("rest_requests", "REST requests sent (retries included)", rest.requests)
    yield _counter("rest_retries", "REST requests retried", rest.retries)
    yield _labelled("rest_errors", "REST failures by kind (http_429 = rate limited)", "kind",
                    [(kind, getattr(rest, kind)) for kind in _REST_ERRORS])


class CollectorMetrics(PromCollector):
    """A ``prometheus_client`` collector that reads the monitor's view of the collector at scrape time."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.channels = ChannelTally()

    def describe(self) -> list[Metric]:
        return []  # families are only known at scrape time; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        v = self.monitor.source()
        problems = self.monitor.assess(v)
        yield _gauge("healthy", "1 when /healthz answers 200", 0.0 if problems else 1.0)
        yield _gauge("start_time_seconds", "Unix time the collector started", self.monitor.started_at)
        yield from stream_metrics(v, self.channels.observe(list(v.subscriptions)))
        yield from book_metrics(v)
        yield from storage_metrics(v)
        yield from rest_metrics(v)


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
    """Health, metrics and watchdog of one running collector, read through ``source`` (its
    :meth:`~kalshi_collector.live.collector.Collector.view`). See the module docstring.

    A service of the collector (``start``/``stop``): the ``collect`` command hands it to
    ``Collector.run``, which starts it once the store is recovered and stops it first on the way out.
    """

    def __init__(
        self,
        source: Callable[[], CollectorView],
        limits: HealthLimits | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.limits = limits or HealthLimits()
        self.host, self.port = host, port
        self._clock = clock
        self.started_at = clock()
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

    @classmethod
    def for_config(cls, source: Callable[[], CollectorView], config: Any,
                   clock: Callable[[], float] = time.time) -> Monitor:
        """Limits and address from the config (``metrics.host``/``metrics.port``)."""
        return cls(source, HealthLimits.for_config(config), host=config.metrics.host, port=config.metrics.port,
                   clock=clock)

    # -- health ---------------------------------------------------------------------------------

    def health_view(self, v: CollectorView) -> HealthView:
        st = v.store
        if st["journal_errors"] != self._journal_errors:
            self._journal_errors = st["journal_errors"]
            self._journal_error_at = v.now
        return HealthView(
            now=v.now,
            started_at=self.started_at,
            markets=v.markets,
            connected=v.connected,
            subscribed_channels=v.subscribed_channels,
            last_frame_at=v.last_frame_at,
            last_flush_ok=bool(st["last_flush_ok"]),
            last_good_flush_at=v.last_good_flush_at,
            write_errors=st["write_errors"],
            journal_error_at=self._journal_error_at,
            journal_errors=st["journal_errors"],
            unsynced_rows=st["unsynced_rows"],
            awaiting_resync=v.awaiting_resync,
            stopping=v.stopping,
            connects=v.counters.connects,
        )

    def assess(self, v: CollectorView) -> list[str]:
        return assess(self.health_view(v), self.limits)

    def problems(self) -> list[str]:
        return self.assess(self.source())

    # -- HTTP -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        v = self.source()
        problems = self.assess(v)
        if problems:
            return web.Response(status=503, text="unhealthy\n" + "".join(f"- {p}\n" for p in problems))
        return web.Response(text=f"ok: {v.markets} markets, {v.books_valid} books valid\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="kalshi-collector: /healthz /metrics\n")

    async def start(self) -> None:
        """Serve /healthz and /metrics (port 0: no server), start the watchdog, tell systemd we run.
        Never raises: monitoring must never stop the collector."""
        self.started_at = self._clock()
        try:
            if self.port:
                await self._serve(self.host, self.port)
            sd_notify("READY=1\nSTATUS=collecting")
            interval = watchdog_interval()
            if interval is not None:
                self._watchdog = asyncio.create_task(self._watchdog_loop(interval), name="watchdog")
        except Exception:  # noqa: BLE001
            log.exception("could not start health/metrics")

    async def _serve(self, host: str, port: int) -> None:
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
