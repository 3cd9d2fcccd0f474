"""Rebuild a market's order book at any instant from the recorded tape (``orderbook_deltas``).

The tape holds every ``orderbook_snapshot`` level and every ``orderbook_delta`` exactly as received,
in receive order. The book at time T (local receive clock) is: the last snapshot message received
at or before T, plus every delta received after it up to T. The ledger (``book_events``) says
whether that is trustworthy: a gap, duplicate, reorder, disconnect or mismatch on the market (or on
its whole subscription) after the snapshot means the collector itself did not trust its book from
then until the next snapshot, and so neither does the replay (``valid=False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd

__all__ = ["ReplayedBook", "rebuild_book", "rebuild_from_frames", "BREAK_ACTIONS"]

# book_events actions after which a book is not trusted until the next snapshot.
BREAK_ACTIONS = frozenset(
    {"gap", "duplicate", "out_of_order", "disconnect", "stopped", "negative", "crossed", "bad_value", "rest_mismatch"}
)


@dataclass
class ReplayedBook:
    market_ticker: str
    at: datetime
    yes: dict[float, float] = field(default_factory=dict)
    no: dict[float, float] = field(default_factory=dict)
    valid: bool = False
    reason: str = ""
    snapshot_recv_ts: datetime | None = None
    deltas_applied: int = 0
    last_exchange_ts: datetime | None = None

    def levels(self, side: str) -> list[tuple[float, float]]:
        """Best first: highest bid first on both sides (both sides are bids in Kalshi's book)."""
        book = self.yes if side == "yes" else self.no
        return sorted(book.items(), reverse=True)


def _utc(ts: datetime) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize(UTC) if t.tzinfo is None else t.tz_convert(UTC)


def rebuild_from_frames(tape: pd.DataFrame, events: pd.DataFrame | None, market: str, at: datetime) -> ReplayedBook:
    """Pure core: ``tape`` = orderbook_deltas rows (any markets), ``events`` = book_events rows."""
    at_ts = _utc(at)
    out = ReplayedBook(market_ticker=market, at=at_ts.to_pydatetime())
    rows = tape[(tape["market_ticker"] == market) & (tape["recv_ts"] <= at_ts)]
    if rows.empty:
        out.reason = "no tape rows for this market before that time"
        return out
    rows = rows.sort_values(["recv_ts", "conn", "seq"], kind="stable")
    snaps = rows[rows["kind"] == "snapshot"]
    if snaps.empty:
        out.reason = "no orderbook snapshot recorded before that time"
        return out
    last = snaps.iloc[-1]
    key = (last["recv_ts"], last["conn"], last["sid"], last["seq"])
    snap_rows = snaps[
        (snaps["recv_ts"] == key[0]) & (snaps["conn"] == key[1]) & (snaps["sid"] == key[2]) & (snaps["seq"] == key[3])
    ]
    for side, price, qty in zip(snap_rows["side"], snap_rows["price_cents"], snap_rows["quantity"], strict=True):
        if isinstance(side, str):
            (out.yes if side == "yes" else out.no)[float(price)] = float(qty)
    out.snapshot_recv_ts = key[0].to_pydatetime()
    after = rows[(rows["kind"] == "delta") & (rows["recv_ts"] >= key[0]) & (rows["conn"] == key[1])]
    after = after[(after["recv_ts"] > key[0]) | (after["seq"] > key[3])]
    for side, price, delta, ets in zip(after["side"], after["price_cents"], after["quantity"], after["exchange_ts"], strict=True):
        book = out.yes if side == "yes" else out.no
        qty = round(book.get(float(price), 0.0) + float(delta), 2)
        if qty > 0:
            book[float(price)] = qty
        else:
            book.pop(float(price), None)
        out.deltas_applied += 1
        if ets is not None and not pd.isna(ets):
            out.last_exchange_ts = pd.Timestamp(ets).to_pydatetime()
    out.valid, out.reason = True, "snapshot plus every delta after it"
    if events is not None and not events.empty:
        ev = events[
            (events["ts"] >= key[0])
            & (events["ts"] <= at_ts)
            & events["action"].isin(BREAK_ACTIONS)
            & ((events["market_ticker"] == market) | (events["market_ticker"].isna() & ((events["sid"] == key[2]) | events["sid"].isna())))
        ]
        if not ev.empty:
            first = ev.sort_values("ts").iloc[0]
            out.valid = False
            out.reason = f"{first['action']} at {first['ts']} after the last snapshot; not trusted until the next one"
    return out


def rebuild_book(data_dir: str, market: str, at: datetime, *, max_days_back: int = 31) -> ReplayedBook:
    """Rebuild ``market``'s book at ``at`` from the tape in ``data_dir`` (looks back day by day for a snapshot)."""
    from kalshi_collector.storage import ParquetStorage

    store = ParquetStorage(data_dir)
    at_ts = _utc(at)
    end: date = at_ts.date()
    start = end
    result = ReplayedBook(market_ticker=market, at=at_ts.to_pydatetime(), reason="no tape recorded")
    while (end - start).days <= max_days_back:
        tape = store.read_parquets("orderbook_deltas", start_date=start, end_date=end)
        if not tape.empty and ((tape["market_ticker"] == market) & (tape["kind"] == "snapshot") & (tape["recv_ts"] <= at_ts)).any():
            events = store.read_parquets("book_events", start_date=start, end_date=end)
            return rebuild_from_frames(tape, events, market, at)
        start -= timedelta(days=1)
    return result
