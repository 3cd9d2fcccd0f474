"""Benchmark (a): decode + apply of ``orderbook_delta`` frames vs a bare ``json.loads`` loop.

Both loops run over the same frames in the same process: real JSON in Kalshi's shape (market_id,
deprecated ``ts`` and all), spread over many markets, generated from an order-level model of each
book (placements, cancels, partial fills) so every delta applies cleanly and sizes repeat the way
order sizes do (the number of distinct size strings is printed: the memo's hit rate depends on it).
The figure that matters is the ratio; the target is >= 3.0x, so the collector keeps headroom for its
sequence check and tape row per delta.

Run: ``.venv/bin/python -m bench.bench_book`` (or ``python bench/bench_book.py``).
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable

from kalshi_collector.book import BookStatus, BookStore
from kalshi_collector.kalshi.messages import OrderbookDelta, OrderbookSnapshot, decode

MARKETS = 200
DELTAS = 50_000
ROUNDS = 5
CHUNK = 2_000
TARGET_RATIO = 3.0


def _dollars(cents: int) -> str:
    return f"{cents / 100:.4f}"


def _fp(centi: int) -> str:
    sign = "-" if centi < 0 else ""
    centi = abs(centi)
    return f"{sign}{centi // 100}.{centi % 100:02d}"


# Order sizes in contracts: people and market makers favour round sizes, the rest is spread out,
# and a few markets trade fractional contracts.
_ROUND_SIZES = (1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100, 150, 200, 250, 300, 500, 750, 1000, 2000, 5000)


def _order_size(rng: random.Random) -> int:
    """One order's size in hundredths of a contract."""
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(_ROUND_SIZES) * 100
    if roll < 0.98:
        return rng.randint(1, 999) * 100
    return rng.randint(1, 9999)  # fractional, e.g. 12.34


Orders = dict[str, dict[int, list[int]]]  # side -> price -> resting order sizes (one market)


def _snapshot_frames(rng: random.Random, tickers: list[str], ids: dict[str, str]) -> tuple[dict[str, Orders], list[bytes]]:
    """Each market's resting orders (20 levels a side, 1-4 orders each) and its snapshot frame."""
    orders: dict[str, Orders] = {}
    snapshots: list[bytes] = []
    for seq, ticker in enumerate(tickers, start=1):
        sides: Orders = {}
        for side in ("yes", "no"):
            sides[side] = {p: [_order_size(rng) for _ in range(rng.randint(1, 4))] for p in rng.sample(range(1, 50), 20)}
        orders[ticker] = sides
        msg: dict = {"market_ticker": ticker, "market_id": ids[ticker]}
        for side in ("yes", "no"):
            msg[f"{side}_dollars_fp"] = [[_dollars(p), _fp(sum(q))] for p, q in sorted(sides[side].items())]
        snapshots.append(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg}).encode())
    return orders, snapshots


def _order_event(rng: random.Random, levels: dict[int, list[int]]) -> tuple[int, int]:
    """One order event on a side's resting orders, applied to them: (price, signed size change)."""
    roll = rng.random()
    if roll < 0.4 or not levels:  # new order, clustered near the best bid
        best = max(levels, default=25)
        price = min(49, max(1, best - int(rng.expovariate(0.4)) + rng.choice((0, 0, 1))))
        size = _order_size(rng)
        levels.setdefault(price, []).append(size)
        delta = size
    elif roll < 0.75:  # cancel one resting order
        price = rng.choice(list(levels))
        queue = levels[price]
        delta = -queue.pop(rng.randrange(len(queue)))
    else:  # fill (part of) the oldest order at the best price
        price = max(levels)
        queue = levels[price]
        filled = min(queue[0], _order_size(rng))
        queue[0] -= filled
        if queue[0] == 0:
            queue.pop(0)
        delta = -filled
    if not levels[price]:
        del levels[price]
    return price, delta


def make_frames(markets: int = MARKETS, deltas: int = DELTAS, seed: int = 7) -> tuple[list[bytes], list[bytes]]:
    """(snapshot frames, delta frames) from an order-level model of each book.

    Every level holds resting orders; each delta is what Kalshi would send for one order event:
    a new order (+size, mostly near the best price), a cancel (-its remaining size) or a fill of
    the best level's oldest order (-part of it). Fills and cancels never exceed what rests, and
    YES and NO bids both stay below 50c, so every delta applies cleanly and no book crosses.
    """
    rng = random.Random(seed)
    tickers = [f"KXHIGHCHI-26FEB{11 + i // 60:02d}-B{30 + (i % 60)}.5" for i in range(markets)]
    ids = {t: str(uuid.UUID(int=rng.getrandbits(128))) for t in tickers}
    orders, snapshots = _snapshot_frames(rng, tickers, ids)
    frames: list[bytes] = []
    seq = len(tickers)
    ts_ms = 1_770_834_581_512
    while len(frames) < deltas:
        ticker = rng.choice(tickers)
        side = rng.choice(("yes", "no"))
        price, delta = _order_event(rng, orders[ticker][side])
        seq += 1
        ts_ms += rng.randint(1, 40)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"
        frame = {
            "type": "orderbook_delta",
            "sid": 1,
            "seq": seq,
            "msg": {
                "market_ticker": ticker,
                "market_id": ids[ticker],
                "price_dollars": _dollars(price),
                "delta_fp": _fp(delta),
                "side": side,
                "ts": stamp,
                "ts_ms": ts_ms,
            },
        }
        frames.append(json.dumps(frame, separators=(",", ":")).encode())
    return snapshots, frames


def _paired_chunks(
    frames: list[bytes], loops: dict[str, Callable[[list[bytes]], None]], reset: Callable[[], None]
) -> tuple[dict[str, float], dict[str, float]]:
    """Time every loop chunk by chunk, the loops taking turns on each chunk.

    This machine is shared and its speed drifts by up to 2x within seconds, so comparing two
    long runs made at different moments says little. Each chunk (a few ms) is timed for all loops
    back to back; the ratio to the json baseline is taken per chunk, and the median over all chunks
    and rounds is reported. Returns (median ratio vs "json", best total seconds) per loop.
    """
    chunks = [frames[i : i + CHUNK] for i in range(0, len(frames), CHUNK)]
    ratios: dict[str, list[float]] = {name: [] for name in loops}
    best = dict.fromkeys(loops, float("inf"))
    for round_no in range(ROUNDS + 1):  # round 0 warms up and is not counted
        reset()
        totals = dict.fromkeys(loops, 0.0)
        gc.collect()
        for chunk in chunks:
            elapsed = {}
            for name, loop in loops.items():
                t0 = time.perf_counter()
                loop(chunk)
                elapsed[name] = time.perf_counter() - t0
            for name in loops:
                totals[name] += elapsed[name]
                ratios[name].append(elapsed["json"] / elapsed[name])
        if round_no:
            for name in loops:
                best[name] = min(best[name], totals[name])
        else:
            for values in ratios.values():
                values.clear()
    return {name: statistics.median(values) for name, values in ratios.items()}, best


def main() -> None:
    snapshots, frames = make_frames()
    store = BookStore()

    def reset() -> None:
        for frame in snapshots:
            msg = decode(frame)
            assert isinstance(msg, OrderbookSnapshot)
            store.apply_snapshot(msg)

    def bare_json(chunk: list[bytes]) -> None:
        loads = json.loads
        for frame in chunk:
            loads(frame)

    def decode_only(chunk: list[bytes]) -> None:
        for frame in chunk:
            decode(frame)

    def decode_apply(chunk: list[bytes]) -> None:
        apply_delta = store.apply_delta
        for frame in chunk:
            msg = decode(frame)
            if type(msg) is OrderbookDelta:
                apply_delta(msg)

    # Correctness first: every delta must apply cleanly, or the speed figure means nothing.
    reset()
    statuses = {store.apply_delta(decode(f)) for f in frames}  # type: ignore[arg-type]
    assert statuses == {BookStatus.APPLIED}, statuses
    assert store.valid_count() == MARKETS

    ratio, best = _paired_chunks(frames, {"json": bare_json, "decode": decode_only, "ours": decode_apply}, reset)
    n = len(frames)
    distinct = len({json.loads(f)["msg"]["delta_fp"] for f in frames})
    print(f"bench_book: {n:,} orderbook_delta frames (~{len(frames[0])} bytes, {distinct:,} distinct sizes) over "
          f"{MARKETS} markets; {ROUNDS} rounds, chunks of {CHUNK:,}; speedup = median per-chunk ratio to json.loads")
    for name, label in (("json", "json.loads only      "), ("decode", "decode only (msgspec)"),
                        ("ours", "decode + apply       ")):
        note = "baseline" if name == "json" else f"{ratio[name]:4.2f}x"
        print(f"  {label} {n / best[name]:>12,.0f} msg/s  ({best[name] / n * 1e9:6.0f} ns/msg, best round)  {note}")
    verdict = "met" if ratio["ours"] >= TARGET_RATIO else "NOT met"
    print(f"  decode + apply vs json.loads: {ratio['ours']:.2f}x (target >= {TARGET_RATIO:.1f}x: {verdict})")


if __name__ == "__main__":
    main()
