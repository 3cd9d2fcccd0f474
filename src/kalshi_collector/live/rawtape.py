"""The raw tape recorder: every frame, command and collector decision of a run, numbered, as rows.

Event sourcing: the derived tables (``orderbook_deltas``, ``trades_live``, ``book_events``, the
snapshots) are a function of what the collector received *and* of the decisions it took on its own
clock (connect, snapshot now, these markets now, REST disagreed, ask again). Each of those is one
``raw_ws`` record here, stamped with the very time the collector used for its rows, so that
``kalshi-collector rebuild`` (``live.rebuild``) replays a run into the same rows, and a fixed
decoder can repair history.

``n`` numbers the records of one run in the order they happened (+1 per record, seeded from the
epoch microseconds of the run's start, so two runs never share a number and a run is a contiguous
range). ``raw_rest`` has its own numbering, seeded the same way.

The hot path is :meth:`RawTape.frame`: one tuple appended to the store's pending list, before the
frame is decoded (a frame the decoder rejects is still kept).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from kalshi_collector.live.tape import RAW_REST, RAW_WS, US, raw_json, raw_rest_row, raw_ws_row
from kalshi_collector.storage import LiveStore

__all__ = ["RawTape", "market_fields"]

Append = Callable[[tuple], None]
_REST_SOURCES = frozenset({"discovery", "crosscheck", "backfill"})


def market_fields(market: object) -> list[str]:
    """What a ``markets`` record keeps of one tracked market: event_ticker, subtitle, status (the
    first two are what the snapshot rows show; discovery's ``TrackedMarket`` has all three)."""
    return [getattr(market, "event_ticker", ""), getattr(market, "subtitle", ""), getattr(market, "status", "")]


class RawTape:
    """Numbers and stamps raw records into the store (``LiveStore.appender`` of each raw table)."""

    def __init__(self, append_ws: Append, append_rest: Append, *, clock: Callable[[], float] = time.time,
                 start_us: int | None = None) -> None:
        seed = start_us if start_us is not None else int(clock() * US)
        self._ws = append_ws
        self._rest = append_rest
        self._clock = clock
        self._n = itertools.count(seed).__next__
        self._rest_n = itertools.count(seed).__next__
        self.conn = 0  # the connection the next records belong to (0: none open)

    @classmethod
    def for_store(cls, store: LiveStore, *, clock: Callable[[], float] = time.time) -> RawTape:
        return cls(store.appender(RAW_WS), store.appender(RAW_REST), clock=clock)

    def now_us(self) -> int:
        return int(self._clock() * US)

    # --- the read loop (hot path) -------------------------------------------------------------------

    def frame(self, recv_ts: float, frame: str | bytes) -> None:
        """A frame as received (before it is decoded), on the current connection."""
        self._ws((int(recv_ts * US), self._n(), self.conn, "in", frame))

    def frames(self, conn: int) -> Callable[[float, str | bytes], None]:
        """:meth:`frame` for one connection's read loop, its lookups bound once (the hot path)."""

        def record(recv_ts: float, frame: str | bytes, _append: Append = self._ws, _n=self._n) -> None:
            _append((int(recv_ts * 1_000_000), _n(), conn, "in", frame))

        return record

    # --- what the collector did ---------------------------------------------------------------------
    #
    # Several connections (lanes) may be open at once: each record names its connection (``conn``;
    # None = the connection opened last, for a single-connection caller; 0 = none open), and the
    # records a lane takes without one (a cross-check while it is reconnecting) name the lane too.

    def _record(self, now_us: int, kind: str, data: bytes, conn: int | None = None) -> int:
        self._ws(raw_ws_row(now_us, self._n(), self.conn if conn is None else conn, kind, data))
        return now_us

    def sent(self, payload: bytes, conn: int | None = None) -> None:
        """A command as sent on ``conn`` (recorded when it is handed to the connection)."""
        self._record(self.now_us(), "out", payload, conn)

    def opened(self, conn: int, url: str, lane: int = 0) -> int:
        """Connection ``conn`` is up, carrying lane ``lane``'s markets (the ``markets`` record's
        ``lanes``): a replay keeps its numbering, sequence and resync apart from the others."""
        self.conn = conn
        return self._record(self.now_us(), "open", raw_json({"url": url, "lane": lane}), conn)

    def closed(self, why: str, conn: int | None = None) -> int:
        """The connection is gone; returns the time the frame handler must use for its rows."""
        now_us = self._record(self.now_us(), "close", raw_json({"reason": why}), conn)
        if conn is None or conn == self.conn:
            self.conn = 0
        return now_us

    def snapshot(self, snapshot_ts: int, trigger: str, max_depth: int) -> None:
        self._record(snapshot_ts, "snapshot",
                     raw_json({"snapshot_ts": snapshot_ts, "trigger": trigger, "max_depth": max_depth}), 0)

    def markets(self, now_us: int, markets: Mapping[str, object], forget: Iterable[str],
                lanes: Sequence[Sequence[str]] | None = None) -> None:
        """The tracked markets from now on (with what snapshots show of each), the books dropped,
        and which lane (connection) carries which markets from now on (``lanes[i]``: lane i's)."""
        record: dict[str, object] = {"markets": {t: market_fields(m) for t, m in markets.items()},
                                     "forget": sorted(forget)}
        if lanes is not None:
            record["lanes"] = [list(tickers) for tickers in lanes]
        self._record(now_us, "markets", raw_json(record), 0)

    def crosscheck(self, now_us: int, ticker: str, verdict: str, sid: int | None = None, detail: str = "",
                   *, conn: int | None = None, lane: int = 0) -> None:
        """A REST cross-check's outcome: ``same``, ``inconclusive`` or ``differs`` (then acted on by
        the resync of ``lane``, the lane that carries ``ticker``)."""
        self._record(now_us, "crosscheck", raw_json({"ticker": ticker, "verdict": verdict, "sid": sid,
                                                     "detail": detail, "lane": lane}), conn)

    def retry(self, now_us: int, sid: int, tickers: list[str], *, conn: int | None = None, lane: int = 0) -> None:
        """The resync retry of ``lane`` asks again for books that stayed invalid (a decision of the clock)."""
        self._record(now_us, "retry", raw_json({"sid": sid, "tickers": tickers, "lane": lane}), conn)

    # --- REST ---------------------------------------------------------------------------------------

    def rest(self, source: str, request: str, status: int, body: bytes) -> None:
        """A REST body as received (the client's ``on_body``). The collector's one client serves
        discovery and the cross-check: an order-book path is the cross-check's."""
        if source not in _REST_SOURCES:  # the client's own name for itself
            source = "crosscheck" if request.split("?", 1)[0].endswith("/orderbook") else "discovery"
        self._rest(raw_rest_row(self.now_us(), self._rest_n(), source, request, status, body))
