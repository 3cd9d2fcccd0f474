"""Exact parsing of Kalshi's fixed-point strings.

Since the 2026-03-12 hard cut, Kalshi sends prices as ``*_dollars`` strings (up to 6 decimals)
and counts as ``*_fp`` strings (2 decimals, fractional contracts exist). We store prices in
**cents** and counts in **contracts**, both float64. Going through ``float(x) * 100`` first is
the classic bug (``0.29 * 100 == 28.999999999999996`` -> 28 after ``int``); here the string is
scaled exactly with ``Decimal`` and only the final, exact value becomes a float. Whole cents are
exact in float64 and sub-penny prices (``"0.0150"`` -> 1.5) fit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["dollars_to_cents", "fp_to_contracts", "cents_to_dollars", "contracts_to_fp", "BadNumber"]

_HUNDRED = Decimal(100)
_cache: dict[str, float] = {}
_count_cache: dict[str, float] = {}
_CACHE_MAX = 100_000


class BadNumber(ValueError):
    """A price or count string that is not a decimal number."""


def dollars_to_cents(value: str | None) -> float | None:
    """``"0.2900"`` -> ``29.0``; ``"0.0150"`` -> ``1.5``; ``None`` stays ``None``.

    Prices repeat a lot (a market has at most ~100-1000 price levels), so results are memoised:
    this is on the WebSocket hot path.
    """
    if value is None:
        return None
    hit = _cache.get(value)
    if hit is not None:
        return hit
    try:
        cents = float(Decimal(value) * _HUNDRED)
    except (InvalidOperation, TypeError) as exc:
        raise BadNumber(f"not a dollar amount: {value!r}") from exc
    if len(_cache) < _CACHE_MAX:
        _cache[value] = cents
    return cents


def fp_to_contracts(value: str | None) -> float | None:
    """``"12.34"`` -> ``12.34`` contracts. Two decimals fit float64 exactly enough to round-trip.

    Memoised like prices: trade sizes repeat (``"1.00"``, ``"10.00"``), and a Decimal per trade
    was a tenth of the backfill's trade-page decode (bench/bench_rest_pages.py).
    """
    if value is None:
        return None
    hit = _count_cache.get(value)
    if hit is not None:
        return hit
    try:
        count = float(Decimal(value))
    except (InvalidOperation, TypeError) as exc:
        raise BadNumber(f"not a contract count: {value!r}") from exc
    if len(_count_cache) < _CACHE_MAX:
        _count_cache[value] = count
    return count


def cents_to_dollars(cents: float) -> str:
    """Inverse of :func:`dollars_to_cents`, as Kalshi formats it (4 decimals)."""
    return f"{Decimal(repr(float(cents))) / _HUNDRED:.4f}"


def contracts_to_fp(count: float) -> str:
    return f"{Decimal(repr(float(count))):.2f}"
