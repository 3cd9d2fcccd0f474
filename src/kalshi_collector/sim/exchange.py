"""``SimExchange``: the model, the REST API and the WebSocket hub on one loopback port.

This module owns time (the clock, the live order-flow loop) and the controls tests use:
``advance_day``, ``set_cutoff``, ``pause_flow``/``resume_flow``, ``step``, ``inject`` and the
``truth`` view. Everything below it (model, wire shapes, candles) is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from kalshi_collector.sim.auth import KeyRegistry, generate_key_pair, load_public_key
from kalshi_collector.sim.candles import market_candles
from kalshi_collector.sim.catalog import DEFAULT_SERIES, SeriesSpec
from kalshi_collector.sim.faults import REST_KINDS, WS_KINDS, FaultPlan, OneShots, RestFaults
from kalshi_collector.sim.model import ExchangeModel, Market, ModelError, Out
from kalshi_collector.sim.ratelimit import RateLimiter
from kalshi_collector.sim.restapi import BASE, WS_PATH, RestApi, json_response
from kalshi_collector.sim.universe import universe_series
from kalshi_collector.sim.wire import error_body, event_json, market_json
from kalshi_collector.sim.wirefmt import ms_of
from kalshi_collector.sim.wshub import WsHub, WsLimits

__all__ = ["SimConfig", "SimExchange", "Truth", "ModelError", "WsLimits"]

log = logging.getLogger(__name__)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes a simulated exchange. Same seed + same commands = same messages.

    Extra knobs beyond the team brief: ``clock`` (Unix ms source of exchange time; inject one
    for byte-exact determinism tests), ``auth_max_skew_s`` (signature timestamp window against
    real time; None = any) and ``flow_tick_s`` (how often the order-flow loop runs).

    Time: without ``clock``, exchange time is the wall clock - shifted by whole days when
    ``today`` pins another date, so live trades land inside the open markets' trading windows.
    Statuses at start follow ``today`` at the clock's hour (e.g. the next day's event is
    ``initialized`` before 15:00 UTC and ``active`` after); afterwards the lifecycle moves only by
    commands (``advance_day``), never by the clock. A market with more than 1,000 book changes
    per second has its exchange timestamps run ahead of the clock (each change takes the next
    free millisecond).
    """

    seed: int = 1
    series: tuple[str, ...] = DEFAULT_SERIES
    brackets_per_event: int = 6
    history_days: int = 10
    cutoff_days: int = 5
    history_trades_per_market: int = 200
    message_rate: float = 200.0
    rest_rate_limit: float | None = None
    ping_interval: float = 10.0
    today: date | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    api_key_id: str | None = None
    public_key_path: str | Path | None = None
    state_dir: str | Path | None = None
    require_auth: bool = False
    clock: Callable[[], int] | None = None
    auth_max_skew_s: float | None = 300.0
    flow_tick_s: float = 0.005
    # -- scale (the whole exchange): see sim/universe.py and docs/kalshi-api.md "Limits"
    universe_markets: int = 0
    """Add made-up series across Kalshi's categories until about this many markets are open."""
    busy_markets: int = 0
    """Markets that get ``busy_share`` of the order flow (0 = flow spread evenly over all)."""
    busy_share: float = 0.9
    burst_rate: float = 0.0
    """Order-flow events/s during a burst (0 = no bursts)."""
    burst_every_s: float = 10.0
    burst_seconds: float = 1.0
    ws_limits: WsLimits = field(default_factory=WsLimits)


def _universe(cfg: SimConfig, today: date, now_ms: int) -> tuple[SeriesSpec, ...]:
    """The made-up series that bring the exchange to about ``cfg.universe_markets`` open markets.

    Every universe series has the same number of open markets at a given hour (one offset, same
    brackets), so one probe series tells how many series are needed."""
    if cfg.universe_markets <= 0:
        return ()
    probe = ExchangeModel(seed=cfg.seed, series=universe_series(1), brackets_per_event=cfg.brackets_per_event,
                          history_days=cfg.history_days, cutoff_days=cfg.cutoff_days,
                          history_trades_per_market=0, today=today, now_ms=now_ms)
    per_series = max(1, len(probe.active))
    return universe_series(-(-cfg.universe_markets // per_series))


class Truth:
    """Ground truth for tests: what the exchange really did, independent of what was sent."""

    def __init__(self, sim: SimExchange) -> None:
        self._sim = sim

    def _market(self, ticker: str) -> Market:
        m = self._sim.model.market_by_ticker.get(ticker)
        if m is None:
            raise KeyError(f"unknown market {ticker}")
        return m

    def book(self, ticker: str, at_ts_ms: int | None = None) -> dict[str, dict[int, float]]:
        """``{"yes": {price_cents: contracts}, "no": {...}}`` after every change with ts_ms <= at_ts_ms."""
        yes, no = self._sim.model.book_at(self._market(ticker), at_ts_ms)
        return {"yes": {p: q / 100 for p, q in yes.items()}, "no": {p: q / 100 for p, q in no.items()}}

    def book_ts(self, ticker: str) -> list[int]:
        """Exchange ts_ms of every book change of a market, oldest first."""
        return list(self._market(ticker).log_ts)

    def trades(self, ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None) -> list[dict]:
        """Every trade, oldest first; ``min_ts``/``max_ts`` in Unix seconds like the REST filter."""
        model = self._sim.model
        markets = [self._market(ticker)] if ticker else model.markets
        items = list(model.trade_indices(markets, min_ms=None if min_ts is None else min_ts * 1000,
                                         max_ms=None if max_ts is None else max_ts * 1000 + 999,
                                         before_gseq=None, block=None))
        items.reverse()
        out = []
        for m, i in items:
            price = m.t_price[i]
            taker_yes = bool(m.t_taker_yes[i])
            out.append({
                "trade_id": m.trade_id(i),
                "ticker": m.ticker,
                "yes_price_cents": price,
                "no_price_cents": 100 - price,
                "count": (m.t_cum[i] - (m.t_cum[i - 1] if i else 0)) / 100,
                "taker_outcome_side": "yes" if taker_yes else "no",
                "taker_book_side": "bid" if taker_yes else "ask",
                "is_block_trade": bool(m.t_block[i]),
                "created_ms": m.t_ts[i],
            })
        return out

    def candles(self, ticker: str, period_minutes: int, start_ts: int, end_ts: int, *,
                include_latest_before_start: bool = False, historical: bool = False) -> list[dict]:
        """The candles the REST candlestick endpoints serve for this range (live shape by default)."""
        return market_candles(self._market(ticker), period_minutes, start_ts, end_ts, self._sim.now_ms(),
                              include_latest_before_start=include_latest_before_start, historical=historical)

    def events(self) -> list[dict]:
        return [event_json(e) for e in self._sim.model.events]

    def markets(self, event_ticker: str | None = None) -> list[dict]:
        """Every market (live and historical tier) in REST shape, with ``historical`` flag added."""
        model = self._sim.model
        now = self._sim.now_ms()
        out = []
        for m in model.markets:
            if event_ticker is None or m.event.ticker == event_ticker:
                d = market_json(m, now)
                d["historical"] = model.is_historical(m)
                out.append(d)
        return out

    def outcome(self, event_ticker: str) -> int:
        """The settlement high temperature (°F) the event resolves on."""
        return self._sim.model.event_by_ticker[event_ticker].outcome_f


class SimExchange:
    """A simulated Kalshi exchange on ``host:port`` (port 0 = pick a free one)."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        cfg = config or SimConfig()
        self.config = cfg
        self.host = host
        self.port = port
        self._clock = cfg.clock or _wall_ms
        wall_today = datetime.fromtimestamp(self._clock() / 1000, tz=UTC).date()
        if cfg.clock is None and cfg.today is not None and cfg.today != wall_today:
            # exchange time runs on the pinned day (same time of day) so live trades fall inside
            # the open markets' trading windows; signatures are still checked against real time
            offset = (cfg.today - wall_today).days * 86_400_000
            self._clock = lambda: _wall_ms() + offset
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._setup_keys(cfg)
        today = cfg.today or wall_today
        now = self._clock()
        self.model = ExchangeModel(
            seed=cfg.seed, series=(*cfg.series, *_universe(cfg, today, now)),
            brackets_per_event=cfg.brackets_per_event, history_days=cfg.history_days,
            cutoff_days=cfg.cutoff_days, history_trades_per_market=cfg.history_trades_per_market,
            today=today, now_ms=now, busy_markets=cfg.busy_markets, busy_share=cfg.busy_share,
        )
        self.fault_log: list[dict[str, Any]] = []
        self._oneshots = OneShots()
        self._rest_faults = RestFaults(cfg.faults, self._oneshots)
        limiter = RateLimiter(cfg.rest_rate_limit) if cfg.rest_rate_limit else None
        self.rest = RestApi(self.model, self.now_ms, self.keys, cfg.require_auth, limiter, self._rest_faults,
                            self._log_fault, time.monotonic, _wall_ms)
        self.hub = WsHub(self.model, cfg.faults, self._oneshots, cfg.seed, cfg.ping_interval, self._log_fault,
                         limits=cfg.ws_limits)
        self.truth = Truth(self)
        self._runner: web.AppRunner | None = None
        self._flow_task: asyncio.Task[None] | None = None
        self._paused = False
        self.messages_generated = 0

    @property
    def open_markets(self) -> int:
        """Markets trading now (what ``GET /markets?status=open`` lists)."""
        return len(self.model.active)

    # -- keys -------------------------------------------------------------------------------------
    def _setup_keys(self, cfg: SimConfig) -> None:
        self.keys = KeyRegistry(None if cfg.auth_max_skew_s is None else int(cfg.auth_max_skew_s * 1000))
        self.private_key_path: Path | None = None
        if cfg.public_key_path is not None:
            if not cfg.api_key_id:
                raise ValueError("public_key_path needs api_key_id")
            self.api_key_id: str = cfg.api_key_id
            self.keys.register(cfg.api_key_id, load_public_key(Path(cfg.public_key_path)))
            return
        if cfg.state_dir is not None:
            state = Path(cfg.state_dir)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="kalshi-sim-")
            state = Path(self._tmp.name)
        key_id, path, public = generate_key_pair(state)
        self.api_key_id = cfg.api_key_id or key_id
        self.private_key_path = path
        self.keys.register(self.api_key_id, public)

    # -- lifecycle --------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self._clock()

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    def collector_settings(self, data_dir: str | Path, *, flush_interval_seconds: float = 2.0,
                           **collection: Any) -> dict[str, Any]:
        """A collector config mapping (the YAML's shape) pointed at this exchange, on a fast schedule.

        Plain data, so the simulator still imports nothing from the client; the demo and the tests
        validate it with ``kalshi_collector.config.config_from_dict``.
        """
        return {
            "kalshi": {
                "api_key_id": self.api_key_id,
                "private_key_path": str(self.private_key_path),
                "base_url": self.rest_url,
                "ws_url": self.ws_url,
                "requests_per_second": 0,
            },
            "event_series": list(self.config.series),
            "collection": {
                "interval_seconds": 1,
                "spike_threshold_cents": 2,
                "spike_cooldown_seconds": 0.5,
                "stall_timeout_seconds": 2,
                "rest_check_interval_seconds": 1,
                **collection,
            },
            "storage": {"data_dir": str(data_dir), "flush_interval_seconds": flush_interval_seconds},
            "metrics": {"port": 0},
        }

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._not_found_middleware], client_max_size=1 << 20)
        app.router.add_get(WS_PATH, self._ws_handler)
        self.rest.add_routes(app)
        return app

    @web.middleware
    async def _not_found_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return json_response(error_body("not_found", "not found"), 404)
        except web.HTTPMethodNotAllowed:
            return json_response(error_body("method_not_allowed", "method not allowed"), 405)

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        result = self.keys.check(request.headers, request.method, request.path, _wall_ms())
        if not result.ok:
            # Kalshi refuses the upgrade itself: a plain HTTP 401, never a WebSocket
            return json_response(error_body("unauthorized", result.reason or "authentication required"), 401)
        return await self.hub.handle(request, result.key_id)

    async def start(self) -> SimExchange:
        if self._runner is not None:
            return self
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self._flow_task = asyncio.create_task(self._flow_loop(), name="sim-order-flow")
        log.info("simulated exchange on %s", self.rest_url)
        return self

    async def stop(self) -> None:
        if self._flow_task is not None:
            self._flow_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flow_task
            self._flow_task = None
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> SimExchange:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- order flow -------------------------------------------------------------------------------
    def flow_rate(self, elapsed: float) -> float:
        """Order-flow events/s ``elapsed`` seconds after start: ``message_rate``, or ``burst_rate``
        for ``burst_seconds`` at the start of every ``burst_every_s`` window."""
        cfg = self.config
        if cfg.burst_rate > 0 and cfg.burst_every_s > 0 and elapsed % cfg.burst_every_s < cfg.burst_seconds:
            return cfg.burst_rate
        return cfg.message_rate

    async def _flow_loop(self) -> None:
        """Generate ``flow_rate`` events/s in small batches; drop debt when the CPU falls behind."""
        loop = asyncio.get_running_loop()
        tick = self.config.flow_tick_s
        carry = 0.0
        start = last = loop.time()
        max_batch = max(1, int(max(self.config.message_rate, self.config.burst_rate) * 0.05))
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            rate = self.flow_rate(now - start)
            if self._paused or rate <= 0:
                last, carry = now, 0.0
                continue
            carry = min(carry + (now - last) * rate, float(max_batch))
            last = now
            n = int(carry)
            if n:
                carry -= n
                self._publish(self.model.step(n, self.now_ms()))

    def _publish(self, outs: list[Out]) -> list[Out]:
        self.messages_generated += len(outs)
        self.hub.publish(outs)
        return outs

    def pause_flow(self) -> None:
        """Stop live order flow (for exact comparisons); commands and REST keep working."""
        self._paused = True

    def resume_flow(self) -> None:
        self._paused = False

    def step(self, n: int = 1) -> list[Out]:
        """Generate exactly ``n`` order-flow events now and publish them (works while paused)."""
        return self._publish(self.model.step(n, self.now_ms()))

    def advance_day(self) -> list[Out]:
        """Close, determine and settle the oldest open event per series, open the waiting ones,
        create the next day's, move the cutoff (see ``ExchangeModel.advance_day``)."""
        return self._publish(self.model.advance_day(self.now_ms()))

    def set_cutoff(self, cutoff: datetime) -> None:
        """Move the historical cutoff (markets settled and trades made before it go historical)."""
        self.model.set_cutoff(ms_of(cutoff))

    @property
    def cutoff(self) -> datetime:
        return datetime.fromtimestamp(self.model.cutoff_ms / 1000, tz=UTC)

    # -- faults -----------------------------------------------------------------------------------
    def inject(self, kind: str, **options: Any) -> None:
        """One-shot fault on the next eligible message or request.

        WebSocket kinds: gap, duplicate, reorder, malformed, stall (``seconds=``), drop; REST
        kinds: 429, 5xx, slow (``seconds=``), truncate. ``conn=<id>`` targets one connection.
        """
        if kind not in WS_KINDS and kind not in REST_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(WS_KINDS + REST_KINDS)}")
        self._oneshots.add(kind, options)

    def _log_fault(self, kind: str, conn: int | None, sid: int | None, seq: int | None, ticker: str | None,
                   ts_ms: int | None, path: str | None = None) -> None:
        self.fault_log.append({"kind": kind, "conn": conn, "sid": sid, "seq": seq, "ticker": ticker,
                               "ts_ms": ts_ms if ts_ms is not None else self.now_ms(), "path": path})
