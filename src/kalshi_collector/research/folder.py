"""``open_data("data")``: a data folder for a notebook, every table by name.

One object over :class:`~kalshi_collector.storage.ParquetStorage`: tables as pandas
(:meth:`ResearchData.table`), Arrow or polars, a DuckDB connection with one view per dataset (the
``query`` command's, plus ``trades_all``), book states replayed from the tape, and live and
backfilled trades as one table. The catalog (:mod:`kalshi_collector.storage.catalog`) is the only
list of tables and its layouts the only code that finds their files: nothing here lists a folder.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from kalshi_collector.datafolder import open_storage
from kalshi_collector.research import books as _books
from kalshi_collector.research import trades as _trades
from kalshi_collector.research.records import BookState
from kalshi_collector.storage import DATASETS, ParquetStorage

__all__ = ["ResearchData", "open_data"]

Day = dt.date | str | None


class ResearchData:
    """A data folder, read: ``data.table("market_snapshots", "2026-02-11")``, ``data.books(...)``."""

    def __init__(self, storage: ParquetStorage) -> None:
        self.storage = storage

    def __repr__(self) -> str:
        return f"ResearchData({self.storage.fs.url(self.storage.root)!r})"

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table's name (the catalog's datasets; ``read_parquets`` aliases work too)."""
        return tuple(DATASETS)

    def table(self, name: str, start_date: Day = None, end_date: Day = None) -> pd.DataFrame:
        """Rows of table ``name`` in the date range (inclusive UTC days; weather: climate dates)."""
        return self.storage.read_parquets(name, start_date, end_date)

    def __getitem__(self, name: str) -> pd.DataFrame:
        """``data["trades_live"]``: every row of a table."""
        return self.table(name)

    def arrow(self, name: str, start_date: Day = None, end_date: Day = None) -> pa.Table:
        return self.storage.read_arrow(name, start_date, end_date)

    def polars(self, name: str, start_date: Day = None, end_date: Day = None) -> Any:
        """The table as a polars DataFrame (needs polars: ``pip install polars``)."""
        try:
            import polars as pl
        except ImportError:
            raise ImportError("ResearchData.polars needs polars: pip install polars") from None
        return pl.from_arrow(self.arrow(name, start_date, end_date))

    def duckdb(self) -> Any:
        """A DuckDB connection: a view per table (as ``kalshi-collector query``) and ``trades_all``.

        Unlike ``query``'s, it is not locked down: in your own notebook, join your own files and
        ``COPY`` results out as with any DuckDB connection."""
        try:
            import duckdb  # noqa: F401
        except ImportError:
            raise ImportError("ResearchData.duckdb needs DuckDB: pip install 'kalshi-collector[duckdb]'") from None
        from kalshi_collector.query import connect

        return connect(self.storage, lock_down=False)

    def sql(self, query: str) -> pd.DataFrame:
        """One query over :meth:`duckdb`'s views, as a DataFrame."""
        con = self.duckdb()
        try:
            relation = con.sql(query)
            return pd.DataFrame() if relation is None else relation.df()  # None: a statement (SET ...)
        finally:
            con.close()

    def trades(self, start_date: Day = None, end_date: Day = None, *,
               market: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Live and backfilled trades in one set of columns (:mod:`kalshi_collector.research.trades`)."""
        return _trades.trades(self.storage, start_date, end_date, market=market)

    def books(self, ticker: str, start: object, end: object | None = None, *, every: object | None = None,
              source: str = "auto", max_days_back: int = 31) -> Iterator[BookState]:
        """Book states of ``ticker``: as of ``start``, then every change (or every ``every``) to ``end``
        (:func:`kalshi_collector.research.books.book_states`)."""
        return _books.book_states(self.storage, ticker, start, end, every=every, source=source,
                                  max_days_back=max_days_back)

    def book_at(self, ticker: str, at: object, *, source: str = "auto", max_days_back: int = 31) -> BookState:
        """``ticker``'s book at the instant ``at``."""
        return _books.book_at(self.storage, ticker, at, source=source, max_days_back=max_days_back)

    def markets(self, start_date: Day = None, end_date: Day = None) -> list[str]:
        """Tickers with order-book data (tape or snapshots) in the date range, sorted."""
        return sorted(_books.market_tickers(self.storage, *_dates(start_date, end_date)))


def _dates(start: Day, end: Day) -> tuple[dt.date | None, dt.date | None]:
    return tuple(None if d is None else d if isinstance(d, dt.date) else dt.date.fromisoformat(d)
                 for d in (start, end))  # type: ignore[return-value]


def open_data(data_dir: str | os.PathLike[str]) -> ResearchData:
    """Open a data folder (or an ``s3://...`` URL) for reading; a missing folder is a clear error."""
    return ResearchData(open_storage(str(data_dir)))
