"""Argument types and checks shared by the commands, so a bad value is one clear line (exit 2).

Each type names what it expects: ``--depth -3`` gives ``argument --depth: expected a whole number
>= 0, got '-3'`` (the parser of :mod:`kalshi_collector.cli` prints argparse's errors as one line).
:func:`date_range` turns ``--start``/``--end`` texts into dates and refuses an inverted range.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math

from kalshi_collector.errors import UsageError

__all__ = ["date_range", "non_negative_float", "non_negative_int", "parse_date", "port", "positive_float",
           "positive_int"]


def _number(text: str, kind: type, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _at_least(text: str, kind: type, low: float, what: str, *, strict: bool = False) -> int | float:
    value = _number(text, kind, what)
    if value < low or (strict and value == low):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """Seconds, rates: a number above 0."""
    return float(_at_least(text, float, 0.0, "a number > 0", strict=True))


def non_negative_float(text: str) -> float:
    return float(_at_least(text, float, 0.0, "a number >= 0"))


def positive_int(text: str) -> int:
    return int(_at_least(text, int, 1, "a whole number >= 1"))


def non_negative_int(text: str) -> int:
    """Counts where 0 means none (or, where the option says so, all)."""
    return int(_at_least(text, int, 0, "a whole number >= 0"))


def port(text: str) -> int:
    value = int(_at_least(text, int, 0, "a port number 0-65535"))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def parse_date(flag: str, text: str | None) -> dt.date | None:
    """``YYYY-MM-DD`` or None; a bad date is a :class:`UsageError` naming the flag."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date; expected YYYY-MM-DD") from None


def date_range(start_text: str | None, end_text: str | None) -> tuple[dt.date | None, dt.date | None]:
    """``--start``/``--end`` as dates; ``--start`` after ``--end`` is a :class:`UsageError`."""
    start, end = parse_date("--start", start_text), parse_date("--end", end_text)
    if start and end and start > end:
        raise UsageError(f"--start {start.isoformat()} is after --end {end.isoformat()}: swap them")
    return start, end
