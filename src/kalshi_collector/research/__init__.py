"""Reading a data folder for research: ``from kalshi_collector.research import open_data``.

- :func:`open_data` -> :class:`ResearchData`: every table by name (pandas, Arrow, polars), a DuckDB
  connection with a view per table, live and backfilled trades as one table (``trades``,
  ``trades_all`` in DuckDB), and a market's book states over a time range (``books``,
  ``book_at``), replayed from the tape as tardis' ``replay`` does.
- :class:`BookState` / :class:`Level`: what a replay hands out (exact prices and sizes).

docs/research.md is the worked example (the test suite runs it).
"""

from __future__ import annotations

from kalshi_collector.research.books import UnknownMarketError, book_at, book_states, market_tickers
from kalshi_collector.research.folder import ResearchData, open_data
from kalshi_collector.research.records import SNAPSHOTS, TAPE, BookState, Level
from kalshi_collector.research.trades import TRADE_COLUMNS, trades

__all__ = [
    "open_data",
    "ResearchData",
    "BookState",
    "Level",
    "TAPE",
    "SNAPSHOTS",
    "book_states",
    "book_at",
    "market_tickers",
    "UnknownMarketError",
    "trades",
    "TRADE_COLUMNS",
]
