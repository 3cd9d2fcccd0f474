"""A whole-exchange universe: thousands of made-up series across Kalshi's categories.

Why: a collector told to follow every open market must be tested against tens of thousands of
them, sports and crypto included, not against seven weather cities. The series made here reuse
the daily bracket-event machinery of the weather series (one event per day, ``brackets`` markets
each, the same lifecycle), so every REST and WebSocket path already exercised stays the same;
only tickers, categories and tags differ. Series are named by category prefix and a number
(``KXNBAG0042``), all with the same standard-time offset so the number of open markets per series
at a given hour is the same for every series (the size of the universe can then be hit exactly).
"""

from __future__ import annotations

import hashlib

from kalshi_collector.sim.catalog import SeriesSpec

__all__ = ["CATEGORIES", "universe_series"]

# (category, ticker prefix, tags, share of the series): roughly Kalshi's mix by market count.
CATEGORIES: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("Sports", "KXNBAG", ("Basketball",), 0.22),
    ("Sports", "KXNFLG", ("Football",), 0.12),
    ("Sports", "KXMLBG", ("Baseball",), 0.10),
    ("Crypto", "KXBTCD", ("BTC",), 0.12),
    ("Crypto", "KXETHD", ("ETH",), 0.08),
    ("Economics", "KXCPI", ("Inflation",), 0.08),
    ("Financials", "KXINXD", ("S&P",), 0.08),
    ("Politics", "KXPOL", ("Elections",), 0.08),
    ("Entertainment", "KXBOX", ("Movies",), 0.05),
    ("Climate and Weather", "KXHIGHX", ("Daily temperature",), 0.07),
)
_LST_OFFSET = -5  # one offset for all: every series has the same number of open events per hour


def universe_series(count: int) -> tuple[SeriesSpec, ...]:
    """``count`` series spread over :data:`CATEGORIES` by share (the same list for the same count)."""
    if count <= 0:
        return ()
    out: list[SeriesSpec] = []
    shares = [c[3] for c in CATEGORIES]
    total = sum(shares)
    quotas = [int(count * s / total) for s in shares]
    quotas[0] += count - sum(quotas)
    for (category, prefix, tags, _), quota in zip(CATEGORIES, quotas, strict=True):
        for i in range(quota):
            out.append(_spec(f"{prefix}{i:04d}", category, tags))
    return tuple(out)


def _spec(ticker: str, category: str, tags: tuple[str, ...]) -> SeriesSpec:
    digest = hashlib.sha256(ticker.encode()).digest()
    base = 40 + digest[0] % 35
    normals = tuple(base + (digest[1 + k] % 9) - 4 for k in range(12))
    name = ticker.removeprefix("KX")
    return SeriesSpec(ticker, name, f"at {name}", name, "lot", _LST_OFFSET, normals, category, tags)
