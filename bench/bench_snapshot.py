"""Benchmark (b): one snapshot of 2,000 markets x 2 sides x 50 levels (200,000 level rows).

Target: ``SnapshotBuilder.build`` <= 25 ms. Printed beside a naive builder measured in the same
run: the seed's way, one dict per level row and per market row. The two take turns (after a
warm-up), each figure is the best of several runs, and every run starts from freshly received
``ticker`` messages for all 2,000 markets (the worst case: nothing converted in advance).

Also printed, for the lead and the storage engine: the cost of turning the columnar order book
into row tuples (``Snapshot.orderbook_rows``), i.e. what a row-based store would add.

Run: ``.venv/bin/python -m bench.bench_snapshot`` (or ``python bench/bench_snapshot.py``).
"""

from __future__ import annotations

import gc
import json
import random
import time
from dataclasses import dataclass

import msgspec

from kalshi_collector.book import BookStore
from kalshi_collector.kalshi.messages import OrderbookDelta, OrderbookSnapshot, Ticker, decode
from kalshi_collector.live.snapshot import SnapshotBuilder

MARKETS = 2_000
LEVELS = 50
ROUNDS = 7
TARGET_MS = 25.0
SNAPSHOT_TS = 1_770_834_600_000_000


@dataclass(frozen=True)
class Market:
    ticker: str
    event_ticker: str
    subtitle: str


def _dollars(cents: float) -> str:
    return f"{cents / 100:.4f}"


def _ticker_message(rng: random.Random, market_id: str, ticker: str) -> Ticker:
    """A decoded ``ticker`` message for one market (all the fields Kalshi sends)."""
    body = {
        "market_id": market_id,
        "market_ticker": ticker,
        "price_dollars": _dollars(rng.randint(20, 60)),
        "yes_bid_dollars": "0.5000",
        "yes_ask_dollars": "0.5050",
        "volume_fp": f"{rng.randint(0, 10**6)}.00",
        "open_interest_fp": f"{rng.randint(0, 10**5)}.00",
        "dollar_volume": 1,
        "dollar_open_interest": 1,
        "yes_bid_size_fp": "10.00",
        "yes_ask_size_fp": "12.50",
        "last_trade_size_fp": "1.00",
        "ts": 1770834581,
        "ts_ms": 1770834581512,
        "time": "2026-02-11T18:29:41Z",
    }
    tick = decode(json.dumps({"type": "ticker", "sid": 2, "msg": body}))
    assert isinstance(tick, Ticker)
    return tick


def _churn(rng: random.Random, books: BookStore, names: list[str], yes_prices: list[float],
           no_prices: list[float]) -> None:
    """Remove and re-add a few levels per book (same level count in the end)."""
    for n in range(4 * MARKETS):
        ticker = names[n % MARKETS]
        book = books.get(ticker)
        assert book is not None
        side = "yes" if n % 2 else "no"
        price = rng.choice(yes_prices if side == "yes" else no_prices)
        qty = (book.yes_bids if side == "yes" else book.no_bids)[round(price * 10_000)]
        for delta in (-qty, qty):
            frame = {"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {
                "market_ticker": ticker, "price_dollars": _dollars(price),
                "delta_fp": f"{'-' if delta < 0 else ''}{abs(delta) // 100}.{abs(delta) % 100:02d}", "side": side}}
            msg = decode(json.dumps(frame))
            assert isinstance(msg, OrderbookDelta)
            status = books.apply_delta(msg)
            assert status.value == "applied", (status, book.invalid_reason)


def make_state(seed: int = 11) -> tuple[BookStore, SnapshotBuilder, list[Ticker]]:
    """2,000 books of 50 YES and 50 NO levels (from decoded snapshot frames, then a few thousand
    deltas so the books' insertion order is realistic), discovery info and a ticker message each."""
    rng = random.Random(seed)
    books = BookStore()
    builder = SnapshotBuilder(max_depth=0)
    markets: dict[str, Market] = {}
    tickers: list[Ticker] = []
    yes_prices = [float(c) for c in range(1, 51)]  # 1..50 c
    no_prices = [float(c) for c in range(1, 50)] + [49.5]  # 1..49 c and one sub-penny level
    for i in range(MARKETS):
        event = f"KXHIGH{'CHI NY MIA AUS DEN LAX'.split()[i % 6]}-26FEB{11 + i // 600:02d}"
        ticker = f"{event}-B{20 + i % 600}.5"
        markets[ticker] = Market(ticker, event, f"{20 + i % 600}° to {21 + i % 600}°")
        msg = {
            "market_ticker": ticker,
            "market_id": f"00000000-0000-0000-0000-{i:012d}",
            "yes_dollars_fp": [[_dollars(p), f"{rng.randint(1, 5000)}.00"] for p in yes_prices],
            "no_dollars_fp": [[_dollars(p), f"{rng.randint(1, 5000)}.{rng.randint(0, 99):02d}"] for p in no_prices],
        }
        snap = decode(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": i + 1, "msg": msg}))
        assert isinstance(snap, OrderbookSnapshot)
        books.apply_snapshot(snap)
        tickers.append(_ticker_message(rng, msg["market_id"], ticker))
    _churn(rng, books, list(markets), yes_prices, no_prices)
    builder.set_markets(markets)
    return books, builder, tickers


def naive_build(books: BookStore, markets: dict[str, tuple], tickers: dict[str, Ticker], ts: int, trigger: str
                ) -> tuple[list[dict], list[dict]]:
    """The seed's shape: a dict per row, levels sorted best first, values converted per row."""
    market_rows, level_rows = [], []
    for ticker, (event, subtitle) in markets.items():
        book = books.get(ticker)
        body = tickers[ticker].msg
        market_rows.append({
            "snapshot_ts": ts, "event_ticker": event, "market_ticker": ticker, "subtitle": subtitle,
            "yes_bid": book.best_yes_bid, "yes_ask": book.best_yes_ask, "last_price": body.last_price_cents,
            "volume": body.volume, "open_interest": body.open_interest, "trigger": trigger,
            "yes_bid_size": book.best_yes_bid_size, "yes_ask_size": book.best_yes_ask_size, "book_valid": book.valid,
        })
        for side in ("yes", "no"):
            for price, qty in book.levels(side):
                level_rows.append({"snapshot_ts": ts, "market_ticker": ticker, "side": side,
                                   "price_cents": price, "quantity": qty})
    return market_rows, level_rows


def main() -> None:
    books, builder, ticker_msgs = make_state()
    markets = {t: info for t, info in builder._markets.items()}  # noqa: SLF001 - same inputs for the baseline
    latest = {m.msg.market_ticker: m for m in ticker_msgs}

    def fresh_tickers() -> float:
        """Every market sends a new ticker message; returns the seconds spent receiving them."""
        bodies = [msgspec.structs.replace(m.msg) for m in ticker_msgs]
        t0 = time.perf_counter()
        for body in bodies:
            builder.update_ticker(body)
        return time.perf_counter() - t0

    # Same content both ways (one spot check per table).
    fresh_tickers()
    snap = builder.build(books, SNAPSHOT_TS, "periodic")
    naive_markets, naive_levels = naive_build(books, markets, latest, SNAPSHOT_TS, "periodic")
    assert snap.orderbook.num_rows == len(naive_levels) == MARKETS * 2 * LEVELS
    assert len(snap.market_rows) == len(naive_markets) == MARKETS
    assert sorted(snap.orderbook_rows()) == sorted(tuple(r.values()) for r in naive_levels)
    assert [r[:9] for r in snap.market_rows] == [tuple(r.values())[:9] for r in naive_markets]

    best = {"ours": float("inf"), "naive": float("inf"), "rows": float("inf"), "ticker": float("inf")}
    for round_no in range(ROUNDS + 1):  # round 0 warms up
        ticker_seconds = fresh_tickers()
        gc.collect()
        t0 = time.perf_counter()
        snap = builder.build(books, SNAPSHOT_TS, "periodic")
        t1 = time.perf_counter()
        snap.orderbook_rows()
        t2 = time.perf_counter()
        gc.collect()
        t3 = time.perf_counter()
        naive_build(books, markets, latest, SNAPSHOT_TS, "periodic")
        t4 = time.perf_counter()
        if round_no:
            best["ours"] = min(best["ours"], t1 - t0)
            best["rows"] = min(best["rows"], t2 - t1)
            best["naive"] = min(best["naive"], t4 - t3)
            best["ticker"] = min(best["ticker"], ticker_seconds)

    ours_ms, naive_ms, rows_ms = (best[k] * 1e3 for k in ("ours", "naive", "rows"))
    verdict = "met" if ours_ms <= TARGET_MS else "NOT met"
    print(f"bench_snapshot: {MARKETS:,} markets x 2 sides x {LEVELS} levels = {snap.orderbook.num_rows:,} level rows, "
          f"best of {ROUNDS}")
    print(f"  naive (dict per row)           {naive_ms:8.1f} ms  baseline")
    print(f"  SnapshotBuilder.build          {ours_ms:8.1f} ms  {naive_ms / ours_ms:4.1f}x faster  "
          f"(target <= {TARGET_MS:.0f} ms: {verdict})")
    print(f"  + orderbook_rows() as tuples   {rows_ms:8.1f} ms  (only for a row-based store)")
    print(f"  update_ticker, per message     {best['ticker'] / MARKETS * 1e6:8.2f} us  (on receipt, not in the snapshot)")


if __name__ == "__main__":
    main()
