"""Shared pieces for the collector-against-simulator tests: config, runs, and ground-truth checks."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from kalshi_collector.config import Config, config_from_dict
from kalshi_collector.sim import SimExchange
from kalshi_collector.storage import ParquetStorage


def collector_settings(sim: SimExchange, data_dir: Path, **collection: Any) -> dict[str, Any]:
    """A config mapping that points a collector at ``sim`` with a fast schedule."""
    return sim.collector_settings(data_dir, **collection)


def collector_config(sim: SimExchange, data_dir: Path, **collection: Any) -> Config:
    return config_from_dict(collector_settings(sim, data_dir, **collection), env={})


def write_config_file(path: Path, sim: SimExchange, data_dir: Path, **collection: Any) -> Path:
    path.write_text(yaml.safe_dump(collector_settings(sim, data_dir, **collection)))
    return path


@dataclass
class Tables:
    market: pd.DataFrame
    orderbook: pd.DataFrame
    tape: pd.DataFrame
    trades: pd.DataFrame
    events: pd.DataFrame
    rejects: pd.DataFrame


def read_tables(data_dir: Path) -> Tables:
    s = ParquetStorage(data_dir)
    return Tables(
        s.read_parquets("market"),
        s.read_parquets("orderbook"),
        s.read_parquets("orderbook_deltas"),
        s.read_parquets("trades_live"),
        s.read_parquets("book_events"),
        s.read_parquets("rejects"),
    )


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


def _book_of(rows: pd.DataFrame) -> dict[str, dict[float, float]]:
    book: dict[str, dict[float, float]] = {"yes": {}, "no": {}}
    for side, price, qty in zip(rows["side"], rows["price_cents"], rows["quantity"], strict=True):
        book[side][float(price)] = float(qty)
    return book


def _truth_book(sim: SimExchange, ticker: str, at_ms: int) -> dict[str, dict[float, float]]:
    t = sim.truth.book(ticker, at_ts_ms=at_ms)
    return {side: {float(p): float(q) for p, q in levels.items()} for side, levels in t.items()}


class MarketTape:
    """One market's tape (sorted by receipt) as arrays, for finding where a moment falls in it:
    a snapshot check asks this thousands of times, and a pandas filter per question took most of
    the fault tests' time."""

    def __init__(self, tape_m: pd.DataFrame) -> None:
        self.recv = tape_m["recv_ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        self.kind = tape_m["kind"].to_numpy()
        exchange = tape_m["exchange_ts"]
        self.exchange_ms = np.where(exchange.isna(), -1, exchange.to_numpy(dtype="datetime64[ns]").astype(np.int64)
                                    // 1_000_000)
        self.deltas = np.flatnonzero(self.kind == "delta")

    def window(self, at: pd.Timestamp) -> tuple[int, int]:
        """The exchange times (ms) between which a correct book at ``at`` lies (see candidate_truths)."""
        last = int(np.searchsorted(self.recv, at.value, side="right")) - 1
        if last >= 0 and self.kind[last] == "delta" and self.exchange_ms[last] >= 0:
            lo = int(self.exchange_ms[last])
        else:  # last thing received was a snapshot message: it reflects changes up to about its receipt
            lo = int(self.recv[last] // 1_000_000) - 2000 if last >= 0 else 0
        following = int(np.searchsorted(self.deltas, last + 1))
        hi = 2**62
        if following < len(self.deltas) and self.exchange_ms[self.deltas[following]] >= 0:
            hi = int(self.exchange_ms[self.deltas[following]])
        return lo, hi


def candidate_truths(sim: SimExchange, ticker: str, tape_m: pd.DataFrame | MarketTape, at: pd.Timestamp) -> list[dict]:
    """The true books a correct collector may hold at ``at``.

    A valid book reflects the exchange up to its position in the stream: at least every change up
    to the last delta it applied, and nothing after the next delta it received. Between those two
    points the true book can only be one of the states after the changes in that window (a change
    whose message was lost and not yet noticed is the only reason to be behind).
    """
    market_tape = tape_m if isinstance(tape_m, MarketTape) else MarketTape(tape_m)
    lo, hi = market_tape.window(at)
    changes = sim.truth.book_ts(ticker)
    points = [lo] + changes[bisect.bisect_right(changes, lo) : bisect.bisect_left(changes, hi)]
    return [_truth_book(sim, ticker, p) for p in points]


def check_valid_snapshots_match_truth(sim: SimExchange, t: Tables, *, min_checked: int = 20) -> int:
    """Every market_snapshots row with book_valid=True equals a true book of that moment."""
    tape = t.tape.sort_values(["recv_ts", "conn", "seq"], kind="stable")
    by_market = {m: MarketTape(g) for m, g in tape.groupby("market_ticker", sort=False)}
    empty = MarketTape(tape.iloc[:0])
    ob = {k: g for k, g in t.orderbook.groupby(["snapshot_ts", "market_ticker"], sort=False)}
    checked = 0
    failures = []
    for row in t.market[t.market["book_valid"]].itertuples():
        rows = ob.get((row.snapshot_ts, row.market_ticker))
        ours = _book_of(rows) if rows is not None else {"yes": {}, "no": {}}
        truths = candidate_truths(sim, row.market_ticker, by_market.get(row.market_ticker, empty), row.snapshot_ts)
        if ours not in truths:
            failures.append((row.snapshot_ts, row.market_ticker))
        checked += 1
    assert not failures, f"{len(failures)} valid snapshots differ from the truth, e.g. {failures[:3]}"
    assert checked >= min_checked, f"only {checked} valid snapshot rows to check"
    return checked


def check_tape_complete(sim: SimExchange, t: Tables, *, margin_ms: int = 20,
                        skipped_kinds: tuple[str, ...] = ("gap",)) -> int:
    """Every book change sent while a market was subscribed is on the tape (or was skipped on purpose).

    Per connection, a market is covered from its first snapshot message on that connection to the
    last delta received on it. Changes in that window must appear as delta rows with their exact
    exchange ts, except those the simulator deliberately did not send (fault_log ``gap``) or sent
    so that no client can read them (``undecodable``, when in ``skipped_kinds``).
    """
    skipped = {(f["ticker"], f["ts_ms"]) for f in sim.fault_log if f["kind"] in skipped_kinds}
    tape = t.tape
    deltas = tape[tape["kind"] == "delta"]
    present: dict[str, set[int]] = {}
    for m, ts in zip(deltas["market_ticker"], deltas["exchange_ts"], strict=True):
        present.setdefault(m, set()).add(_ms(ts))
    checked = 0
    missing = []
    for conn, g in tape.groupby("conn"):
        gd = g[g["kind"] == "delta"]
        if gd.empty:
            continue
        end = _ms(gd["exchange_ts"].max()) - margin_ms
        snaps = g[g["kind"] == "snapshot"].groupby("market_ticker")["recv_ts"].min()
        for market, first_snap in snaps.items():
            start = _ms(first_snap) + margin_ms
            for ts in sim.truth.book_ts(market):
                if start < ts < end:
                    checked += 1
                    if ts not in present.get(market, ()) and (market, ts) not in skipped:
                        missing.append((conn, market, ts))
    assert not missing, f"{len(missing)} book changes missing from the tape, e.g. {missing[:5]}"
    phantom = [(m, ts) for m, s in present.items() for ts in s if ts not in set(sim.truth.book_ts(m))]
    assert not phantom, f"tape holds changes the exchange never made: {phantom[:5]}"
    return checked


def check_breaks_recovered(t: Tables, end: pd.Timestamp, *, settle_s: float = 3.0) -> int:
    """Every gap/duplicate/reorder/disconnect older than ``settle_s`` has a recovery for each market."""
    ev = t.events
    on_books = ev["detail"].fillna("").str.contains("orderbook_delta")
    breaks = ev[(ev["action"].isin(["gap", "duplicate", "out_of_order"]) & on_books) | (ev["action"] == "disconnect")]
    breaks = breaks[breaks["ts"] < end - pd.Timedelta(seconds=settle_s)]
    rec = ev[ev["action"] == "recovered"]
    spans = {m: (g["ts"].to_numpy(), g["recovered_ts"].to_numpy()) for m, g in rec.groupby("market_ticker")}
    markets = sorted(t.market["market_ticker"].unique())
    no_span = (rec["ts"].to_numpy()[:0], rec["recovered_ts"].to_numpy()[:0])
    unrecovered = []
    for g in breaks["ts"].to_numpy():
        for m in markets:
            began, recovered = spans.get(m, no_span)
            if not ((began <= g) & (recovered >= g)).any():  # no doubt of m spanning this break
                unrecovered.append((pd.Timestamp(g), m))
    assert not unrecovered, f"{len(unrecovered)} break/market pairs without recovery, e.g. {unrecovered[:3]}"
    return len(breaks)
