"""Full order books from the original collector's baseline + delta ``orderbook_snapshots`` rows.

The original collector (``pred_market_src/collector``) wrote the whole book only every
``baseline_every_n_snapshots`` snapshots (``snapshot_type = "baseline"``) and, in between, only the
levels that changed since the previous snapshot (``"delta"``; quantity 0 = the level was removed).
Its ``ParquetStorage.reconstruct_orderbooks`` replayed them into one full book per snapshot; this is
the same replay, rule for rule, so a notebook written against it gets the same books:

- snapshots are taken in time order; the first row of a snapshot time says its type;
- a baseline replaces the book of each market it has rows for (a market it has no rows for, because
  its book was empty then, keeps its previous book: the original did the same);
- a delta row sets a level, or removes it when its quantity is 0;
- after each snapshot time, every market seen so far is emitted with all its levels of quantity > 0,
  ``snapshot_type = "reconstructed"``.

Two differences, both about data the original never had: rows without a ``snapshot_type`` (this
collector's own rows, null in a day that holds both) are full books, like a baseline; and the
result comes sorted by ``snapshot_ts, market_ticker, side, price_cents`` (the original's order was
its dictionaries' order). Data without a ``snapshot_type`` column is already full books and is
returned as given, as the original did.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

__all__ = ["reconstruct_orderbooks", "replay_snapshots", "BASELINE", "DELTA", "RECONSTRUCTED"]

BASELINE, DELTA, RECONSTRUCTED = "baseline", "delta", "reconstructed"
_SIDES = ("yes", "no")
_COLUMNS = ["snapshot_ts", "market_ticker", "side", "price_cents", "quantity"]

Book = dict[str, dict[float, float]]  # side -> price -> quantity


def reconstruct_orderbooks(df: pd.DataFrame) -> pd.DataFrame:
    """Full books at every snapshot time of ``df`` (``read_parquets("orderbook")`` rows).

    See the module docstring for the rules. Columns of the result: ``snapshot_ts, market_ticker,
    side, price_cents, quantity, snapshot_type``.
    """
    if df.empty or "snapshot_type" not in df.columns:
        return df
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"reconstruct_orderbooks: expected orderbook_snapshots rows; missing columns {missing}")
    out: list[tuple] = []
    for ts, books in replay_snapshots(df):
        for ticker in sorted(books):
            for side, levels in sorted(books[ticker].items()):
                out += [(ts, ticker, side, price, levels[price]) for price in sorted(levels) if levels[price] > 0]
    result = pd.DataFrame.from_records(out, columns=_COLUMNS)
    if len(result):
        result["snapshot_ts"] = result["snapshot_ts"].astype(df["snapshot_ts"].dtype)
    else:
        result = df[_COLUMNS].iloc[0:0].copy()
    result["snapshot_type"] = RECONSTRUCTED
    return result


def replay_snapshots(df: pd.DataFrame) -> Iterator[tuple[pd.Timestamp, dict[str, Book]]]:
    """``(snapshot_ts, books)`` after each snapshot time of ``df``, in time order, by the rules of
    the module docstring (``books``: market -> side -> price -> quantity). The same dictionary is
    updated in place by the next step: copy what you keep. Rows without ``snapshot_type`` (or
    without the column) are full books."""
    rows = df.sort_values("snapshot_ts", kind="stable")
    books: dict[str, Book] = {}
    for ts, snap in _snapshots(rows):
        _apply(books, snap)
        yield ts, books


def _snapshots(rows: pd.DataFrame) -> Iterator[tuple[pd.Timestamp, list[tuple]]]:
    """``(snapshot_ts, [(market_ticker, side, price, quantity, snapshot_type), ...])`` in time order."""
    columns = [rows[c].tolist() for c in ("snapshot_ts", "market_ticker", "side", "price_cents", "quantity")]
    columns.append(rows["snapshot_type"].tolist() if "snapshot_type" in rows.columns else [None] * len(rows))
    current: list[tuple] = []
    current_ts = None
    for ts, *rest in zip(*columns, strict=True):
        if current and ts != current_ts:
            yield current_ts, current
            current = []
        current_ts = ts
        current.append(tuple(rest))
    if current:
        yield current_ts, current


def _apply(books: dict[str, Book], snap: list[tuple]) -> None:
    """One snapshot time's rows onto the books: a full book per market, or changed levels."""
    kind = snap[0][4]
    if _is_full(kind):
        fresh: dict[str, Book] = {}
        for ticker, side, price, quantity, _ in snap:
            fresh.setdefault(ticker, {s: {} for s in _SIDES}).setdefault(side, {})[price] = quantity
        books.update(fresh)
        return
    for ticker, side, price, quantity, _ in snap:
        levels = books.setdefault(ticker, {s: {} for s in _SIDES}).setdefault(side, {})
        if quantity == 0:
            levels.pop(price, None)
        else:
            levels[price] = quantity


def _is_full(kind: object) -> bool:
    """A baseline, or a row of this collector (null type): a full book of each market it names."""
    return not isinstance(kind, str) or kind == BASELINE
