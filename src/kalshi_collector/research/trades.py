"""One table of trades over live (``trades_live``) and backfilled (``trades``) trades.

The two tables name the same facts differently (the live one after the WebSocket ``trade``
message, the backfilled one after the original collector's columns). :data:`TRADE_COLUMNS`
declares the common names once, with where each comes from; :func:`trades` (pandas) and
:func:`trades_view_sql` (the DuckDB view ``trades_all``) are both built from it, and
docs/research.md renders the mapping.

A trade in both tables (same ``trade_id``: the collector saw it live and the backfill fetched it
again) is one row, ``source = "both"``: its values from the backfilled row (Kalshi's record of it),
its ``recv_ts`` from the live one. A trade received twice live keeps its first receipt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from kalshi_collector.storage import ParquetStorage

__all__ = ["TradeColumn", "TRADE_COLUMNS", "SOURCE_VALUES", "trades", "trades_view_sql", "VIEW"]

VIEW = "trades_all"
"""The DuckDB view's name (``trades`` is the backfilled table's own view)."""
SOURCE_VALUES = ("live", "backfill", "both")


@dataclass(frozen=True)
class TradeColumn:
    """A column of the common table: its name, the ``trades_live`` and ``trades`` columns it is
    read from (``None``: that table has no such column, null there), and what it means."""

    name: str
    live: str | None
    backfill: str | None
    meaning: str


TRADE_COLUMNS: tuple[TradeColumn, ...] = (
    TradeColumn("ts", "exchange_ts", "timestamp",
                "the exchange's time of the trade (a live row without one: its receive time)"),
    TradeColumn("recv_ts", "recv_ts", None, "when the collector received it live; null if only backfilled"),
    TradeColumn("market_ticker", "market_ticker", "market_ticker", "the market"),
    TradeColumn("event_ticker", None, "event_ticker", "its event; null if only seen live"),
    TradeColumn("trade_id", "trade_id", "trade_id", "Kalshi's trade id: the key that joins the two"),
    TradeColumn("yes_price", "yes_price", "price", "YES price, cents"),
    TradeColumn("no_price", "no_price", "no_price", "NO price, cents (100 - yes_price)"),
    TradeColumn("count", "count", "count", "contracts traded (fractional counts exist)"),
    TradeColumn("taker_outcome_side", "taker_outcome_side", "taker_side",
                "`yes`/`no`: the outcome the taker bought"),
    TradeColumn("taker_book_side", "taker_book_side", "taker_book_side", "`bid`/`ask`: the book side the taker hit"),
    TradeColumn("is_block_trade", "is_block_trade", "is_block_trade", "block trade flag"),
)
_LIVE_TS_FALLBACK = "recv_ts"


def _side(df: pd.DataFrame, which: str) -> pd.DataFrame:
    """``df`` (rows of one table) in the common columns; absent ones null."""
    out = pd.DataFrame(index=df.index)
    for col in TRADE_COLUMNS:
        source = getattr(col, which)
        out[col.name] = df[source] if source is not None else None
    if which == "live":
        out["ts"] = out["ts"].fillna(df[_LIVE_TS_FALLBACK])
    return out


def trades(
    storage: ParquetStorage,
    start_date: dt.date | str | None = None,
    end_date: dt.date | str | None = None,
    *,
    market: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Live and backfilled trades as one DataFrame (columns :data:`TRADE_COLUMNS` + ``source``),
    sorted by ``ts, market_ticker, trade_id``.

    The date range selects each table as ``read_parquets`` does (live rows by the UTC day they were
    received, backfilled ones by their trade time). ``market``: one ticker or several.
    """
    live = storage.read_parquets("trades_live", start_date, end_date)
    back = storage.read_parquets("trades", start_date, end_date)
    if market is not None:
        wanted = [market] if isinstance(market, str) else list(market)
        live, back = live[live["market_ticker"].isin(wanted)], back[back["market_ticker"].isin(wanted)]
    live = _side(live.sort_values("recv_ts", kind="stable"), "live")
    live = live[live["trade_id"].isna() | ~live["trade_id"].duplicated()]
    back = _side(back, "backfill")
    seen_live = live.dropna(subset=["trade_id"])[["trade_id", "recv_ts"]]
    back = back.drop(columns="recv_ts").merge(seen_live, on="trade_id", how="left")
    back["source"] = "backfill"
    back.loc[back["trade_id"].isin(seen_live["trade_id"]), "source"] = "both"
    only_live = live[~live["trade_id"].isin(back["trade_id"].dropna()) | live["trade_id"].isna()].copy()
    only_live["source"] = "live"
    frames = [f for f in (back, only_live) if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else back.iloc[0:0]
    out = out.sort_values(["ts", "market_ticker", "trade_id"], kind="stable", ignore_index=True)
    return _typed(out)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for name in ("ts", "recv_ts"):
        df[name] = pd.to_datetime(df[name], utc=True)
    df["event_ticker"] = df["event_ticker"].astype(object)
    return df[[c.name for c in TRADE_COLUMNS] + ["source"]]


def trades_view_sql(live: str = "trades_live", backfill: str = "trades") -> str:
    """``CREATE VIEW trades_all AS ...`` over DuckDB views ``live`` and ``backfill``: the same
    rows, columns and order as :func:`trades`."""
    def select(which: str, table: str, flag: str) -> str:
        parts = []
        for col in TRADE_COLUMNS:
            source = getattr(col, which)
            expr = source if source is not None else "NULL"
            if which == "live" and col.name == "ts":
                expr = f"coalesce({source}, {_LIVE_TS_FALLBACK})"
            parts.append(f"{expr} AS {col.name}")
        return f"SELECT {', '.join(parts)}, TRUE AS {flag} FROM {table}"

    def pick(col: TradeColumn) -> str:
        if col.live and col.backfill:
            return f"coalesce(b.{col.name}, l.{col.name}) AS {col.name}"
        return f"{'l' if col.live else 'b'}.{col.name} AS {col.name}"

    live_sql = (select("live", live, "_l") + " QUALIFY trade_id IS NULL OR "
                "row_number() OVER (PARTITION BY trade_id ORDER BY recv_ts) = 1")
    columns = ", ".join(pick(col) for col in TRADE_COLUMNS)
    source = "CASE WHEN b._b IS NULL THEN 'live' WHEN l._l IS NULL THEN 'backfill' ELSE 'both' END AS source"
    return (f"CREATE VIEW {VIEW} AS WITH l AS ({live_sql}), b AS ({select('backfill', backfill, '_b')}) "
            f"SELECT {columns}, {source} FROM b FULL OUTER JOIN l ON b.trade_id = l.trade_id "
            f"ORDER BY ts, market_ticker, trade_id")


def mapping_table() -> str:
    """The column mapping as the markdown table docs/research.md shows (a test keeps them equal)."""
    lines = ["| column | `trades_live` | `trades` (backfilled) | meaning |", "|---|---|---|---|"]
    for col in TRADE_COLUMNS:
        live = f"`{col.live}`" if col.live else "—"
        back = f"`{col.backfill}`" if col.backfill else "—"
        lines.append(f"| `{col.name}` | {live} | {back} | {col.meaning} |")
    lines.append("| `source` | — | — | `live` (only in `trades_live`), `backfill` (only in `trades`) or `both` "
                 "(the same `trade_id` in both) |")
    return "\n".join(lines)
