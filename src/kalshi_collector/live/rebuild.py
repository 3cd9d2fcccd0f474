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

Lanes: a collector may hold several connections at once (``live.lane``), each with its own
frame handler and resync over the shared books. Each ``open`` names its lane, each record its
connection, the ``markets`` record each lane's markets (``lanes``), and a cross-check or retry its
lane: the replay keeps one :class:`_LaneReplay` per lane, and one snapshot cycle for all. A tape
from before lanes (no ``lane`` in its ``open``) replays as one lane whose lost connection spoils
every book, as the collector did then.

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


class _LaneReplay:
    """One lane replayed: its frame handler and resync, as :class:`~kalshi_collector.live.lane.Lane`
    has them live (sids, sequence and resync mean something only on their own connection)."""

    def __init__(self, replayer: Replayer, owns: bool, decode: Decoder) -> None:
        """``owns``: the tape names this lane's markets (``markets`` records with ``lanes``), so a
        lost connection spoils only those; a tape from before lanes: every book, as then."""
        r = replayer
        self.connected = False
        self.markets: set[str] = set()
        self.resync = Resync(r.books, r.sink, r.counters, request=self._request, retry_seconds=0, clock=r.clock)
        self.handler = FrameHandler(r.books, self.resync, r.sink, r.counters, clock=r.clock,
                                    on_ticker=r.snapshots.on_ticker, decode=decode,
                                    owned=self._owned if owns else None)

    def _owned(self) -> set[str]:
        return self.markets

    def _request(self, sid: int, tickers: list[str]) -> bool:
        return self.connected  # the command itself is the `out` record that follows


class Replayer:
    """One collector run, replayed record by record (``feed``) into ``sink``: one
    :class:`_LaneReplay` per lane (connections of several lanes overlap in time, each record names
    its connection), one snapshot cycle and one set of books for all."""

    def __init__(self, sink: RowSink, *, decode: Decoder = wm.decode) -> None:
        self.now_us = 0
        self.sink = sink
        self.books = BookStore()
        self.counters = Counters()
        self.snapshots = SnapshotCycle(self.books, sink, self.counters, CollectionConfig())
        self._decode = decode
        self._owns = False  # the tape names each lane's markets
        self._planned: dict[int, set[str]] = {}  # lane -> its markets, from the last `markets` record
        self.lanes: dict[int, _LaneReplay] = {}
        self._lane_of_conn: dict[int, int] = {}
        self.unknown_kinds: dict[str, int] = {}
        self.dispatch: dict[str, Callable[[int, int, Any], None]] = {
            "in": self._in, "out": self._out, "open": self._open, "close": self._close,
            "snapshot": self._snapshot, "markets": self._markets, "crosscheck": self._crosscheck,
            "retry": self._retry,
        }

    def clock(self) -> float:
        return self.now_us / US

    def lane(self, number: int) -> _LaneReplay:
        """Lane ``number``'s replay, made on first use."""
        lane = self.lanes.get(number)
        if lane is None:
            lane = self.lanes[number] = _LaneReplay(self, self._owns, self._decode)
            lane.markets = self._planned.get(number, set()) if self._owns else set()
        return lane

    def _conn_lane(self, conn: int) -> _LaneReplay:
        return self.lane(self._lane_of_conn.get(conn, 0))

    @property
    def handler(self) -> FrameHandler:
        """Lane 0's frame handler (the only one of a single-connection run)."""
        return self.lane(0).handler

    @property
    def resync(self) -> Resync:
        return self.lane(0).resync

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
        self._conn_lane(conn).handler.on_frame(exact_seconds(recv_us), data)

    def _out(self, recv_us: int, conn: int, data: Any) -> None:
        found = pending_command(data)
        if found is not None:
            self._conn_lane(conn).handler.conn.subs.expect(*found)

    def _open(self, recv_us: int, conn: int, data: Any) -> None:
        number = int(_json.decode(data).get("lane", 0))
        self._lane_of_conn[conn] = number
        lane = self.lane(number)
        lane.handler.connection_opened(conn)
        lane.connected = True

    def _close(self, recv_us: int, conn: int, data: Any) -> None:
        lane = self._conn_lane(conn)
        lane.connected = False
        lane.handler.connection_closed(_json.decode(data).get("reason", "lost"), recv_us)
        self._lane_of_conn.pop(conn, None)

    def _snapshot(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        self.snapshots.builder.max_depth = int(rec.get("max_depth", 0))
        self.snapshots.take(SnapshotTrigger(rec["trigger"]), exact_seconds(rec["snapshot_ts"]))

    def _markets(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        markets = {t: TrackedMarket(t, *fields) for t, fields in rec["markets"].items()}
        self.snapshots.set_markets(markets)
        if "lanes" in rec:
            self._owns = True
            self._planned = {i: set(tickers) for i, tickers in enumerate(rec["lanes"])}
            for number, lane in self.lanes.items():
                lane.markets = self._planned.get(number, set())
        forget = rec.get("forget") or []
        for t in forget:
            self.books.remove(t)
        for lane in list(self.lanes.values()):
            lane.resync.forget(forget)

    def _crosscheck(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        if rec.get("verdict") == "differs":
            lane = self.lane(int(rec.get("lane", 0)))
            lane.resync.rest_mismatch(rec["ticker"], rec.get("sid") or 0, rec.get("detail", ""), recv_us)

    def _retry(self, recv_us: int, conn: int, data: Any) -> None:
        rec = _json.decode(data)
        self.lane(int(rec.get("lane", 0))).resync.ask(rec["sid"], list(rec["tickers"]), recv_us)

    # --- state --------------------------------------------------------------------------------------

    def doubts_since(self) -> int | None:
        """When the oldest doubt still open began (us), or None: a rebuild that stops at the end of
        its range must replay on until the doubts of the range are resolved (their ``recovered`` row
        is dated when the doubt began)."""
        since = [a.since_us for lane in list(self.lanes.values()) for a in list(lane.resync.awaiting.values())]
        return min(since, default=None)
