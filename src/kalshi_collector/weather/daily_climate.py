"""The NWS Daily Climate Report (CLI): the value Kalshi's temperature markets settle on.

Two views of the same reports, both from IEM (SOURCES.md section 2):

- the **raw text** of every CLI version (``/cgi-bin/afos/retrieve.py``, one request per station
  and day, SOH/ETX-framed; or ``/api/1/nwstext/{product_id}`` for one product), parsed here;
- IEM's own **parse** (``/geojson/cli.py?dt=D``: every CLI station for one date in one
  request), which names the product IEM currently holds for the day. It is the cross-check on
  our parse and the fallback when a text cannot be had.

Every version is kept, keyed by its product id (``YYYYmmddHHMM-CCCC-TTAAII-PIL``: the UTC issue
time comes first): Kalshi's rules disagree on whether the first final or the latest version
counts, so the settlement view decides, not the collector. A version issued before its climate
day ended is *preliminary* ("VALID TODAY AS OF ..." with ``TODAY`` rows); it never settles.

CLI times are printed in local standard time (``TIME (LST)``); some offices may print clock
time in summer (STATIONS.md caveat), so ``high_at``/``low_at`` are approximate. The value is what
settles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from kalshi_collector.storage.catalog import DAILY_CLIMATE
from kalshi_collector.weather.cli_details import ClimateDetails, details_from_iem, details_from_text
from kalshi_collector.weather.common import DayResult, WeatherUrls, iso_z, table_from_rows
from kalshi_collector.weather.http import IEM, BadPayload, FetchError, WeatherHttp, reject_html
from kalshi_collector.weather.stations import Station, climate_day_window

__all__ = [
    "SOURCE_TEXT",
    "SOURCE_JSON",
    "SCHEMA",
    "KEY",
    "CliReport",
    "CliJsonRecord",
    "AfosEntry",
    "split_afos_products",
    "parse_cli_text",
    "parse_cli_json",
    "cli_json_record",
    "parse_afos_list",
    "cli_time_to_utc",
    "report_row",
    "json_row",
    "fetch_cli_texts",
    "fetch_cli_listing",
    "fetch_day",
]

log = logging.getLogger(__name__)

SOURCE_TEXT = "iem_cli_text"
SOURCE_JSON = "iem_cli_json"
RETRIEVE_PATH = "/cgi-bin/afos/retrieve.py"
NWSTEXT_PATH = "/api/1/nwstext/"
LISTING_PATH = "/geojson/cli.py"
# How long after a climate day ends a correction is still looked for in the text archive.
CORRECTION_HORIZON = timedelta(hours=72)

# The day files' columns and key are declared in the storage catalog (``weather/daily_climate/``).
SCHEMA = DAILY_CLIMATE.schema
KEY = DAILY_CLIMATE.key

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WMO = re.compile(r"^([A-Z]{4}\d{2})\s+([A-Z]{4})\s+(\d{2})(\d{2})(\d{2})(?:\s+([A-Z]{3}))?\s*$")
_PIL = re.compile(r"^(CLI[A-Z0-9]{3})\s*$")
_ISSUED = re.compile(r"^(\d{1,4})\s+(AM|PM)\s+([A-Z]{3,4})\s+[A-Z]{3}\s+([A-Z]{3})\s+(\d{1,2})\s+(\d{4})\s*$")
_HEADLINE = re.compile(
    r"^\s*\.\.\.\s*THE\s+(?P<name>.+?)\s+CLIMATE\s+SUMMARY\s+(?:FOR|FROM)\s+(?P<month>[A-Z]+)\.?\s+"
    r"(?P<day>\d{1,2}),?\s+(?P<year>\d{4})(?P<rest>.*)$"
)
_VALID_AS_OF = re.compile(r"^\s*VALID\b.*\bAS\s+OF\b")
_VALUE = re.compile(r"^(-?\d+)R?$")
_CLOCK = re.compile(r"^(\d{1,2}?):?(\d{2})\s*(AM|PM)$")
_PRODUCT_ID = re.compile(r"^(\d{12})-([A-Z0-9]{4})-([A-Z0-9]{6})-([A-Z0-9]{4,6})(?:-([A-Z]{3}))?$")


# --------------------------------------------------------------------------- text products


@dataclass(frozen=True, slots=True)
class CliReport:
    """One station section of one CLI text product."""

    product_id: str
    issued_at: datetime
    pil: str
    report_name: str
    climate_date: date
    preliminary: bool
    correction: bool
    high_f: int | None
    high_time: str | None
    low_f: int | None
    low_time: str | None
    text: str
    details: ClimateDetails = field(default_factory=ClimateDetails)


def split_afos_products(text: str) -> list[str]:
    """The products of an ``afos/retrieve.py`` answer (each framed ``\\x01`` ... ``\\x03``), or the one product."""
    if "\x01" not in text:
        return [text.strip("\x03\r\n")] if text.strip() else []
    parts = []
    for chunk in text.split("\x01"):
        body = chunk.replace("\x03", "").strip("\r\n")
        if body.strip():
            parts.append(body)
    return parts


def _month(token: str) -> int:
    key = token[:3].upper()
    if key not in _MONTHS:
        raise ValueError(f"unknown month {token!r}")
    return _MONTHS.index(key) + 1


def _clock(hhmm: str, ampm: str) -> time:
    digits = hhmm.zfill(4)
    hour, minute = int(digits[:-2]), int(digits[-2:])
    if not (1 <= hour <= 12 and 0 <= minute <= 59):
        raise ValueError(f"bad clock time {hhmm} {ampm}")
    return time((hour % 12) + (12 if ampm == "PM" else 0), minute)


def _issue_time(wmo: re.Match[str], issued_line: re.Match[str] | None, fallback: date) -> datetime:
    """UTC issue time: the WMO ``DDHHMM`` stamp, with month and year taken from the local issuance
    line (``1235 AM CST THU FEB 12 2026``), or from the climate date when that line is missing."""
    if issued_line is not None:
        local_day = date(int(issued_line.group(6)), _month(issued_line.group(4)), int(issued_line.group(5)))
        near = datetime.combine(local_day, _clock(issued_line.group(1), issued_line.group(2)))
    else:
        near = datetime.combine(fallback + timedelta(days=1), time(6))
    day, hour, minute = int(wmo.group(3)), int(wmo.group(4)), int(wmo.group(5))
    best: datetime | None = None
    for shift in (-1, 0, 1):
        y, m = near.year, near.month + shift
        if m == 0:
            y, m = y - 1, 12
        elif m == 13:
            y, m = y + 1, 1
        try:
            candidate = datetime(y, m, day, hour, minute)
        except ValueError:
            continue
        if best is None or abs(candidate - near) < abs(best - near):
            best = candidate
    if best is None:
        raise ValueError(f"WMO day {day} does not fit near {near:%Y-%m-%d}")
    return best.replace(tzinfo=UTC)


def _temperature_rows(lines: list[str]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None, bool]:
    """The MAXIMUM and MINIMUM rows (tokens after the label) of the TEMPERATURE (F) block, and
    whether the block is labelled TODAY (a same-day, preliminary report)."""
    maximum = minimum = None
    today = False
    in_block = False
    for line in lines:
        s = line.strip()
        if not in_block:
            in_block = s.startswith("TEMPERATURE (F)")
            continue
        if not s:
            if maximum or minimum:
                break
            continue
        if s.startswith(("PRECIPITATION", "SNOWFALL", "DEGREE DAYS")):
            break
        first, _, rest = s.partition(" ")
        if first == "TODAY":
            today = True
        elif first == "MAXIMUM" and maximum is None:
            maximum = tuple(rest.split())
        elif first == "MINIMUM" and minimum is None:
            minimum = tuple(rest.split())
    return maximum, minimum, today


def _value_and_time(tokens: tuple[str, ...] | None) -> tuple[int | None, str | None]:
    if not tokens:
        return None, None
    m = _VALUE.match(tokens[0])
    value = int(m.group(1)) if m else None  # "MM" (missing) and anything odd -> None
    when = None
    if len(tokens) >= 3 and tokens[2] in ("AM", "PM") and re.fullmatch(r"\d{1,2}:?\d{2}", tokens[1]):
        when = f"{tokens[1]} {tokens[2]}"
    return value, when


def parse_cli_text(text: str, *, url: str | None = None) -> list[CliReport]:
    """Every station section of one CLI product (most products have one; CLIHOU has two).

    Raises :class:`BadPayload` when the text is not a CLI product at all.
    """
    reject_html(text, "a CLI text product", url)
    lines = text.replace("\r", "").split("\n")
    wmo = next((m for line in lines[:6] if (m := _WMO.match(line))), None)
    pil_match = next((m for line in lines[:8] if (m := _PIL.match(line))), None)
    issued_line = next((m for line in lines[:15] if (m := _ISSUED.match(line.strip()))), None)
    headlines = [(i, m) for i, line in enumerate(lines) if (m := _HEADLINE.match(line))]
    if not headlines:
        raise BadPayload("not a CLI product (no '...THE <NAME> CLIMATE SUMMARY FOR <DATE>...' headline)", url)
    if pil_match is None:
        raise BadPayload("CLI product without its AFOS id line (CLIxxx)", url)
    if wmo is None:
        raise BadPayload("CLI product without a WMO header line (e.g. 'CDUS43 KLOT 120635')", url)
    try:
        first_date = date(int(headlines[0][1].group("year")), _month(headlines[0][1].group("month")),
                          int(headlines[0][1].group("day")))
        issued_at = _issue_time(wmo, issued_line, first_date)
    except ValueError as exc:
        raise BadPayload(f"CLI product with an unreadable date: {exc}", url) from None
    pil = pil_match.group(1)
    bbb = wmo.group(6)
    product_id = f"{issued_at:%Y%m%d%H%M}-{wmo.group(2)}-{wmo.group(1)}-{pil}" + (f"-{bbb}" if bbb else "")
    body = "\n".join(lines)
    reports = []
    for n, (start, head) in enumerate(headlines):
        end = headlines[n + 1][0] if n + 1 < len(headlines) else len(lines)
        section = lines[start:end]
        try:
            climate_date = date(int(head.group("year")), _month(head.group("month")), int(head.group("day")))
        except ValueError as exc:
            raise BadPayload(f"CLI headline with a bad date: {exc}", url) from None
        maximum, minimum, today = _temperature_rows(section)
        high, high_time = _value_and_time(maximum)
        low, low_time = _value_and_time(minimum)
        rest = head.group("rest").upper()
        # The issuing office is the center less its first letter (KLOT -> LOT), as IEM's "wfo".
        details = details_from_text(section, wfo=wmo.group(2)[1:], header=lines)
        reports.append(
            CliReport(
                product_id=product_id,
                issued_at=issued_at,
                pil=pil,
                report_name=head.group("name").strip(),
                climate_date=climate_date,
                preliminary=today or any(_VALID_AS_OF.match(line) for line in section[:6]),
                correction=("CORRECT" in rest) or bool(bbb and bbb.startswith("CC")),
                high_f=high,
                high_time=high_time,
                low_f=low,
                low_time=low_time,
                text=body,
                details=details,
            )
        )
    return reports


def cli_time_to_utc(text: str | None, climate_date: date, station: Station) -> datetime | None:
    """``"2:41 PM"`` / ``"241 PM"`` on the climate date, read as local standard time, in UTC."""
    if not text:
        return None
    m = _CLOCK.match(text.strip().upper())
    if not m:
        return None
    try:
        clock = _clock(m.group(1) + m.group(2), m.group(3))
    except ValueError:
        return None
    return datetime.combine(climate_date, clock, station.lst).astimezone(UTC)


def _section_for(reports: list[CliReport], station: Station) -> list[CliReport]:
    """The sections that describe ``station`` (by headline name for multi-station products)."""
    names = {r.report_name for r in reports}
    if station.cli_section:
        return [r for r in reports if station.cli_section.upper() in r.report_name.upper()]
    if len(names) > 1:
        log.warning("daily_climate %s: product %s has sections %s and no rule to pick one; skipped",
                    station.icao, reports[0].product_id, sorted(names))
        return []
    return reports


def report_row(report: CliReport, station: Station, *, fetched_at: datetime,
               fill: ClimateDetails | None = None) -> dict:
    """The row of one parsed version. ``fill``: IEM's parse of the same product, for the details
    the text did not give."""
    _, day_end = climate_day_window(station, report.climate_date)
    return {
        "station": station.icao,
        "climate_date": report.climate_date,
        "high_f": report.high_f,
        "high_time": report.high_time,
        "high_at": cli_time_to_utc(report.high_time, report.climate_date, station),
        "low_f": report.low_f,
        "low_time": report.low_time,
        "low_at": cli_time_to_utc(report.low_time, report.climate_date, station),
        # Issued before its day ended = a same-day report, whatever the text says.
        "preliminary": report.preliminary or report.issued_at < day_end,
        "correction": report.correction,
        "product_id": report.product_id,
        "issued_at": report.issued_at,
        "report_name": report.report_name,
        "raw_text": report.text,
        "fetched_at": fetched_at,
        "source": SOURCE_TEXT,
        **report.details.filled_from(fill).columns(),
    }


# --------------------------------------------------------------------------- IEM's parse (JSON)


@dataclass(frozen=True, slots=True)
class CliJsonRecord:
    station: str
    climate_date: date
    product_id: str
    name: str | None
    high_f: int | None
    high_time: str | None
    low_f: int | None
    low_time: str | None
    details: ClimateDetails = field(default_factory=ClimateDetails)


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None  # "M" (missing) or anything unexpected


def parse_cli_json(body: bytes | str, *, url: str | None = None) -> list[CliJsonRecord]:
    """IEM's CLI records from ``/json/cli.py`` (``{"results": [...]}``) or ``/geojson/cli.py`` (features)."""
    reject_html(body, "IEM CLI JSON", url)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(f"IEM CLI answer is not valid JSON: {exc}", url) from None
    if not isinstance(payload, dict):
        raise BadPayload("IEM CLI answer is not a JSON object", url)
    if "results" in payload:
        items = payload["results"]
    elif "features" in payload:
        items = [f.get("properties") for f in payload["features"] if isinstance(f, dict)]
    else:
        raise BadPayload(f"IEM CLI answer has neither 'results' nor 'features' (keys: {sorted(payload)[:6]})", url)
    out = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        try:
            out.append(cli_json_record(item))
        except ValueError as exc:
            log.warning("IEM CLI record skipped: %s (%s)", exc, url)
    return out


def cli_json_record(item: dict) -> CliJsonRecord:
    """One record of IEM's CLI JSON; ValueError (saying why) without a date or a product id.

    Also the way in for IEM records the original collector stored (:mod:`kalshi_collector.migrate`)."""
    try:
        valid = date.fromisoformat(str(item.get("valid")))
    except ValueError:
        raise ValueError(f"record with a bad date {item.get('valid')!r}") from None
    product = item.get("product")
    if not isinstance(product, str) or not _PRODUCT_ID.match(product):
        raise ValueError(f"record for {item.get('station')} {valid} without a product id")
    return CliJsonRecord(
        station=str(item.get("station", "")).upper(),
        climate_date=valid,
        product_id=product,
        name=item.get("name") if isinstance(item.get("name"), str) else None,
        high_f=_int_or_none(item.get("high")),
        high_time=item.get("high_time") if isinstance(item.get("high_time"), str) else None,
        low_f=_int_or_none(item.get("low")),
        low_time=item.get("low_time") if isinstance(item.get("low_time"), str) else None,
        details=details_from_iem(item),
    )


def json_row(record: CliJsonRecord, station: Station, *, fetched_at: datetime, source: str = SOURCE_JSON) -> dict:
    m = _PRODUCT_ID.match(record.product_id)
    assert m is not None  # parse_cli_json only keeps well-formed ids
    issued_at = datetime.strptime(m.group(1), "%Y%m%d%H%M").replace(tzinfo=UTC)
    _, day_end = climate_day_window(station, record.climate_date)
    return {
        "station": station.icao,
        "climate_date": record.climate_date,
        "high_f": record.high_f,
        "high_time": record.high_time,
        "high_at": cli_time_to_utc(record.high_time, record.climate_date, station),
        "low_f": record.low_f,
        "low_time": record.low_time,
        "low_at": cli_time_to_utc(record.low_time, record.climate_date, station),
        "preliminary": issued_at < day_end,
        "correction": bool(m.group(5) and m.group(5).startswith("CC")),
        "product_id": record.product_id,
        "issued_at": issued_at,
        "report_name": record.name,
        "raw_text": None,
        "fetched_at": fetched_at,
        "source": source,
        **record.details.columns(),
    }


@dataclass(frozen=True, slots=True)
class AfosEntry:
    product_id: str
    entered: datetime
    pil: str
    center: str


def parse_afos_list(body: bytes | str, *, url: str | None = None) -> list[AfosEntry]:
    """``/api/1/nws/afos/list.json``: pandas ``orient="table"`` rows; unknown schema keys ignored."""
    reject_html(body, "IEM AFOS list JSON", url)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(f"IEM AFOS list is not valid JSON: {exc}", url) from None
    rows = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise BadPayload("IEM AFOS list has no 'data' array", url)
    out = []
    for row in rows:
        try:
            entered = datetime.fromisoformat(str(row["entered"]).replace("Z", "+00:00"))
            out.append(AfosEntry(str(row["product_id"]), entered, str(row["pil"]), str(row["cccc"])))
        except (KeyError, TypeError, ValueError):
            raise BadPayload(f"IEM AFOS list row not understood: {str(row)[:120]}", url) from None
    return out


# --------------------------------------------------------------------------- fetching


async def fetch_cli_texts(http: WeatherHttp, iem_url: str, station: Station, climate_date: date) -> list[CliReport]:
    """Every CLI version for the station's climate date found in the text archive."""
    start, end = climate_day_window(station, climate_date)
    params = [
        ("pil", station.cli_pil),
        ("fmt", "text"),
        ("limit", "20"),
        ("sdate", iso_z(start)),
        ("edate", iso_z(end + CORRECTION_HORIZON)),
        ("order", "asc"),
    ]
    resp = await http.get(IEM, iem_url.rstrip("/") + RETRIEVE_PATH, params)
    text = resp.text
    if text.strip().startswith("ERROR: Could not Find"):
        return []  # IEM answers 200 with this line when no product matches
    if text.strip().startswith("ERROR"):
        raise BadPayload(f"IEM text archive: {text.strip()[:160]}", resp.url)
    if "\x01" in text and not text.rstrip().endswith("\x03"):
        raise BadPayload("IEM text archive answer is cut off (last product has no end marker)", resp.url)
    products = split_afos_products(text)
    reports: list[CliReport] = []
    readable = 0
    for product in products:
        try:
            parsed = parse_cli_text(product, url=resp.url)
        except BadPayload as exc:
            log.warning("daily_climate %s: one product in the archive answer skipped: %s", station.icao, exc)
            continue
        readable += 1
        reports.extend(r for r in _section_for(parsed, station) if r.climate_date == climate_date)
    if products and not readable:
        raise BadPayload("IEM text archive answer holds no readable CLI product", resp.url)
    return reports


async def fetch_cli_product(http: WeatherHttp, iem_url: str, product_id: str) -> list[CliReport]:
    resp = await http.get(IEM, iem_url.rstrip("/") + NWSTEXT_PATH + product_id)
    return parse_cli_text(resp.text, url=resp.url)


async def fetch_cli_listing(http: WeatherHttp, iem_url: str, climate_date: date) -> dict[str, CliJsonRecord]:
    """IEM's current CLI record of every station for one date (one request for all stations)."""
    resp = await http.get(IEM, iem_url.rstrip("/") + LISTING_PATH, [("dt", climate_date.isoformat())])
    return {r.station: r for r in parse_cli_json(resp.body, url=resp.url) if r.climate_date == climate_date}


async def _station_versions(
    http: WeatherHttp,
    iem_url: str,
    station: Station,
    climate_date: date,
    listed: CliJsonRecord | None,
    now: datetime,
) -> tuple[list[dict], str | None]:
    rows: list[dict] = []
    error: str | None = None
    try:
        reports = await fetch_cli_texts(http, iem_url, station, climate_date)
    except FetchError as exc:
        reports, error = [], str(exc)
    have = {r.product_id for r in reports}
    if listed is not None and listed.product_id not in have:
        # IEM holds a version the archive window did not return (e.g. a late correction).
        try:
            extra = await fetch_cli_product(http, iem_url, listed.product_id)
            reports.extend(r for r in _section_for(extra, station) if r.climate_date == climate_date)
        except FetchError as exc:
            log.warning("daily_climate %s %s: text of %s not available (%s); keeping IEM's parse of it",
                        station.icao, climate_date, listed.product_id, exc)
    fill = listed.details if listed is not None else None
    rows.extend(report_row(r, station, fetched_at=now, fill=fill if listed and r.product_id == listed.product_id else None)
                for r in reports)
    by_product = {r.product_id: r for r in reports}
    if listed is not None:
        mine = by_product.get(listed.product_id)
        if mine is None:
            rows.append(json_row(listed, station, fetched_at=now))
        elif (mine.high_f, mine.low_f) != (listed.high_f, listed.low_f):
            log.warning(
                "daily_climate %s %s: our reading of %s (high %s, low %s) differs from IEM's (high %s, low %s)",
                station.icao, climate_date, listed.product_id, mine.high_f, mine.low_f, listed.high_f, listed.low_f,
            )
    return rows, error


async def fetch_day(
    http: WeatherHttp, urls: WeatherUrls, stations: list[Station], climate_date: date, *, now: datetime
) -> DayResult:
    """Every CLI version of every station for one climate date."""
    errors: dict[str | None, str] = {}
    listing: dict[str, CliJsonRecord] = {}
    try:
        listing = await fetch_cli_listing(http, urls.iem, climate_date)
    except FetchError as exc:
        errors[None] = f"IEM CLI listing: {exc}"
    except Exception as exc:  # a parsing bug must not cost the text versions
        log.error("daily_climate %s: unexpected error in the IEM CLI listing", climate_date, exc_info=exc)
        errors[None] = f"IEM CLI listing: internal error: {type(exc).__name__}: {exc}"
    results = await asyncio.gather(
        *(_station_versions(http, urls.iem, s, climate_date, listing.get(s.iem_cli), now) for s in stations),
        return_exceptions=True,
    )
    rows: list[dict] = []
    for station, result in zip(stations, results, strict=True):
        if isinstance(result, Exception):
            log.error("daily_climate %s %s: unexpected error", climate_date, station.icao, exc_info=result)
            errors[station.icao] = f"internal error: {type(result).__name__}: {result}"
            continue
        if isinstance(result, BaseException):
            raise result
        station_rows, error = result
        rows.extend(station_rows)
        if error:
            errors[station.icao] = error
    return DayResult(table_from_rows(rows, SCHEMA), errors)
