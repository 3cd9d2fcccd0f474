"""Benchmark: the strict decode (fast path) beside the tolerant fallback, over the same deltas.

Three loops over the same ``orderbook_delta`` frames in one process: a bare ``json.loads`` (the
baseline), :func:`kalshi.messages.decode` of the documented shape (strict msgspec, the path every
normal frame takes), and of the same frames in a variant (``seq`` and ``ts_ms`` as strings, price
and size as bare numbers: what the simulator's ``variance_every`` sends), which the strict decoder
refuses and the tolerant one (``kalshi/lax.py``) reads field by field. The tolerant path is far
slower per frame; it only has to keep up with the variants, which are rare. The strict path is the
same msgspec decode as before the fallback existed (the fallback runs only when it raises), so its
rate is what the live benchmark's rate rests on.

Run: ``.venv/bin/python -m bench.bench_decode``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from kalshi_collector.kalshi.messages import decode

FRAMES = 50_000
VARIED = 5_000
ROUNDS = 3


def _frames(n: int, varied: bool) -> list[bytes]:
    out = []
    for i in range(n):
        price, size = f"0.{1 + i % 98:02d}00", f"{1 + i % 50}.00"
        seq = f'"{i + 1}"' if varied else str(i + 1)
        ts = f'"{1770834581512 + i}"' if varied else str(1770834581512 + i)
        p, q = (price, size) if varied else (f'"{price}"', f'"{size}"')
        out.append((f'{{"type":"orderbook_delta","sid":1,"seq":{seq},"msg":{{"market_ticker":"KXHIGHCHI-26FEB11-B'
                    f'{i % 12}","market_id":"x","price_dollars":{p},"delta_fp":{q},"side":"yes",'
                    f'"ts":"2026-02-11T18:29:41.512Z","ts_ms":{ts}}}}}').encode())
    return out


def _rate(frames: list[bytes], fn: Callable[[bytes], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for f in frames:
            fn(f)
        best = min(best, time.perf_counter() - started)
    return len(frames) / best


def main() -> None:
    normal, varied = _frames(FRAMES, False), _frames(VARIED, True)
    repairs: list[object] = []
    baseline = _rate(normal, json.loads)
    strict = _rate(normal, decode)
    lax = _rate(varied, lambda f: decode(f, repairs.append))
    assert decode(varied[0]).msg.price_dollars == "0.0100"  # type: ignore[union-attr]
    print(f"baseline json.loads:              {baseline:10,.0f} frames/s")
    print(f"strict decode (documented shape): {strict:10,.0f} frames/s  ({strict / baseline:.2f}x the baseline)")
    print(f"tolerant decode (a variant):      {lax:10,.0f} frames/s  ({lax / baseline:.2f}x the baseline, "
          f"{strict / lax:.0f}x slower than strict; {len(repairs) // (ROUNDS * VARIED)} repairs per frame)")


if __name__ == "__main__":
    main()
