"""Small pieces every weather source shares: missing-value markers, number parsing, table building."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from kalshi_collector.weather.http import FetchError
from kalshi_collector.weather.stations import Station

__all__ = [
    "MISSING",
    "TRACE",
    "WeatherUrls",
    "DayResult",
    "parse_decimal",
    "parse_float",
    "fit_decimal",
    "table_from_rows",
    "utc_now",
    "iso_z",
    "per_station",
]

log = logging.getLogger(__name__)

# IEM writes a missing value as "M" (CSV, JSON) or "MM" (CLI text); "None" can leak from its code.
MISSING = frozenset({"", "M", "MM", "NONE", "NULL", "NAN"})
# A trace of precipitation: IEM's own convention (pyiem.reference.TRACE_VALUE).
TRACE = 0.0001


@dataclass(frozen=True, slots=True)
class WeatherUrls:
    iem: str
    awc: str


@dataclass(slots=True)
class DayResult:
    """What one source fetched for one climate date: rows of every station that answered, and why others did not.

    ``errors`` maps a station (ICAO) to a one-line reason; the key ``None`` is a request that
    served every station at once (IEM's per-date CLI listing).
    """

    table: pa.Table
    errors: dict[str | None, str] = field(default_factory=dict)


def parse_decimal(token: Any, *, trace: Decimal | None = None) -> Decimal | None:
    """``"38"`` -> Decimal(38); ``"M"``/``""``/None -> None; ``"T"`` -> ``trace`` (None if not given).

    Raises ValueError for anything else, so a garbled cell is noticed rather than read as missing.
    """
    if token is None:
        return None
    if isinstance(token, bool):
        raise ValueError(f"not a number: {token!r}")
    if isinstance(token, int | float):
        return Decimal(repr(token)) if isinstance(token, float) else Decimal(token)
    text = str(token).strip()
    if text.upper() in MISSING:
        return None
    if text.upper() == "T":
        return trace
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {token!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a number: {token!r}")
    return value


def parse_float(token: Any, *, trace: float | None = None) -> float | None:
    value = parse_decimal(token, trace=None if trace is None else Decimal(repr(trace)))
    return None if value is None else float(value)


def fit_decimal(value: Decimal | None, places: int) -> Decimal | None:
    """``value`` at ``places`` decimal places when that is exact (a column's scale); None, with a
    warning, when it has more places than the column holds (never rounded silently)."""
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-places)
    fitted = value.quantize(quantum)
    if fitted != value:
        log.warning("value %s has more than %d decimal places; stored as missing", value, places)
        return None
    return fitted


def table_from_rows(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (dicts keyed by column name; missing keys are null) as a table of exactly ``schema``."""
    rows = list(rows)
    columns = {name: [r.get(name) for r in rows] for name in schema.names}
    return pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_z(value: datetime) -> str:
    """``2026-02-11T06:00Z``: the form IEM's and AWC's date parameters accept."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


async def per_station(
    stations: Sequence[Station], fetch: Callable[[Station], Awaitable[list[dict]]], label: str
) -> tuple[list[dict], dict[str | None, str]]:
    """Run ``fetch`` for every station at once; collect the rows, and a one-line reason per failure.

    A :class:`FetchError` is an expected failure (bad answer, timeout); anything else is a bug in
    our parsing, logged with its traceback but still confined to that one station.
    """
    results = await asyncio.gather(*(fetch(s) for s in stations), return_exceptions=True)
    rows: list[dict] = []
    errors: dict[str | None, str] = {}
    for station, result in zip(stations, results, strict=True):
        if isinstance(result, FetchError):
            errors[station.icao] = str(result)
        elif isinstance(result, Exception):
            log.error("%s %s: unexpected error", label, station.icao, exc_info=result)
            errors[station.icao] = f"internal error: {type(result).__name__}: {result}"
        elif isinstance(result, BaseException):
            raise result
        else:
            rows.extend(result)
    return rows, errors
