"""Kalshi's wire formats for numbers and times, written from the simulator's integer state.

The simulator keeps prices as integer cents and counts as integer hundredths of a contract, so
every string it sends is exact by construction. These helpers are deliberately independent of
``kalshi_collector.kalshi`` (the client side): a misreading of the format in one must not be
masked by sharing code with the other.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

__all__ = [
    "dollars",
    "fp",
    "dollars_from_ten_thousandths",
    "iso_ms",
    "iso_us",
    "iso_seconds",
    "ms_of",
    "day_start_ms",
]


def _dollars(cents: int) -> str:
    if cents < 0:
        return "-" + _dollars(-cents)
    return f"{cents // 100}.{cents % 100:02d}00"


_DOLLARS = tuple(_dollars(c) for c in range(101))  # every linear_cent price, looked up on the hot path


def dollars(cents: int) -> str:
    """29 -> ``"0.2900"``: Kalshi's 4-decimal dollar string for a whole-cent price."""
    if 0 <= cents <= 100:
        return _DOLLARS[cents]
    return _dollars(cents)


def dollars_from_ten_thousandths(value: int) -> str:
    """2987 -> ``"0.2987"``: a dollar amount held in 1/10,000 dollar units (candle means)."""
    if value < 0:
        return "-" + dollars_from_ten_thousandths(-value)
    return f"{value // 10000}.{value % 10000:04d}"


_fp_cache: dict[int, str] = {}


def fp(hundredths: int) -> str:
    """14500 -> ``"145.00"``; -2500 -> ``"-25.00"``: Kalshi's 2-decimal contract count string."""
    text = _fp_cache.get(hundredths)
    if text is None:
        if hundredths < 0:
            text = "-" + fp(-hundredths)
        else:
            text = f"{hundredths // 100}.{hundredths % 100:02d}"
        if len(_fp_cache) > 65536:
            _fp_cache.clear()
        _fp_cache[hundredths] = text
    return text


_second_cache: dict[int, str] = {}


def _second_prefix(seconds: int) -> str:
    """``2026-02-11T18:29:41`` for a Unix second; memoised because live messages hit it 50k/s."""
    text = _second_cache.get(seconds)
    if text is None:
        if len(_second_cache) > 4096:
            _second_cache.clear()
        t = time.gmtime(seconds)
        text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        _second_cache[seconds] = text
    return text


def iso_ms(ts_ms: int) -> str:
    """``2026-02-11T18:29:41.512Z``: the deprecated ``ts`` string of WS orderbook deltas."""
    return f"{_second_prefix(ts_ms // 1000)}.{ts_ms % 1000:03d}Z"


def iso_us(ts_ms: int) -> str:
    """``2026-02-11T18:29:41.512000Z``: REST body timestamps (Kalshi prints microseconds)."""
    return f"{_second_prefix(ts_ms // 1000)}.{ts_ms % 1000:03d}000Z"


def iso_seconds(ts_ms: int) -> str:
    """``2026-02-11T18:29:41Z``: whole-second RFC 3339 (market times, the ticker ``time``)."""
    return f"{_second_prefix(ts_ms // 1000)}Z"


def ms_of(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(round(moment.timestamp() * 1000))


def day_start_ms(day: date) -> int:
    """Unix milliseconds of ``day`` 00:00 UTC."""
    return ms_of(datetime(day.year, day.month, day.day, tzinfo=UTC))
