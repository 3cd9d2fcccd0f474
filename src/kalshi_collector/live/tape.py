"""Tape rows: a decoded WebSocket message (+ its receive time + the connection id) -> stored rows.

Pure functions of their inputs only (no clock, no collector state), so that the same rows can be
built again from a recorded raw tape in another process. Each row is a tuple in the column order
of its table's schema (``storage.schemas``), times as int epoch microseconds:

* ``orderbook_deltas``: recv_ts, exchange_ts, sid, seq, market_ticker, kind ("delta"/"snapshot"),
  side, price_cents, delta, conn. A snapshot is one row per level (``delta`` = the level's size);
  an empty snapshot is still a reset, kept as one row without a level.
* ``trades_live``: recv_ts, exchange_ts, trade_id, market_ticker, yes_price, no_price, count,
  outcome_side, taker_book_side, is_block_trade, sid, seq.
* ``book_events``: ts, market_ticker, sid, expected_seq, received_seq, action, detail,
  recovered_ts — the ledger of every doubt about a book and its recovery.
* ``rejects``: recv_ts, source, conn, raw, error — a record even the tolerant decoder could not
  read, its bytes exactly as received.
* ``raw_ws``: recv_ts, n, conn, kind, data — the raw tape the tables above are derived from
  (:func:`raw_ws_row`; ``live.rawtape`` numbers and stamps them, ``live.rebuild`` replays them).
* ``raw_rest``: recv_ts, n, source, request, status, body — every REST body discovery, the
  cross-check (and, when asked, the backfill) received.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import msgspec
import pyarrow as pa

from kalshi_collector.kalshi.messages import OrderbookDelta, OrderbookSnapshot, Trade

__all__ = [
    "hand_table",
    "ORDERBOOK_DELTAS",
    "TRADES_LIVE",
    "BOOK_EVENTS",
    "REJECTS",
    "RowSink",
    "BookEvent",
    "delta_row",
    "snapshot_rows",
    "trade_row",
    "reject_row",
    "RAW_WS",
    "RAW_REST",
    "raw_ws_row",
    "raw_rest_row",
    "raw_json",
]

ORDERBOOK_DELTAS = "orderbook_deltas"
TRADES_LIVE = "trades_live"
BOOK_EVENTS = "book_events"
REJECTS = "rejects"
RAW_WS = "raw_ws"
RAW_REST = "raw_rest"

US = 1_000_000


class RowSink(Protocol):
    """Where rows go: ``LiveStore`` in the daemon, a list in a test or a rebuild."""

    def append(self, table: str, row: Sequence[Any]) -> None: ...

    def extend(self, table: str, rows: list[Sequence[Any]]) -> None: ...


def hand_table(sink: RowSink, table: str, data: pa.Table, as_rows: Callable[[], list[tuple]]) -> None:
    """Give ``sink`` a whole Arrow table: as it is to a store that takes tables (``LiveStore.append_table``:
    no Python tuple per row on the read loop), as ``as_rows()`` tuples to a row-only sink (a test's
    list, a rebuild's)."""
    append_table = getattr(sink, "append_table", None)
    if append_table is not None:
        if data.num_rows:
            append_table(table, data)
    else:
        sink.extend(table, as_rows())


class BookEvent(NamedTuple):
    """One ``book_events`` row (a tuple in schema order, so the store takes it as it is)."""

    ts: int
    market_ticker: str | None
    sid: int | None
    expected_seq: int | None
    received_seq: int | None
    action: str
    detail: str
    recovered_ts: int | None = None


def delta_row(recv_us: int, msg: OrderbookDelta, conn: int) -> tuple:
    body = msg.msg
    ts_ms = body.ts_ms
    return (
        recv_us,
        ts_ms * 1000 if ts_ms is not None else None,
        msg.sid,
        msg.seq,
        body.market_ticker,
        "delta",
        body.side,
        body.price_cents,
        body.delta_contracts,
        conn,
    )


def snapshot_rows(recv_us: int, msg: OrderbookSnapshot, conn: int) -> list[tuple]:
    body = msg.msg
    sid, seq, ticker = msg.sid, msg.seq, body.market_ticker
    rows = [
        (recv_us, None, sid, seq, ticker, "snapshot", side, price, qty, conn)
        for side, levels in (("yes", body.yes_levels()), ("no", body.no_levels()))
        for price, qty in levels
    ]
    if not rows:  # an empty book is still a reset: keep it on the tape
        rows.append((recv_us, None, sid, seq, ticker, "snapshot", None, None, None, conn))
    return rows


def trade_row(recv_us: int, conn: int, msg: Trade) -> tuple:
    b = msg.msg
    return (
        recv_us,
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
        conn,
    )


def reject_row(recv_us: int, source: str, conn: int | None, raw: bytes | str, error: str) -> tuple:
    """One ``rejects`` row: ``raw`` as received (a text frame is stored as its UTF-8 bytes)."""
    return (recv_us, source, conn, raw.encode() if isinstance(raw, str) else bytes(raw), error)


_json = msgspec.json.Encoder()


def raw_json(record: Any) -> bytes:
    """The ``data`` of a raw_ws record that is not a frame: compact JSON (docs/schemas.md)."""
    return _json.encode(record)


def raw_ws_row(recv_us: int, n: int, conn: int, kind: str, data: bytes | str) -> tuple:
    """One ``raw_ws`` row. ``data`` may be the frame as aiohttp gave it: a text frame's ``str`` is
    stored as its UTF-8 bytes, which are exactly the bytes received."""
    return (recv_us, n, conn, kind, data)


def raw_rest_row(recv_us: int, n: int, source: str, request: str, status: int, body: bytes) -> tuple:
    """One ``raw_rest`` row: a REST response body as received."""
    return (recv_us, n, source, request, status, body)
