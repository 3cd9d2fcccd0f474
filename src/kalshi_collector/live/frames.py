"""The frame handler: one WebSocket frame in -> sequence checked, book applied, tape rows out.

This is the collector's hot path, and it is synchronous and free of I/O on purpose: frames come in
through :meth:`FrameHandler.on_frame`, rows go out to the :class:`~kalshi_collector.live.tape.RowSink`
it is handed, snapshot requests through :class:`~kalshi_collector.live.resync.Resync`'s callable,
and everything else the collector cares about (ticker values, lifecycle news, a dead subscription)
through callables. So the same handler runs in the daemon and can replay recorded frames without a
network or an event loop.

Per frame: decode once (:func:`kalshi.messages.decode`: the strict fast path, the tolerant fallback
when it fails, each repair counted), then one lookup in :attr:`FrameHandler.dispatch` (message class
-> method). Every message that carries a ``seq`` is checked against its sid's numbering — control
replies too, or the next data message would read as a gap. A frame that cannot be read (or whose
numbers cannot be converted exactly) is kept raw in ``rejects``; its ``seq`` still counts when it
can be read, so it causes no false gap, and if it was an order-book message only its own book is
doubted and re-requested. The per-connection
state (sequence tracker, subscriptions, connection id) is one :class:`ConnectionState`, replaced
when a connection opens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from kalshi_collector.book import BookStatus, BookStore
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.numbers import BadNumber
from kalshi_collector.live.connection import ConnectionState
from kalshi_collector.live.counters import Counters, Lag
from kalshi_collector.live.resync import Resync
from kalshi_collector.live.sequence import SEQ_OK, SeqCheck, SeqStatus
from kalshi_collector.live.tape import (
    BOOK_EVENTS,
    ORDERBOOK_DELTAS,
    REJECTS,
    TRADES_LIVE,
    US,
    BookEvent,
    RowSink,
    delta_row,
    reject_row,
    snapshot_rows,
    trade_row,
)

__all__ = ["FrameHandler", "LimitedLog"]

log = logging.getLogger(__name__)

_APPLIED = BookStatus.APPLIED
_NOT_READY = BookStatus.NOT_READY
_BOOK_MESSAGES = frozenset({"orderbook_delta", "orderbook_snapshot"})
_WS = "ws"  # the rejects table's source of a WebSocket frame

# Kalshi's limit errors (docs/kalshi-api.md "Limits"): the setting that avoids them.
_LIMIT_HINTS = {
    26: "; a subscription hit Kalshi's per-subscription market limit: lower collection.markets_per_connection",
    27: "; Kalshi refused the command rate: raise collection.subscribe_batch (fewer, larger commands)",
}


class LimitedLog:
    """At most one warning per kind per ``every`` seconds: a flood of bad frames must not flood the log."""

    def __init__(self, clock: Callable[[], float], every: float = 10.0) -> None:
        self._clock = clock
        self._every = every
        self._last: dict[str, float] = {}

    def warn(self, kind: str, fmt: str, *args: object) -> None:
        now = self._clock()
        if now - self._last.get(kind, 0.0) >= self._every:
            self._last[kind] = now
            log.warning(fmt, *args)


def _ignore(*_: object) -> None:
    return None


class FrameHandler:
    CENSUS_EVERY = 1024
    """One frame in this many is also read for fields our structs do not declare (Kalshi adding
    fields): cheap enough for the read loop, and a new field shows within seconds at any real rate."""

    def __init__(
        self,
        books: BookStore,
        resync: Resync,
        sink: RowSink,
        counters: Counters,
        *,
        lag: Lag | None = None,
        clock: Callable[[], float] = time.time,
        on_ticker: Callable[[float, wm.TickerBody], None] = _ignore,
        on_market_lifecycle: Callable[[wm.MarketLifecycleBody], None] = _ignore,
        on_event_lifecycle: Callable[[wm.EventLifecycleBody], None] = _ignore,
        on_terminal_error: Callable[[], None] = _ignore,
        decode: Callable[..., Any] = wm.decode,
        on_subscribed: Callable[[str, int], None] = _ignore,
        owned: Callable[[], Collection[str]] | None = None,
    ) -> None:
        """``owned``: the markets this connection carries, when it is one of several sharing
        ``books`` (a lost connection then spoils only its own books; None = every book)."""
        self.books = books
        self.resync = resync
        self.counters = counters
        self.lag = lag if lag is not None else Lag()
        self.conn = ConnectionState()
        self._clock = clock
        self._append = sink.append
        self._note_repair = counters.note_repair  # bound once: decode takes it on every frame
        self._extend = sink.extend
        self._apply_delta = books.apply_delta
        self._on_ticker_values = on_ticker
        self._on_market_lifecycle = on_market_lifecycle
        self._on_event_lifecycle = on_event_lifecycle
        self._on_terminal_error = on_terminal_error
        self._on_subscribed_sid = on_subscribed
        self._owned = owned
        self._warnings = LimitedLog(clock)
        # injectable so that a rebuild can replay the raw tape through a fixed decoder; called like
        # wm.decode (frame, repairs callable), it raises wm.MessageError for a frame it cannot read
        self._decode = decode
        self.dispatch: dict[type, Callable[[float, Any], None]] = {
            wm.OrderbookDelta: self._on_delta,
            wm.Ticker: self._on_ticker,
            wm.Trade: self._on_trade,
            wm.OrderbookSnapshot: self._on_snapshot,
            wm.Subscribed: self._on_subscribed,
            wm.Ok: self._on_ok,
            wm.Unsubscribed: self._on_unsubscribed,
            wm.Error: self._on_error,
            wm.MarketLifecycle: self._on_market_lifecycle_message,
            wm.EventLifecycle: self._on_event_lifecycle_message,
            wm.UnknownMessage: self._on_unknown,
        }
        """Message class -> handler; wrap an entry to observe one message type (the benchmark does)."""

    # --- connections --------------------------------------------------------------------------------

    def connection_opened(self, number: int) -> ConnectionState:
        """A new connection starts with fresh numbering and no subscriptions."""
        self.conn = ConnectionState(number=number)
        return self.conn

    def connection_closed(self, why: str, now_us: int | None = None) -> None:
        """Nothing is known any more: every book waits for the next connection's snapshots.

        ``now_us``: the time of the ``close`` record on the raw tape (default: the clock)."""
        if now_us is None:
            now_us = int(self._clock() * US)
        number = self.conn.number
        if self._owned is None:
            tickers = [b.ticker for b in self.books if b.valid]
            self.books.invalidate_all("disconnected")
        else:
            tickers = self.books.invalidate(list(self._owned()), "disconnected")
        self.conn = ConnectionState()
        self.resync.connection_lost(now_us, tickers)
        action = "stopped" if why == "stopping" else "disconnect"
        self._append(BOOK_EVENTS, BookEvent(now_us, None, None, None, None, action,
                                            f"connection {number} {why}; {len(tickers)} books invalidated"))

    # --- the read loop (hot path) -------------------------------------------------------------------

    def on_frame(self, recv_ts: float, frame: str | bytes) -> None:
        """Handle one frame. Never raises: a frame that cannot be read is kept in ``rejects``,
        counted, and its sequence number still counted when it can be read."""
        try:
            msg = self._decode(frame, self._note_repair)
        except wm.MessageError as exc:
            self._rejected(recv_ts, frame, exc)
            return
        try:
            self.dispatch[type(msg)](recv_ts, msg)
        except BadNumber as exc:  # a number the exact conversion refuses ("" price of a delta...)
            self._unreadable_numbers(recv_ts, frame, msg, exc)
        except Exception as exc:  # a bug or a shape we did not foresee must not kill the daemon
            self.counters.handler_errors += 1
            self._warnings.warn("handler", "error handling %s: %r", type(msg).__name__, exc)
        counters = self.counters
        counters.messages += 1
        if not counters.messages % self.CENSUS_EVERY:
            counters.note_unknown_fields(wm.unknown_fields(frame))

    # --- frames that cannot be read (rare path) -----------------------------------------------------

    def _reject(self, recv_ts: float, frame: str | bytes, error: str) -> None:
        self.counters.note_reject(_WS)
        self._append(REJECTS, reject_row(int(recv_ts * US), _WS, self.conn.number, frame, error))

    def _rejected(self, recv_ts: float, frame: str | bytes, exc: wm.MessageError) -> None:
        """Kept raw; its seq counted (no false gap); a book it was about doubted alone."""
        self.counters.malformed += 1
        self._warnings.warn("malformed", "keeping an unreadable frame in rejects: %s", exc)
        self._reject(recv_ts, frame, str(exc))
        if exc.sid is not None and exc.seq is not None:
            self._in_order(recv_ts, exc.sid, exc.seq)
        if exc.kind in _BOOK_MESSAGES and exc.sid is not None:
            self._lost_book_message(recv_ts, exc.sid, exc.market_ticker)

    def _unreadable_numbers(self, recv_ts: float, frame: str | bytes, msg: Any, exc: BadNumber) -> None:
        """A decoded message whose price or count cannot be read exactly (its seq was counted)."""
        self.counters.malformed += 1
        self._warnings.warn("numbers", "keeping a %s with unreadable numbers in rejects: %s", type(msg).__name__, exc)
        self._reject(recv_ts, frame, f"bad {type(msg).__name__}: {exc}"[:160])
        if isinstance(msg, wm.OrderbookDelta | wm.OrderbookSnapshot):
            self._lost_book_message(recv_ts, msg.sid, msg.msg.market_ticker)

    def _lost_book_message(self, recv_ts: float, sid: int, ticker: str | None) -> None:
        """A book message we could not apply: its book (or, ticker unknown, every book of its sid)
        is doubted and re-requested; the sid's other books stay valid."""
        tickers = [ticker] if ticker else self.books.tickers_for_sid(sid)
        if self._owned is not None and not ticker:  # another connection's sid may carry the same number
            owned = set(self._owned())
            tickers = [t for t in tickers if t in owned]
        self.books.invalidate(tickers, "unreadable book message")
        for t in tickers:
            self.resync.bad_book(recv_ts, sid, t, BookStatus.BAD_VALUE)

    def _in_order(self, recv_ts: float, sid: int, seq: int) -> bool:
        """True if the message is new on its sid; a break is recorded and its resync started."""
        check = self.conn.seq.observe(sid, seq)
        if check is SEQ_OK:
            return True
        self._sequence_break(recv_ts, sid, check)
        return check.status is SeqStatus.GAP  # a gap's message itself is new (dups/reorders are not)

    def _sequence_break(self, recv_ts: float, sid: int, check: SeqCheck) -> None:
        self.counters.seq_breaks[check.status] += 1
        recv_us = int(recv_ts * US)
        kind = check.status.value
        subs = self.conn.subs
        channel = subs.channel(sid) or "?"
        self._append(BOOK_EVENTS, BookEvent(recv_us, None, sid, check.expected, check.received, kind,
                                            f"channel {channel}"))
        if channel != "orderbook_delta":
            # trades/lifecycle cannot be replayed over the WebSocket; the ledger says what was missed
            log.warning("%s on %s sid %d: expected seq %s, got %s", kind, channel, sid, check.expected, check.received)
            return
        tickers = set(subs.markets(sid)) | set(self.books.tickers_for_sid(sid))
        if self._owned is not None:  # another connection's sid may carry the same number
            tickers &= set(self._owned())
        self.resync.sequence_break(recv_us, sid, check, tickers)

    def _on_delta(self, recv_ts: float, msg: wm.OrderbookDelta) -> None:
        in_order = self._in_order(recv_ts, msg.sid, msg.seq)
        self._append(ORDERBOOK_DELTAS, delta_row(int(recv_ts * US), msg, self.conn.number))
        ts_ms = msg.msg.ts_ms
        if ts_ms is not None:
            lag = recv_ts - ts_ms / 1000.0
            stats = self.lag
            stats.total += lag
            stats.count += 1
            if lag > stats.period_max:
                stats.period_max = lag
        if not in_order:
            return
        status = self._apply_delta(msg)
        if status is _APPLIED or status is _NOT_READY:
            return
        self.resync.bad_book(recv_ts, msg.sid, msg.msg.market_ticker, status)

    def _on_snapshot(self, recv_ts: float, msg: wm.OrderbookSnapshot) -> None:
        self._in_order(recv_ts, msg.sid, msg.seq)
        recv_us = int(recv_ts * US)
        ticker = msg.msg.market_ticker
        self._extend(ORDERBOOK_DELTAS, snapshot_rows(recv_us, msg, self.conn.number))
        status = self.books.apply_snapshot(msg)
        if status is not _APPLIED:
            self.resync.bad_book(recv_ts, msg.sid, ticker, status)
            return
        self.resync.snapshot_applied(recv_us, ticker, msg.sid, msg.seq)

    def _on_ticker(self, recv_ts: float, msg: wm.Ticker) -> None:
        self._on_ticker_values(recv_ts, msg.msg)

    def _on_trade(self, recv_ts: float, msg: wm.Trade) -> None:
        self._in_order(recv_ts, msg.sid, msg.seq)
        self._append(TRADES_LIVE, trade_row(int(recv_ts * US), self.conn.number, msg))

    # --- control and lifecycle ----------------------------------------------------------------------

    def _on_subscribed(self, recv_ts: float, msg: wm.Subscribed) -> None:
        sid = msg.msg.sid
        self.conn.subs.on_subscribed(msg.id, msg.msg.channel, sid)
        self.conn.seq.forget(sid)
        log.info("subscribed %s as sid %d", msg.msg.channel, sid)
        self._on_subscribed_sid(msg.msg.channel, sid)

    def _on_ok(self, recv_ts: float, msg: wm.Ok) -> None:
        if msg.sid is not None and msg.seq is not None:
            self._in_order(recv_ts, msg.sid, msg.seq)
        self.conn.subs.on_ok(msg.id, msg.sid, msg.market_tickers)

    def _on_unsubscribed(self, recv_ts: float, msg: wm.Unsubscribed) -> None:
        self._in_order(recv_ts, msg.sid, msg.seq)
        self.conn.subs.on_unsubscribed(msg.sid)
        self.conn.seq.forget(msg.sid)

    def _on_error(self, recv_ts: float, err: wm.Error) -> None:
        self.counters.ws_errors += 1
        if err.sid is not None and err.seq is not None:
            self._in_order(recv_ts, err.sid, err.seq)
        pending = self.conn.subs.on_error(err.id)
        what = f"{pending.cmd} {pending.action or ''}".strip() if pending else "?"
        log.warning("exchange error %d (%s) answering %s%s", err.msg.code, err.msg.msg, what,
                    _LIMIT_HINTS.get(err.msg.code, ""))
        if err.terminal and err.sid is not None:
            # the subscription is dead (API.md 7): start over on a fresh connection
            log.error("subscription %d terminated by the exchange (code %d); reconnecting", err.sid, err.msg.code)
            self._on_terminal_error()

    def _on_market_lifecycle_message(self, recv_ts: float, msg: wm.MarketLifecycle) -> None:
        self._in_order(recv_ts, msg.sid, msg.seq)
        self._on_market_lifecycle(msg.msg)

    def _on_event_lifecycle_message(self, recv_ts: float, msg: wm.EventLifecycle) -> None:
        if msg.seq is not None:  # Kalshi has sent event_lifecycle without one
            self._in_order(recv_ts, msg.sid, msg.seq)
        self._on_event_lifecycle(msg.msg)

    def _on_unknown(self, recv_ts: float, msg: wm.UnknownMessage) -> None:
        self.counters.note_unknown_type(msg.type)
        self._warnings.warn("unknown", "skipping message of unknown type %r", msg.type)
        if msg.sid is not None and msg.seq is not None:
            self._in_order(recv_ts, msg.sid, msg.seq)
