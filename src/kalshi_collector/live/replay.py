"""The book of a market at one instant, rebuilt from the recorded tape: the earlier interface.

The replay itself is :mod:`kalshi_collector.research.replay` (pure) and
:mod:`kalshi_collector.research.books` (reading a data folder), shared with ``kalshi-collector
replay`` and the research API; this module keeps :func:`rebuild_book` and
:func:`rebuild_from_frames` with their float ``{price: size}`` books for the code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import pyarrow as pa

from kalshi_collector.research.books import as_utc, book_at
from kalshi_collector.research.records import BookState
from kalshi_collector.research.replay import (
    BREAK_ACTIONS,
    BookReplayer,
    break_events,
    merge_messages,
    states,
    tape_messages,
)
from kalshi_collector.storage.catalog import BOOK_EVENTS, ORDERBOOK_DELTAS
from kalshi_collector.storage.schemas import conform

__all__ = ["ReplayedBook", "rebuild_book", "rebuild_from_frames", "BREAK_ACTIONS"]


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

    @classmethod
    def of(cls, state: BookState) -> ReplayedBook:
        def side(levels) -> dict[float, float]:  # type: ignore[no-untyped-def]
            return {float(lv.price): float(lv.size) for lv in levels}

        return cls(state.ticker, state.ts, side(state.yes), side(state.no), state.valid, state.reason,
                   state.snapshot_ts, state.deltas_applied, state.exchange_ts)


def _arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return conform(pa.Table.from_pandas(frame, preserve_index=False), schema)


def rebuild_from_frames(tape: pd.DataFrame, events: pd.DataFrame | None, market: str, at: datetime) -> ReplayedBook:
    """``tape`` = orderbook_deltas rows (any markets), ``events`` = book_events rows."""
    at_us = as_utc(at, "at").value // 1000
    rows = _arrow(tape[tape["market_ticker"] == market], ORDERBOOK_DELTAS.schema)
    ledger = [] if events is None or events.empty else break_events(_arrow(events, BOOK_EVENTS.schema), market)
    messages = merge_messages(tape_messages(rows), ledger)
    return ReplayedBook.of(next(states(BookReplayer(market), messages, at_us, at_us, None)))


def rebuild_book(data_dir: str, market: str, at: datetime, *, max_days_back: int = 31) -> ReplayedBook:
    """Rebuild ``market``'s book at ``at`` from the tape in ``data_dir`` (looks back day by day for a snapshot)."""
    from kalshi_collector.storage import ParquetStorage

    return ReplayedBook.of(book_at(ParquetStorage(data_dir), market, at, max_days_back=max_days_back))
