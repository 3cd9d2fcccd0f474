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

__all__ = [
    "dollars_to_cents",
    "fp_to_contracts",
    "cents_to_dollars",
    "contracts_to_fp",
    "BadNumber",
    "price_cents",
    "price_micros",
    "centi_contracts",
    "PRICE_CENTS_MEMO",
    "PRICE_MICROS_MEMO",
    "CENTI_MEMO",
    "MEMO_LIMIT",
    "number_text",
    "lax_int",
    "lax_float",
]

_HUNDRED = Decimal(100)
_cache: dict[str, float] = {}
_count_cache: dict[str, float] = {}
_CACHE_MAX = 100_000


class BadNumber(ValueError):
    """A price or count string that is not a decimal number."""


def dollars_to_cents(value: str | None) -> float | None:
    """``"0.2900"`` -> ``29.0``; ``"0.0150"`` -> ``1.5``; ``None`` and ``""`` are ``None``.

    Kalshi has sent ``""`` for a price it has no value for; it reads as null, like a missing field
    (the strict decoder keeps it as the string it is, so the conversion is where it becomes null).
    Prices repeat a lot (a market has at most ~100-1000 price levels), so results are memoised:
    this is on the WebSocket hot path.
    """
    if not value:
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

    ``None`` and ``""`` are ``None`` (see :func:`dollars_to_cents`). Memoised like prices: trade
    sizes repeat (``"1.00"``, ``"10.00"``), and a Decimal per trade was a tenth of the backfill's
    trade-page decode (bench/bench_rest_pages.py).
    """
    if not value:
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


# --- exact integers for the order book's hot path (memoised) ---------------------------------------
# The same few hundred prices and few thousand sizes repeat all day, so each converter remembers its
# answers; a memo stops growing at MEMO_LIMIT entries (later strings are still converted exactly, just
# not remembered). The memos are public because the order book reads them directly (one dict lookup
# per delta instead of a call): they are part of this module's interface, declared here once.

MEMO_LIMIT = 100_000
PRICE_CENTS_MEMO: dict[str, float] = {}
PRICE_MICROS_MEMO: dict[str, int] = {}
CENTI_MEMO: dict[str, int] = {}
_MILLION = Decimal(1_000_000)


def price_cents(dollars: str) -> float:
    """``"0.2900"`` -> ``29.0``, ``"0.0150"`` -> ``1.5``: a binary contract's price in cents.

    Raises :class:`BadNumber` for a string that is not a decimal or lies outside (0, 100) cents,
    which no order-book level can have.
    """
    cents = PRICE_CENTS_MEMO.get(dollars)
    if cents is not None:
        return cents
    cents = dollars_to_cents(dollars)
    if cents is None or not 0.0 < cents < 100.0:
        raise BadNumber(f"price out of range: {dollars!r}")
    if len(PRICE_CENTS_MEMO) < MEMO_LIMIT:
        PRICE_CENTS_MEMO[dollars] = cents
    return cents


def _exact_multiple(text: str, factor: Decimal, what: str, unit: str) -> int:
    """``text`` times ``factor`` as an int, refused (:class:`BadNumber`) unless exactly whole."""
    try:
        scaled = Decimal(text) * factor
    except (InvalidOperation, TypeError) as exc:
        raise BadNumber(f"not a {what}: {text!r}") from exc
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise BadNumber(f"not a {unit}: {text!r}")
    return int(scaled)


def price_micros(dollars: str) -> int:
    """``"0.2900"`` -> ``290000``: a price in exact integer millionths of a dollar.

    The order book keys its levels by this: Kalshi quotes up to 6 decimals, so every price is a
    whole number of micro-dollars, and integer keys hash faster than floats on the hot path.
    Same checks as :func:`price_cents`, plus: a seventh decimal raises :class:`BadNumber`.
    """
    micros = PRICE_MICROS_MEMO.get(dollars)
    if micros is not None:
        return micros
    micros = _exact_multiple(dollars, _MILLION, "dollar amount", "price in millionths of a dollar")
    if not 0 < micros < 1_000_000:
        raise BadNumber(f"price out of range: {dollars!r}")
    if len(PRICE_MICROS_MEMO) < MEMO_LIMIT:
        PRICE_MICROS_MEMO[dollars] = micros
    return micros


def centi_contracts(fp: str) -> int:
    """``"12.34"`` -> ``1234``: a contract count in exact integer hundredths.

    The order book sums sizes; integers keep those sums exact (``0.1 + 0.2 - 0.3`` is not 0 in
    floats, which would leave phantom levels or report false negatives). Kalshi's ``*_fp`` counts
    have exactly two decimals (API.md 6); a finer count raises :class:`BadNumber` rather than being
    rounded silently.
    """
    centi = CENTI_MEMO.get(fp)
    if centi is not None:
        return centi
    centi = _exact_multiple(fp, _HUNDRED, "contract count", "count in hundredths")
    if len(CENTI_MEMO) < MEMO_LIMIT:
        CENTI_MEMO[fp] = centi
    return centi


# --- lax readings: a number where text is expected and text where a number is ----------------------
# Used only by the tolerant (fallback) decoders, never on the fast path. JSON numbers reach them as
# ``int`` or as ``Decimal`` (the fallback decoders read JSON floats as Decimal, so "0.2900" sent as a
# bare number keeps every digit it had on the wire); a float is accepted too, through its shortest
# repr, which is the literal it was parsed from.


def number_text(value: int | float | Decimal) -> str:
    """A JSON number as the decimal text Kalshi would have quoted: ``0.29`` -> ``"0.29"``,
    ``Decimal("0.2900")`` -> ``"0.2900"``, ``150`` -> ``"150"``. Raises :class:`BadNumber` for a bool
    or a non-finite value."""
    if isinstance(value, bool):
        raise BadNumber(f"not a number: {value!r}")
    if isinstance(value, int):
        return str(value)
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not d.is_finite():
        raise BadNumber(f"not a finite number: {value!r}")
    return format(d, "f")


def lax_int(value: object) -> int:
    """An integer from an int, an integral Decimal/float, or a numeric string (``"1781143200"``,
    ``"17.0"``). Raises :class:`BadNumber` otherwise (bools, fractions, text)."""
    if isinstance(value, bool):
        raise BadNumber(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    try:
        d = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value) if isinstance(value, float) else value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BadNumber(f"not an integer: {value!r}") from exc
    if not d.is_finite() or d != d.to_integral_value():
        raise BadNumber(f"not an integer: {value!r}")
    return int(d)


def lax_float(value: object) -> float:
    """A float from a number or a numeric string (``"13.1"`` -> 13.1, exactly as ``float("13.1")``).
    Raises :class:`BadNumber` otherwise."""
    if isinstance(value, bool):
        raise BadNumber(f"not a number: {value!r}")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation as exc:
            raise BadNumber(f"not a number: {value!r}") from exc
        if d.is_finite():
            return float(d)
    raise BadNumber(f"not a number: {value!r}")
