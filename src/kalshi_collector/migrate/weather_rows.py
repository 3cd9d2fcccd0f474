"""One original weather file's records -> our rows, through our own fetchers' code (pure).

Each original row is turned back into the service answer it was copied from (under the names in
:mod:`.weather_columns`) and handed to the parser our fetcher uses for that answer:
``metar.awc_row`` for AWC reports, ``daily_climate.cli_json_record``/``json_row`` for IEM's CLI
records, ``asos_1min.minute_row`` for IEM's minutes. So a migrated row has every column and
convention of a fetched one (climate date, exact decimals, whole-°F recovery, METAR re-decoded
from its raw text), and the same key, which is what makes migrating idempotent and lets migrated
and fetched rows dedupe against each other.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from kalshi_collector.migrate.weather_columns import ORIGINAL_FOLDERS, OriginalFolder
from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.stations import Station

__all__ = ["FileRows", "convert_records", "uncarried_columns", "clean"]

_YEARS = re.compile(r"\d{4}")


@dataclass(slots=True)
class FileRows:
    """What one original file gave: our rows, and why any record was left out (reason -> count)."""

    rows: list[dict] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def clean(value: object) -> object:
    """A stored value as the service sent it: NaN, ``""`` -> None (pandas' and the original's
    placeholders for missing); a whole float -> int (AWC prints ``8``, pandas stored ``8.0``)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wire_item(record: dict, folder: OriginalFolder) -> dict:
    """The service's answer rebuilt: each stored value under the name the service gave it."""
    item = {}
    for column, wire in folder.wire.items():
        value = clean(record.get(column))
        if value is not None:
            item[wire] = value
    return item


# --------------------------------------------------------------------------- per folder


def _asos_rows(records: list[dict], station: Station, fetched_at: datetime, file_date: date) -> FileRows:
    out = FileRows()
    for record in records:
        observed = _utc(record.get("valid_utc"))
        if observed is None:
            out.skipped["no valid_utc time"] += 1
            continue
        values = {var: clean(record[var]) for var in asos_1min.VAR_COLUMNS if var in record}
        name = clean(record.get("station_name"))
        row, _ = asos_1min.minute_row(station, observed, values, station_name=name if isinstance(name, str) else None,
                                      fetched_at=fetched_at, source=ORIGINAL_FOLDERS["asos_1min"].source)
        out.rows.append(row)
    return out


def _metar_rows(records: list[dict], station: Station, fetched_at: datetime, file_date: date) -> FileRows:
    """AWC reports: the stored ``valid_utc`` is AWC's ``reportTime``; the observation time is the
    report's own DDHHMMZ, read near it."""
    folder = ORIGINAL_FOLDERS["metar"]
    out = FileRows()
    for record in records:
        reported = _utc(record.get("valid_utc"))
        item = _wire_item(record, folder)
        raw = item.get("rawOb")
        groups = metar.decode_metar(raw) if isinstance(raw, str) else None
        if reported is None or groups is None or groups.day is None or groups.hour is None or groups.minute is None:
            out.skipped["no raw report with a DDHHMMZ time, or no valid_utc"] += 1
            continue
        observed = metar.time_from_ddhhmm(groups.day, groups.hour, groups.minute, reported)
        item.update(icaoId=station.icao, obsTime=int(observed.timestamp()), reportTime=reported.isoformat())
        if isinstance(item.get("wdir"), str) and item["wdir"].isdigit():
            item["wdir"] = int(item["wdir"])
        if not isinstance(item.get("altim"), int | float) or item["altim"] < 100:
            item.pop("altim", None)  # inHg, not AWC's hPa: the report's A-group says it exactly
        row = metar.awc_row(item, station, fetched_at=fetched_at, source=folder.source)
        if row is None:
            out.skipped["no raw report"] += 1
        else:
            out.rows.append(row)
    return out


def _ldm_rows(records: list[dict], station: Station, fetched_at: datetime, file_date: date) -> FileRows:
    """Reports from the LDM feed: everything is decoded again from the raw report."""
    folder = ORIGINAL_FOLDERS["ldm_surface"]
    out = FileRows()
    for record in records:
        item = _wire_item(record, folder)
        observed = _utc(record.get("valid_utc"))
        if observed is None:
            out.skipped["no valid_utc time"] += 1
            continue
        item.update(icaoId=station.icao, obsTime=int(observed.timestamp()))
        ingested = _utc(record.get("ingest_ts")) or fetched_at
        row = metar.awc_row(item, station, fetched_at=ingested, source=folder.source)
        if row is None:
            out.skipped["no raw report"] += 1
        else:
            out.rows.append(row)
    return out


def _years(value: object) -> list[int] | object:
    """The original stored record years as the text of a list (``"[1999, 1911]"``)."""
    if isinstance(value, str):
        return [int(y) for y in _YEARS.findall(value)]
    return value


def _climate_rows(records: list[dict], station: Station, fetched_at: datetime, file_date: date) -> FileRows:
    """IEM's CLI records, one per file (the climate date from the row, else from the file name)."""
    folder = ORIGINAL_FOLDERS["daily_climate"]
    out = FileRows()
    for record in records:
        item = _wire_item(record, folder)
        valid = item.get("valid")
        item["valid"] = valid.isoformat() if isinstance(valid, date) else (valid or file_date.isoformat())
        item["station"] = station.iem_cli
        for key in ("high_record_years", "low_record_years"):
            if key in item:
                item[key] = _years(item[key])
        if "product" not in item:
            out.skipped["no cli_product_id (the report cannot be told from other versions)"] += 1
            continue
        try:
            parsed = daily_climate.cli_json_record(item)
        except ValueError as exc:
            out.skipped[f"unreadable CLI record ({exc})"] += 1
            continue
        out.rows.append(daily_climate.json_row(parsed, station, fetched_at=fetched_at, source=folder.source))
    return out


Converter = Callable[[list[dict], Station, datetime, date], FileRows]
_CONVERTERS: dict[str, Converter] = {
    "asos_1min": _asos_rows,
    "metar": _metar_rows,
    "ldm_surface": _ldm_rows,
    "daily_climate": _climate_rows,
}


def convert_records(folder: str, records: list[dict], station: Station, *, fetched_at: datetime,
                    file_date: date) -> FileRows:
    """Our rows from one original file of ``weather_obs/<folder>/``. ``fetched_at``: when the
    original wrote the file (it kept no fetch time of its own, except the LDM feed)."""
    return _CONVERTERS[folder](records, station, fetched_at, file_date)


def uncarried_columns(folder: str, names: list[str]) -> set[str]:
    """Columns of an original file that nothing here declares (none of the original's own): they
    are not carried over, and the migration says so."""
    known = ORIGINAL_FOLDERS[folder].known
    if folder == "asos_1min":
        known = known | set(asos_1min.VAR_COLUMNS)
    return {n for n in names if n not in known and not n.startswith("__index_level_")}
