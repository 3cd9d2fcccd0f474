"""Backfill: every candlestick and trade of chosen events, from both of Kalshi's tiers, into
``<data_dir>/historical/{candlesticks,trades}/EVENT_TICKER.parquet`` — resumable, rate-limited.

``kalshi-collector backfill --start YYYY-MM-DD [--end ...] [--events E ...] [--series S ...]
[--period 1|60|1440]``; from Python, :func:`backfill` with a :class:`BackfillRequest`.
See docs/backfill.md.
"""

from kalshi_collector.backfill.command import add_arguments, parse_request, run
from kalshi_collector.backfill.runner import BackfillRequest, BackfillSummary, UnknownTickers, backfill
from kalshi_collector.backfill.store import CANDLES_SCHEMA, TRADES_SCHEMA, BackfillLocked

__all__ = [
    "add_arguments",
    "run",
    "parse_request",
    "backfill",
    "BackfillRequest",
    "BackfillSummary",
    "UnknownTickers",
    "BackfillLocked",
    "CANDLES_SCHEMA",
    "TRADES_SCHEMA",
]
