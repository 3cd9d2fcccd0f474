"""Replay one collector run's raw tape through the live code: the derived rows, computed again.

A :class:`Replayer` owns the same parts the collector builds — :class:`FrameHandler` (with an
injectable decoder), :class:`Resync`, :class:`SnapshotCycle` — and no network, event loop or clock
of its own: the clock is the time of the record being replayed. Each ``raw_ws`` record kind is one
method (:attr:`Replayer.dispatch`):

* ``in``: the frame, through the frame handler (sequence, books, tape rows);
* ``out``: the command we sent, registered on the connection so its reply is matched;
* ``open`` / ``close``: a connection starts (fresh numbering) / ends (books invalidated);
* ``snapshot``: a snapshot cycle at the recorded ``snapshot_ts``, trigger and depth;
* ``markets``: the tracked markets from now on, and the books the collector dropped;
* ``crosscheck``: a REST disagreement, acted on as the collector did (``same``/``inconclusive``:
  nothing to do);
* ``retry``: the resync retry's request for books that stayed invalid.

The collector stamped every record with the time it used for the rows it derived, so the rows
come out the same, value for value. ``live.rebuild_io`` reads the tape and writes the rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import msgspec

from kalshi_collector.book import BookStore
from kalshi_collector.config import CollectionConfig
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.counters import Counters, SnapshotTrigger
from kalshi_collector.live.discovery import TrackedMarket
from kalshi_collector.live.frames import FrameHandler
from kalshi_collector.live.resync import Resync
from kalshi_collector.live.snapshot_cycle import SnapshotCycle
from kalshi_collector.live.subscriptions import PendingCommand
from kalshi_collector.live.tape import US, RowSink

__all__ = ["Replayer", "exact_seconds", "pending_command", "Decoder"]

log = logging.getLogger(__name__)

Decoder = Callable[..., Any]
"""Called like :func:`kalshi.messages.decode` (frame, repairs callable): the message, or
``kalshi.messages.MessageError`` for a frame it cannot read."""

_json = msgspec.json.Decoder()


def exact_seconds(us: int) -> float:
    """A float ``t`` with ``int(t * 1e6) == us``: what the live code computed its rows' times from.

    ``us / 1e6`` alone can land one ulp low, and ``int()`` of it times 1e6 one microsecond early."""
    t = us / US
    while int(t * US) < us:
        t = math.nextafter(t, math.inf)
    while int(t * US) > us:
        t = math.nextafter(t, -math.inf)
    return t


def pending_command(payload: bytes | str) -> tuple[int, PendingCommand] | None:
    """The command id and what it asked, from a command as sent (``ConnectionState`` built it)."""
    try:
        cmd = _json.decode(payload)
        cid, name, params = cmd["id"], cmd["cmd"], cmd.get("params", {})
    except (msgspec.DecodeError, KeyError, TypeError):
        return None
    tickers = tuple(params.get("market_tickers") or ())
    if name == "subscribe":
        return cid, PendingCommand("subscribe", tuple(params.get("channels") or ()), tickers)
    sids = params.get("sids") or ()
    sid = params.get("sid", sids[0] if sids else None)
    return cid, PendingCommand(name, (), tickers, sid, params.get("action"))


class Replayer:
    """One collector run, replayed record by record (``feed``) into ``sink``."""

    def __init__(self, sink: RowSink, *, decode: Decoder = wm.decode) -> None:
        self.now_us = 0
        self.connected = False
        self.books = BookStore()
        self.counters = Counters()
        clock = self._clock
        self.resync = Resync(self.books, sink, self.counters, request=self._request, retry_seconds=0, clock=clock)
        self.snapshots = SnapshotCycle(self.books, sink, self.counters, CollectionConfig())
        self.handler = FrameHandler(self.books, self.resync, sink, self.counters, clock=clock,
                                    on_ticker=self.snapshots.on_ticker, decode=decode)
        self.unknown_kinds: dict[str, int] = {}
        self.dispatch: dict[str, Callable[[int, int, Any], None]] = {
            "in": self._in, "out": self._out, "open": self._open, "close": self._close,
            "snapshot": self._snapshot, "markets": self._markets, "crosscheck": self._crosscheck,
            "retry": self._retry,
        }

    def _clock(self) -> float:
        return self.now_us / US

    def _request(self, sid: int, tickers: list[str]) -> bool:
        return self.connected  # the command itself is the `out` record that follows

    def feed(self, recv_us: int, conn: int, kind: str, data: Any) -> None:
        """Replay one record (in ``n`` order)."""
        self.now_us = recv_us
        step = self.dispatch.get(kind)
        if step is None:
            self.unknown_kinds[kind] = self.unknown_kinds.get(kind, 0) + 1
            return
        step(recv_us, conn, data)

    # --- record kinds -------------------------------------------------------------------------------

    def _in(self, recv_us: int, conn: int, data: Any) -> None:
        self.handler.on_frame(exact_seconds(recv_us), data)

    def _out(self, recv_us: int, conn: int, data: Any) -> None:
        found = pending_command(data)
        if found is not None:
            self.handler.conn.subs.expect(*found)

    def _open(self, recv_us: int, conn: int, data: Any) -> None:
        self.handler.connection_opened(conn)
        self.connected = True

    def _close(self, recv_us: int, conn: int, data: Any) -> None:
        self.connected = False
        self.handler.connection_closed(_json.decode(data).get("reason", "lost"), recv_us)

    def _snapshot(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        self.snapshots.builder.max_depth = int(rec.get("max_depth", 0))
        self.snapshots.take(SnapshotTrigger(rec["trigger"]), exact_seconds(rec["snapshot_ts"]))

    def _markets(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        markets = {t: TrackedMarket(t, *fields) for t, fields in rec["markets"].items()}
        self.snapshots.set_markets(markets)
        forget = rec.get("forget") or []
        for t in forget:
            self.books.remove(t)
        self.resync.forget(forget)

    def _crosscheck(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        if rec.get("verdict") == "differs":
            self.resync.rest_mismatch(rec["ticker"], rec.get("sid") or 0, rec.get("detail", ""), recv_us)

    def _retry(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        self.resync.ask(rec["sid"], list(rec["tickers"]), recv_us)

    # --- state --------------------------------------------------------------------------------------

    def doubts_since(self) -> int | None:
        """When the oldest doubt still open began (us), or None: a rebuild that stops at the end of
        its range must replay on until the doubts of the range are resolved (their ``recovered`` row
        is dated when the doubt began)."""
        waiting = self.resync.awaiting
        return min((a.since_us for a in list(waiting.values())), default=None)
