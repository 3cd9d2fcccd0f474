"""The rest of a Daily Climate Report beside its high and low: records, normals, departures,
precipitation, snow, wind and sky (pure).

The settlement values (``high_f``/``low_f`` and their times) are read by
:mod:`.daily_climate`; this module reads the context the original collector also kept, from
either view of a report: the product text (:func:`details_from_text`, by column through
:mod:`.cli_table`) or IEM's parse of it (:func:`details_from_iem`). Both give one
:class:`ClimateDetails`, whose fields are the ``daily_climate`` columns of the same names. For the
same product the text wins and IEM's parse fills what the text did not give
(:meth:`ClimateDetails.filled_from`).

Numbers are as printed: whole °F and mph as integers, amounts as exact decimals, a trace as
``0.0001`` (IEM's convention, as in ``asos_1min.precip_in``), ``MM``/``M`` as null.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from kalshi_collector.weather.cli_table import TableLayout, find_layout, read_row, split_blocks
from kalshi_collector.weather.common import fit_decimal, parse_decimal

__all__ = ["ClimateDetails", "details_from_text", "details_from_iem", "TRACE_IN"]

log = logging.getLogger(__name__)

TRACE_IN = Decimal("0.0001")
"""A trace of precipitation or snow, as IEM stores it."""
_AMOUNT_PLACES = 4  # daily_climate.precip_in / snow_in / snow_depth_in: decimal128(8, 4)
_AVERAGE_PLACES = 2  # avg_wind_speed_mph / avg_sky_cover: decimal128(6, 2)
_INT = re.compile(r"^(-?\d+)R?$")
_YEAR = re.compile(r"^(\d{4})$")
_WIND_LABEL = re.compile(r"(HIGHEST|AVERAGE|RESULTANT)\s+(WIND|GUST)\s+(SPEED|DIRECTION)")
_DIRECTION = re.compile(r"\((\d{1,3})\)|^(\d{1,3})$")


@dataclass(frozen=True, slots=True)
class ClimateDetails:
    """What a CLI says besides the high and low (every field a ``daily_climate`` column)."""

    wfo: str | None = None
    high_record_f: int | None = None
    high_record_years: tuple[int, ...] | None = None
    high_normal_f: int | None = None
    high_departure_f: int | None = None
    low_record_f: int | None = None
    low_record_years: tuple[int, ...] | None = None
    low_normal_f: int | None = None
    low_departure_f: int | None = None
    precip_in: Decimal | None = None
    snow_in: Decimal | None = None
    snow_depth_in: Decimal | None = None
    avg_wind_speed_mph: Decimal | None = None
    max_wind_speed_mph: int | None = None
    max_wind_dir_deg: int | None = None
    max_gust_speed_mph: int | None = None
    max_gust_dir_deg: int | None = None
    avg_sky_cover: Decimal | None = None

    def filled_from(self, other: ClimateDetails | None) -> ClimateDetails:
        """These details, with what they lack taken from ``other`` (IEM's parse of the same product)."""
        if other is None:
            return self
        gaps = {f.name: getattr(other, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is None}
        return dataclasses.replace(self, **{k: v for k, v in gaps.items() if v is not None})

    def columns(self) -> dict[str, object]:
        """The row values (record years as lists, as the column holds them)."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


# --------------------------------------------------------------------------- cells


def _int(text: object) -> int | None:
    """``38``, ``-13``, ``84R`` (a record set) -> int; ``MM``, blank or anything else -> None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        return int(text) if text.is_integer() else None
    m = _INT.match(str(text).strip()) if text is not None else None
    return int(m.group(1)) if m else None


def _decimal(text: object, places: int) -> Decimal | None:
    """An amount: ``0.07``, ``T`` (trace), ``MM``; a trailing record marker ``R`` is dropped."""
    if isinstance(text, str):
        text = text.strip().removesuffix("R")
    try:
        value = parse_decimal(text, trace=TRACE_IN)
    except ValueError:
        return None
    if value is None or not value.is_finite():
        return None
    return fit_decimal(value, places)


def _years(cell: str | None, continuation: list[str]) -> tuple[int, ...] | None:
    """The record year(s): the YEAR cell, then bare 4-digit lines below it (a tied record)."""
    years = [int(m.group(1)) for text in ([cell] if cell else []) + continuation if (m := _YEAR.match(text.strip()))]
    return tuple(years) or None


def _direction(text: str | None) -> int | None:
    """``SW (230)`` or ``230`` -> 230."""
    m = _DIRECTION.search(text.strip()) if text else None
    return int(m.group(1) or m.group(2)) if m else None


# --------------------------------------------------------------------------- the text


def _temperature(block: list[str], layout: TableLayout | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for i, line in enumerate(block):
        row = read_row(line, layout)
        prefix = {"MAXIMUM": "high", "MINIMUM": "low"}.get(row.label)
        if prefix is None or f"{prefix}_record_f" in out:
            continue
        continuation = []
        for below in block[i + 1:]:
            if not _YEAR.match(below.strip()):
                break
            continuation.append(below)
        out[f"{prefix}_record_f"] = _int(row.get("record"))
        out[f"{prefix}_record_years"] = _years(row.get("year"), continuation)
        out[f"{prefix}_normal_f"] = _int(row.get("normal"))
        out[f"{prefix}_departure_f"] = _int(row.get("departure"))
    return out


def _day_value(block: list[str], layout: TableLayout | None, labels: tuple[str, ...]) -> Decimal | None:
    """The observed amount of the first row labelled one of ``labels``."""
    for line in block:
        row = read_row(line, layout)
        if row.label in labels:
            return _decimal(row.get("observed"), _AMOUNT_PLACES)
    return None


def _wind(block: list[str]) -> dict[str, object]:
    """``HIGHEST WIND SPEED    17   HIGHEST WIND DIRECTION    SW (230)`` ...: each label's value is
    the text up to the next label."""
    text = " ".join(" ".join(block).split())
    labels = list(_WIND_LABEL.finditer(text))
    values = {}
    for n, m in enumerate(labels):
        end = labels[n + 1].start() if n + 1 < len(labels) else len(text)
        values[" ".join(m.groups())] = text[m.end():end].strip()
    return {
        "max_wind_speed_mph": _int(values.get("HIGHEST WIND SPEED")),
        "max_wind_dir_deg": _direction(values.get("HIGHEST WIND DIRECTION")),
        "max_gust_speed_mph": _int(values.get("HIGHEST GUST SPEED")),
        "max_gust_dir_deg": _direction(values.get("HIGHEST GUST DIRECTION")),
        "avg_wind_speed_mph": _decimal(values.get("AVERAGE WIND SPEED"), _AVERAGE_PLACES),
    }


def _sky(block: list[str]) -> Decimal | None:
    for line in block:
        label, _, value = line.strip().partition("AVERAGE SKY COVER")
        if not label and value:
            return _decimal(value, _AVERAGE_PLACES)
    return None


def details_from_text(section: list[str], *, wfo: str | None, header: list[str] | None = None) -> ClimateDetails:
    """The details of one station section of a CLI text product.

    ``header``: lines to look for the table header in when the section has none (the second
    station of a multi-station product may rely on the first one's)."""
    layout = find_layout(section) or (find_layout(header) if header else None)
    blocks = split_blocks(section)
    today = ("YESTERDAY", "TODAY")
    snow = blocks.get("SNOWFALL (IN)", [])
    return ClimateDetails(
        wfo=wfo,
        **_temperature(blocks.get("TEMPERATURE (F)", []), layout),
        precip_in=_day_value(blocks.get("PRECIPITATION (IN)", []), layout, today),
        snow_in=_day_value(snow, layout, today),
        snow_depth_in=_day_value(snow, layout, ("SNOW DEPTH",)),
        **_wind(blocks.get("WIND (MPH)", [])),
        avg_sky_cover=_sky(blocks.get("SKY COVER", [])),
    )


# --------------------------------------------------------------------------- IEM's parse


def _iem_years(value: object) -> tuple[int, ...] | None:
    if not isinstance(value, list | tuple):
        return None
    years = tuple(y for y in (_int(v) for v in value) if y is not None)
    return years or None


def details_from_iem(item: Mapping[str, object]) -> ClimateDetails:
    """The details of one record of IEM's ``/json/cli.py`` or ``/geojson/cli.py`` (SOURCES.md 2.1)."""
    wfo = item.get("wfo")
    return ClimateDetails(
        wfo=wfo if isinstance(wfo, str) and wfo else None,
        high_record_f=_int(item.get("high_record")),
        high_record_years=_iem_years(item.get("high_record_years")),
        high_normal_f=_int(item.get("high_normal")),
        high_departure_f=_int(item.get("high_depart")),
        low_record_f=_int(item.get("low_record")),
        low_record_years=_iem_years(item.get("low_record_years")),
        low_normal_f=_int(item.get("low_normal")),
        low_departure_f=_int(item.get("low_depart")),
        precip_in=_decimal(item.get("precip"), _AMOUNT_PLACES),
        snow_in=_decimal(item.get("snow"), _AMOUNT_PLACES),
        snow_depth_in=_decimal(item.get("snowdepth"), _AMOUNT_PLACES),
        avg_wind_speed_mph=_decimal(item.get("average_wind_speed"), _AVERAGE_PLACES),
        max_wind_speed_mph=_int(item.get("highest_wind_speed")),
        max_wind_dir_deg=_int(item.get("highest_wind_direction")),
        max_gust_speed_mph=_int(item.get("highest_gust_speed")),
        max_gust_dir_deg=_int(item.get("highest_gust_direction")),
        avg_sky_cover=_decimal(item.get("average_sky_cover"), _AVERAGE_PLACES),
    )
