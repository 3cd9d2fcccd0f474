"""The WebSocket side of the simulator: connections, subscriptions, sequence numbers, fan-out.

Protocol per API.md section 7. Every frame for a connection - data, command replies, injected
garbage - goes through one ordered outbound queue, so ``seq`` order on the wire is the order the
exchange produced messages in, and a snapshot always follows the deltas of every change made
before it. The writer task pushes queued frames straight to the transport in batches (one
``write`` per batch, no await per message): that is what lets one client receive tens of
thousands of messages per second from a single Python process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from kalshi_collector.sim.faults import (
    DROP,
    DUPLICATE,
    GAP,
    MALFORMED,
    REORDER,
    STALL,
    ConnFaults,
    FaultPlan,
    OneShots,
)
from kalshi_collector.sim.model import CHANNEL_OF_KIND, DELTA, TICKER, ExchangeModel, Market, Out
from kalshi_collector.sim.variance import Variance, Varied, unknown_frame
from kalshi_collector.sim.wirefmt import dollars, fp

__all__ = ["WsHub", "WsConn", "WsLimits", "Subscription", "DATA_CHANNELS", "SILENT_CHANNELS", "ERRORS"]

log = logging.getLogger(__name__)

DATA_CHANNELS = ("orderbook_delta", "ticker", "trade", "market_lifecycle_v2")
# Accepted (so a collector subscribing to them is not refused) but the simulator publishes nothing.
SILENT_CHANNELS = ("multivariate_market_lifecycle", "fill", "market_positions", "communications",
                   "order_group_updates", "user_orders", "cfbenchmarks_value", "cfbenchmarks_value_5hz",
                   "pyth_value")
ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Sids required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    25: "Subscription buffer overflow",
    26: "Per-subscription market limit exceeded",
    27: "Too many requests",
}
MAX_PENDING_FRAMES = 2_000_000  # a client this far behind is cut off (Kalshi: error 25, buffer overflow)
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class WsLimits:
    """Kalshi's WebSocket limits as the simulator enforces them (docs/kalshi-api.md "Limits").

    Kalshi documents the error codes (26: per-subscription market limit exceeded, 27: too many
    requests) but not the numbers; ``None`` = not enforced. ``max_markets_per_subscription``
    refuses a ``subscribe`` or ``add_markets`` that would leave a subscription with more markets
    (code 26, nothing changed); ``commands_per_second`` is a token bucket per connection
    (``command_burst`` deep) and a command beyond it is refused (code 27, nothing done).
    """

    max_markets_per_subscription: int | None = None
    commands_per_second: float | None = None
    command_burst: int = 100


class _CommandBucket:
    """Token bucket of one connection's commands (code 27 when empty)."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Subscription:
    __slots__ = ("sid", "channel", "tickers", "ticker_set", "use_yes_price", "seq", "held")

    def __init__(self, sid: int, channel: str, tickers: list[str] | None, use_yes_price: bool) -> None:
        self.sid = sid
        self.channel = channel
        self.tickers = tickers  # None = every market
        self.ticker_set: set[str] = set(tickers or ())  # membership at 20,000 markets is not a list scan
        self.use_yes_price = use_yes_price
        self.seq = 0
        self.held: str | None = None  # a frame held back by a reorder fault

    def covers(self, ticker: str | None) -> bool:
        return self.tickers is None or ticker in self.ticker_set


def _frame_header(n: int) -> bytes:
    """Unmasked FIN+text frame header for a payload of ``n`` bytes (server -> client)."""
    if n < 126:
        return bytes((0x81, n))
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n)
    return struct.pack("!BBQ", 0x81, 127, n)


class WsConn:
    """One client connection: its subscriptions and its ordered outbound queue."""

    def __init__(self, hub: WsHub, conn_id: int, ws: web.WebSocketResponse, key_id: str | None) -> None:
        self.hub = hub
        self.id = conn_id
        self.ws = ws
        self.key_id = key_id
        self.subs: dict[int, Subscription] = {}
        self.next_sid = 1
        self.out: list[str] = []
        self.wake = asyncio.Event()
        self.closed = False
        self.dropping = False
        self.stall_until = 0.0
        self.faults = ConnFaults(hub.plan, conn_id, hub.seed, hub.oneshots)
        self.variance = Variance(hub.plan.variance_every)
        rate = hub.limits.commands_per_second
        self.bucket = _CommandBucket(rate, hub.limits.command_burst, time.monotonic) if rate else None
        self._route: dict[tuple[int, str | None], tuple[Subscription, ...]] = {}
        writer = getattr(ws, "_writer", None)
        self.transport: asyncio.Transport | None = getattr(writer, "transport", None)
        self.protocol: Any = getattr(writer, "protocol", None)

    # -- queueing -------------------------------------------------------------------------------
    def push(self, frame: str) -> None:
        if self.dropping or self.closed:
            return
        self.out.append(frame)
        if len(self.out) > MAX_PENDING_FRAMES:
            log.warning("sim ws conn %d: %d frames pending, cutting the client off", self.id, len(self.out))
            self.out.clear()
            self.dropping = True
        self.wake.set()

    def reply(self, obj: dict[str, Any]) -> None:
        self.push(_encode(obj).decode())

    def error(self, cmd_id: int, code: int, sub: Subscription | None = None, **extra: Any) -> None:
        msg: dict[str, Any] = {"code": code, "msg": ERRORS.get(code, "error")}
        msg.update(extra)
        if sub is not None:
            self._release(sub)
            sub.seq += 1
            self.reply({"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "error", "msg": msg})
        else:
            self.reply({"id": cmd_id, "type": "error", "msg": msg})

    def _release(self, sub: Subscription) -> None:
        if sub.held is not None:
            frame, sub.held = sub.held, None
            self.push(frame)

    def routes(self, kind: int, ticker: str | None) -> tuple[Subscription, ...]:
        key = (kind, ticker)
        subs = self._route.get(key)
        if subs is None:
            channel = CHANNEL_OF_KIND[kind]
            subs = tuple(s for s in self.subs.values() if s.channel == channel
                         and (channel == "market_lifecycle_v2" or s.covers(ticker)))
            self._route[key] = subs
        return subs

    def subs_changed(self) -> None:
        self._route.clear()

    # -- data -----------------------------------------------------------------------------------
    def deliver(self, outs: list[Out]) -> None:
        """Queue every message of a batch that one of this connection's subscriptions wants."""
        if self.dropping or self.closed or not self.subs:
            return
        faulty = self.faults.active or self.variance.active
        push = self.out.append
        for o in outs:
            m = o.market
            subs = self.routes(o.kind, m.ticker if m is not None else o.event_ticker)
            for sub in subs:
                body = o.body_yes if (o.body_yes is not None and sub.use_yes_price) else o.body
                if o.kind == TICKER:
                    frame = f'{{"type":"ticker","sid":{sub.sid},"msg":{body}}}'
                    has_seq = False
                else:
                    sub.seq += 1
                    frame = f'{{"type":"{o.msg_type}","sid":{sub.sid},"seq":{sub.seq},"msg":{body}}}'
                    has_seq = True
                if not faulty and sub.held is None:
                    push(frame)
                    continue
                self._faulty_push(sub, o, frame, has_seq)
                if self.dropping:
                    self.wake.set()
                    return
        if len(self.out) > MAX_PENDING_FRAMES:
            log.warning("sim ws conn %d: %d frames pending, cutting the client off", self.id, len(self.out))
            self.out.clear()
            self.dropping = True
        self.wake.set()

    def _faulty_push(self, sub: Subscription, o: Out, frame: str, has_seq: bool) -> None:
        if sub.held is None and self.variance.due():
            varied = self.variance.vary(o.msg_type, frame)
            if varied is not None:
                frame = self._varied(sub, o, varied, has_seq)
                has_seq = has_seq and not varied.drops_seq
                if varied.then_unknown:  # sent as it is, then the unknown type takes the next number
                    sub.seq += 1
                    self.out.append(frame)
                    self.out.append(unknown_frame(sub.sid, sub.seq))
                    return
        flags = self.faults.decide(o.kind == DELTA, has_seq)
        held, sub.held = sub.held, None
        if not flags:
            self.out.append(frame)
            if held is not None:
                self.out.append(held)
            return
        ticker = o.market.ticker if o.market is not None else o.event_ticker
        seq = sub.seq if has_seq else None
        if flags & MALFORMED:
            self.out.append(self.faults.garbage(frame))
            self.hub.log_fault("malformed", self.id, sub.sid, seq, ticker, o.ts_ms)
        if flags & GAP:
            self.hub.log_fault("gap", self.id, sub.sid, seq, ticker, o.ts_ms)
            sub.held, held = held, None  # nothing went out: a held frame waits for the next one
        elif flags & REORDER and held is None:
            sub.held = frame  # goes out right after the next message on this sid
            self.hub.log_fault("reorder", self.id, sub.sid, seq, ticker, o.ts_ms)
        else:
            self.out.append(frame)
            if flags & DUPLICATE:
                self.out.append(frame)
                self.hub.log_fault("duplicate", self.id, sub.sid, seq, ticker, o.ts_ms)
        if held is not None:
            self.out.append(held)
        if flags & STALL:
            loop = asyncio.get_running_loop()
            self.stall_until = loop.time() + self.faults.stall_seconds
            self.hub.log_fault("stall", self.id, sub.sid, seq, ticker, o.ts_ms)
        if flags & DROP:
            self.dropping = True
            self.hub.log_fault("drop", self.id, sub.sid, seq, ticker, o.ts_ms)

    def _varied(self, sub: Subscription, o: Out, varied: Varied, has_seq: bool) -> str:
        """Log one variant (``undecodable`` when a correct client must lose it) and return its frame."""
        if varied.drops_seq:
            sub.seq -= 1  # a message without a seq consumes no number
        ticker = o.market.ticker if o.market is not None else o.event_ticker
        kind = "variance" if varied.decodable else "undecodable"
        self.hub.log_fault(kind, self.id, sub.sid, sub.seq if has_seq else None, ticker, o.ts_ms)
        return varied.frame

    # -- writing --------------------------------------------------------------------------------
    async def writer(self) -> None:
        """Send queued frames in batches; honours stalls; closes abruptly after a drop fault."""
        loop = asyncio.get_running_loop()
        try:
            while not self.closed:
                await self.wake.wait()
                self.wake.clear()
                wait = self.stall_until - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    self.wake.set()
                    continue
                frames, self.out = self.out, []
                if frames:
                    await self._write(frames)
                if self.dropping and not self.out:
                    self._abort()
                    return
        except (ConnectionError, RuntimeError) as exc:
            log.debug("sim ws conn %d writer ended: %s", self.id, exc)
        finally:
            self.closed = True

    async def _write(self, frames: list[str]) -> None:
        transport = self.transport
        if transport is None or self.protocol is None:
            for f in frames:  # portable path if aiohttp internals ever change
                await self.ws.send_str(f)
            return
        if transport.is_closing():
            raise ConnectionResetError("transport closing")
        parts: list[bytes] = []
        for f in frames:
            data = f.encode()
            parts.append(_frame_header(len(data)))
            parts.append(data)
        transport.write(b"".join(parts))
        if getattr(self.protocol, "_paused", False):
            await self.protocol._drain_helper()

    def _abort(self) -> None:
        """Close the TCP connection without a WebSocket close frame (an abrupt drop)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        else:  # pragma: no cover - portable fallback
            asyncio.get_running_loop().create_task(self.ws.close())

    async def pinger(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            await asyncio.sleep(interval)
            if self.closed or self.dropping:
                return
            if self.stall_until > loop.time():
                continue  # a stall silences pings too
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.ping(b"heartbeat")


class WsHub:
    """All live connections, the command handlers, and the fan-out of exchange messages."""

    def __init__(self, model: ExchangeModel, plan: FaultPlan, oneshots: OneShots, seed: int,
                 ping_interval: float, log_fault: Callable[..., None], limits: WsLimits | None = None) -> None:
        self.model = model
        self.limits = limits or WsLimits()
        self.plan = plan
        self.oneshots = oneshots
        self.seed = seed
        self.ping_interval = ping_interval
        self.log_fault = log_fault
        self.conns: dict[int, WsConn] = {}
        self._next_conn = 1

    def publish(self, outs: list[Out]) -> None:
        if not outs:
            return
        for conn in list(self.conns.values()):
            conn.deliver(outs)

    async def handle(self, request: web.Request, key_id: str | None) -> web.WebSocketResponse:
        # no permessage-deflate: frames are written pre-built and uncompressed (see WsConn._write)
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = WsConn(self, self._next_conn, ws, key_id)
        self._next_conn += 1
        self.conns[conn.id] = conn
        writer = asyncio.create_task(conn.writer())
        pinger = asyncio.create_task(conn.pinger(self.ping_interval))
        try:
            async for msg in ws:
                if conn.closed:
                    break
                if msg.type == WSMsgType.TEXT:
                    self.command(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.error(0, 1)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            conn.closed = True
            conn.wake.set()
            self.conns.pop(conn.id, None)
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
        return ws

    async def close_all(self) -> None:
        for conn in list(self.conns.values()):
            conn.closed = True
            conn.wake.set()
            with contextlib.suppress(Exception):
                await conn.ws.close()

    # -- commands -------------------------------------------------------------------------------
    def command(self, conn: WsConn, text: str) -> None:
        try:
            cmd = _decode(text)
        except msgspec.DecodeError:
            conn.error(0, 1)
            return
        if not isinstance(cmd, dict):
            conn.error(0, 1)
            return
        cmd_id = cmd.get("id", 0)
        if not isinstance(cmd_id, int) or isinstance(cmd_id, bool):
            conn.error(0, 1)
            return
        if conn.bucket is not None and not conn.bucket.take():
            conn.error(cmd_id, 27)
            return
        name = cmd.get("cmd")
        params = cmd.get("params")
        if name == "list_subscriptions":
            conn.reply({"id": cmd_id, "type": "ok",
                        "msg": [{"channel": s.channel, "sid": s.sid} for s in conn.subs.values()]})
            return
        handler = {"subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
                   "update_subscription": self._update}.get(name)  # type: ignore[arg-type]
        if handler is None:
            conn.error(cmd_id, 5)
            return
        if not isinstance(params, dict):
            conn.error(cmd_id, 2)
            return
        handler(conn, cmd_id, params)

    def _tickers(self, params: dict[str, Any]) -> list[str] | None | bool:
        """Market selector -> list, None (absent) or False (malformed)."""
        if "market_tickers" in params:
            value = params["market_tickers"]
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                return False
            return list(dict.fromkeys(value))
        if "market_ticker" in params:
            value = params["market_ticker"]
            return [value] if isinstance(value, str) else False
        return None

    def _unknown(self, tickers: list[str]) -> list[str]:
        return [t for t in tickers if t not in self.model.market_by_ticker]

    def _subscribe(self, conn: WsConn, cmd_id: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            conn.error(cmd_id, 3)
            return
        tickers = self._tickers(params)
        if tickers is False:
            conn.error(cmd_id, 11)
            return
        for ch in channels:
            if ch not in DATA_CHANNELS and ch not in SILENT_CHANNELS:
                conn.error(cmd_id, 8)
                return
        if "orderbook_delta" in channels and not tickers:
            conn.error(cmd_id, 14)
            return
        use_yes = params.get("use_yes_price", False)
        if not isinstance(use_yes, bool):
            conn.error(cmd_id, 11)
            return
        assert tickers is not False
        if tickers:
            unknown = self._unknown(tickers)
            if unknown:
                conn.error(cmd_id, 16, market_tickers=unknown)
                return
            cap = self.limits.max_markets_per_subscription
            if cap is not None and len(tickers) > cap:
                conn.error(cmd_id, 26)
                return
        for ch in dict.fromkeys(channels):
            sid = conn.next_sid
            conn.next_sid += 1
            selector = None if ch == "market_lifecycle_v2" else (list(tickers) if tickers else None)
            sub = Subscription(sid, ch, selector, use_yes)
            conn.subs[sid] = sub
            conn.subs_changed()
            conn.reply({"id": cmd_id, "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
            if ch == "orderbook_delta":
                for t in sub.tickers or ():
                    self._snapshot(conn, sub, self.model.market_by_ticker[t])
            elif ch == "ticker" and params.get("send_initial_snapshot") is True:
                ms = [self.model.market_by_ticker[t] for t in tickers] if tickers else list(self.model.active)
                for m in ms:
                    body = self.model.ticker_body(m, m.last_ts)
                    conn.push(f'{{"type":"ticker","sid":{sid},"msg":{body}}}')

    def _snapshot(self, conn: WsConn, sub: Subscription, m: Market, cmd_id: int | None = None) -> None:
        conn._release(sub)
        sub.seq += 1
        frame = snapshot_frame(sub, m, cmd_id)
        if conn.variance.due():
            varied = conn.variance.vary("orderbook_snapshot", frame)
            if varied is not None:
                self.log_fault("variance", conn.id, sub.sid, sub.seq, m.ticker, None)
                frame = varied.frame
        conn.push(frame)

    def _unsubscribe(self, conn: WsConn, cmd_id: int, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids or not all(isinstance(s, int) for s in sids):
            conn.error(cmd_id, 4)
            return
        for sid in sids:
            sub = conn.subs.pop(sid, None)
            if sub is None:
                conn.error(cmd_id, 7)
                continue
            conn.subs_changed()
            sub.held = None
            sub.seq += 1
            conn.reply({"id": cmd_id, "sid": sid, "seq": sub.seq, "type": "unsubscribed"})

    def _update(self, conn: WsConn, cmd_id: int, params: dict[str, Any]) -> None:
        """``update_subscription``: checked in Kalshi's order (the first failure is the one error
        reply), then the action."""
        sub = self._update_target(conn, cmd_id, params)
        if sub is None:
            return
        tickers = self._update_tickers(conn, cmd_id, sub, params)
        if tickers is None:
            return
        if params["action"] == "get_snapshot":
            self._resend_snapshots(conn, cmd_id, sub, tickers)
        else:
            self._change_markets(conn, cmd_id, sub, tickers, add=params["action"] == "add_markets")

    def _update_target(self, conn: WsConn, cmd_id: int, params: dict[str, Any]) -> Subscription | None:
        """The subscription an update names, if the action applies to it; else None (error sent)."""
        sid = _update_sid(params)
        if sid is None:
            conn.error(cmd_id, 12)
            return None
        sub = conn.subs.get(sid)
        if sub is None:
            conn.error(cmd_id, 7)
            return None
        action = params.get("action")
        if action is None:
            conn.error(cmd_id, 15, sub)
            return None
        if not isinstance(action, str) or sub.channel not in _UPDATE_ACTIONS.get(action, ()):
            conn.error(cmd_id, 13, sub)
            return None
        return sub

    def _update_tickers(self, conn: WsConn, cmd_id: int, sub: Subscription, params: dict[str, Any]) -> list[str] | None:
        """The markets an update names, if valid for ``sub``; else None (error sent)."""
        tickers = self._tickers(params)
        if tickers is False:
            conn.error(cmd_id, 11, sub)
            return None
        if not tickers:
            conn.error(cmd_id, 14, sub)
            return None
        assert isinstance(tickers, list)
        unknown = self._unknown(tickers)
        if unknown:
            conn.error(cmd_id, 16, sub, market_tickers=unknown)
            return None
        if sub.tickers is None:
            conn.error(cmd_id, 11, sub)  # an all-markets subscription has no list to change
            return None
        return tickers

    def _resend_snapshots(self, conn: WsConn, cmd_id: int, sub: Subscription, tickers: list[str]) -> None:
        assert sub.tickers is not None
        missing = [t for t in tickers if t not in sub.ticker_set]
        if missing:
            conn.error(cmd_id, 11, sub, market_tickers=missing)
            return
        for t in tickers:
            self._snapshot(conn, sub, self.model.market_by_ticker[t], cmd_id)

    def _change_markets(self, conn: WsConn, cmd_id: int, sub: Subscription, tickers: list[str], *, add: bool) -> None:
        assert sub.tickers is not None
        if add:
            added = [t for t in tickers if t not in sub.ticker_set]
            cap = self.limits.max_markets_per_subscription
            if cap is not None and len(sub.tickers) + len(added) > cap:
                conn.error(cmd_id, 26, sub)
                return
            sub.tickers.extend(added)
            sub.ticker_set.update(added)
        else:
            added = []
            gone = set(tickers)
            sub.tickers[:] = [t for t in sub.tickers if t not in gone]
            sub.ticker_set.difference_update(gone)
        conn.subs_changed()
        conn._release(sub)
        sub.seq += 1
        if conn.variance.active:  # also seen: the list at the top level, no msg
            conn.reply({"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "ok",
                        "market_tickers": list(sub.tickers)})
        else:
            conn.reply({"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "ok",
                        "msg": {"market_tickers": list(sub.tickers)}})
        if sub.channel == "orderbook_delta":
            for t in added:
                self._snapshot(conn, sub, self.model.market_by_ticker[t])


# update_subscription actions, and the channels each applies to.
_UPDATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "add_markets": ("orderbook_delta", "ticker", "trade"),
    "delete_markets": ("orderbook_delta", "ticker", "trade"),
    "get_snapshot": ("orderbook_delta",),
}


def _update_sid(params: dict[str, Any]) -> int | None:
    """The one sid of an update (``sids: [n]`` or ``sid: n``), None when malformed."""
    if "sids" in params:
        sids = params["sids"]
        one = isinstance(sids, list) and len(sids) == 1 and isinstance(sids[0], int)
        return sids[0] if one else None
    sid = params.get("sid")
    return sid if isinstance(sid, int) else None


def snapshot_frame(sub: Subscription, m: Market, cmd_id: int | None) -> str:
    """``orderbook_snapshot``: ascending [price, count] pairs per side, empty sides omitted."""
    msg: dict[str, Any] = {"market_ticker": m.ticker, "market_id": m.market_id}
    if m.yes:
        msg["yes_dollars_fp"] = [[dollars(p), fp(m.yes[p])] for p in sorted(m.yes)]
    if m.no:
        if sub.use_yes_price:
            msg["no_dollars_fp"] = [[dollars(100 - p), fp(m.no[p])] for p in sorted(m.no, reverse=True)]
        else:
            msg["no_dollars_fp"] = [[dollars(p), fp(m.no[p])] for p in sorted(m.no)]
    frame: dict[str, Any] = {"type": "orderbook_snapshot", "sid": sub.sid, "seq": sub.seq, "msg": msg}
    if cmd_id is not None:
        frame = {"id": cmd_id, **frame}
    return _encode(frame).decode()
