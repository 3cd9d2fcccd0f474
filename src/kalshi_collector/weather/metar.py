"""METAR reports: the Aviation Weather Center Data API, with IEM's archive for older days.

AWC (``/api/data/metar``, SOURCES.md section 3) keeps about 15 days; beyond that the same
reports come from IEM ``/cgi-bin/request/asos.py`` (section 4). Both give the raw report, which
we decode ourselves for the groups that matter to a daily high or low:

- body ``TT/TdTd`` in whole °C, remark T-group ``TsTTTsTTT`` in tenths (the T-group wins);
- ``1snTTT`` / ``2snTTT``: 6-hour max / min; ``4snTTTsnTTT``: 24-hour max / min.

ASOS measures in whole °F and the T-group is that reading converted to tenths of °C, so
rounding ``C * 9/5 + 32`` to the nearest degree recovers the exact °F the station read (the
tenths error is at most 0.09 °F; IEM snaps within 0.2). Those recovered whole-°F values are what
compares with the CLI; a whole-°C body temperature cannot be recovered and stays null there.
All conversions run on ``Decimal`` so 1.7 °C is 35.06 °F, not 35.059999.

No third-party METAR parser is used: ``metar`` (python-metar) would be the candidate but is
not a project dependency, and we need only these few groups.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from kalshi_collector.storage.catalog import METAR
from kalshi_collector.weather.common import (
    DayResult,
    WeatherUrls,
    fit_decimal,
    iso_z,
    parse_decimal,
    per_station,
    table_from_rows,
)
from kalshi_collector.weather.http import AWC, IEM, BadPayload, WeatherHttp, reject_html
from kalshi_collector.weather.stations import Station, climate_date_of, climate_day_window

__all__ = [
    "SOURCE_AWC",
    "SOURCE_IEM",
    "SCHEMA",
    "KEY",
    "AWC_RETENTION",
    "MetarGroups",
    "decode_metar",
    "c_to_f",
    "c_to_whole_f",
    "parse_awc_json",
    "awc_row",
    "parse_awc_raw",
    "time_from_ddhhmm",
    "parse_iem_asos_csv",
    "fetch_metar",
    "fetch_day",
    "raw_key",
]

log = logging.getLogger(__name__)

SOURCE_AWC = "awc"
SOURCE_IEM = "iem_asos"
AWC_PATH = "/api/data/metar"
IEM_PATH = "/cgi-bin/request/asos.py"
# AWC's database keeps the previous 15 days; ask IEM's archive for anything older than this.
AWC_RETENTION = timedelta(days=14)
_HPA_PER_INHG = Decimal("33.8639")

# The day files' columns and key are declared in the storage catalog (``weather/metar/``). The
# same report from AWC and from IEM (which drops the "METAR " prefix) is one row: the key compares
# ``raw_text`` in its :func:`raw_key` form.
SCHEMA = METAR.schema
KEY = METAR.key


def raw_key(raw: str) -> str:
    """The report without its ``METAR``/``SPECI`` prefix and with single spaces: the dedupe form."""
    return " ".join(_PREFIX.sub("", raw.strip()).split())


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class MetarGroups:
    report_type: str | None
    station: str | None
    day: int | None
    hour: int | None
    minute: int | None
    temp_c: Decimal | None
    dewpoint_c: Decimal | None
    temp_tenths: bool
    max_6h_c: Decimal | None
    min_6h_c: Decimal | None
    max_24h_c: Decimal | None
    min_24h_c: Decimal | None
    wind_dir_deg: int | None
    wind_speed_kt: int | None
    wind_gust_kt: int | None
    visibility_sm: str | None
    altimeter_inhg: Decimal | None
    sea_level_pressure_hpa: Decimal | None
    wind_variable: bool | None = None  # direction VRB; None without a wind group


_PREFIX = re.compile(r"^(METAR|SPECI)\s+")
_TIME = re.compile(r"^(\d{2})(\d{2})(\d{2})Z$")
_WIND = re.compile(r"^(\d{3}|VRB)(\d{2,3})(?:G(\d{2,3}))?(KT|MPS)$")
_BODY_TEMP = re.compile(r"^(M?\d{2})/(M?\d{2})?$")
_ALTIM = re.compile(r"^A(\d{4})$")
_VIS = re.compile(r"^(M|P)?(\d+(?:/\d+)?)SM$")
_T_GROUP = re.compile(r"^T([01])(\d{3})(?:([01])(\d{3}))?$")
_SIX_HOUR = re.compile(r"^([12])([01])(\d{3})$")
_DAY_MAXMIN = re.compile(r"^4([01])(\d{3})([01])(\d{3})$")
_SLP = re.compile(r"^SLP(\d{3})$")
_TENTH = Decimal("0.1")
_KT_PER_MPS = Decimal("1.943844")


def _signed_tenths(sign: str, digits: str) -> Decimal:
    value = Decimal(int(digits)) * _TENTH
    return -value if sign == "1" else value


def _whole_c(token: str) -> Decimal:
    return -Decimal(int(token[1:])) if token.startswith("M") else Decimal(int(token))


@dataclass(slots=True)
class _Body:
    """Groups of the report body (before ``RMK``); each kind is taken from its first match."""

    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    temp_c: Decimal | None = None
    dewpoint_c: Decimal | None = None
    wind_dir_deg: int | None = None
    wind_variable: bool | None = None
    wind_speed_kt: int | None = None
    wind_gust_kt: int | None = None
    visibility_sm: str | None = None
    altimeter_inhg: Decimal | None = None


@dataclass(slots=True)
class _Remarks:
    """Groups of the remarks; the T-group temperatures are tenths of °C."""

    temp_c: Decimal | None = None
    dewpoint_c: Decimal | None = None
    max_6h_c: Decimal | None = None
    min_6h_c: Decimal | None = None
    max_24h_c: Decimal | None = None
    min_24h_c: Decimal | None = None
    sea_level_pressure_hpa: Decimal | None = None


def _knots(value: str, unit: str) -> int:
    factor = _KT_PER_MPS if unit == "MPS" else Decimal(1)
    return int((int(value) * factor).to_integral_value(ROUND_HALF_UP))


def _visibility(match: re.Match[str], previous_token: str) -> str:
    """``1 1/2SM`` spans two tokens: the whole miles are the token before the fraction."""
    whole = previous_token if previous_token.isdigit() and "/" in match.group(2) else None
    return (f"{whole} " if whole else "") + match.group(2) + ("+" if match.group(1) == "P" else "")


def _sea_level_pressure(digits: str) -> Decimal:
    """``SLPppp`` gives tenths of hPa without the leading 9 or 10."""
    tenth_hpa = Decimal(int(digits)) * _TENTH
    return tenth_hpa + (1000 if tenth_hpa < 50 else 900)


def _decode_body(tokens: list[str]) -> _Body:
    body = _Body()
    for i, tok in enumerate(tokens):
        if body.day is None and (t := _TIME.match(tok)):
            body.day, body.hour, body.minute = int(t.group(1)), int(t.group(2)), int(t.group(3))
        elif body.wind_speed_kt is None and (w := _WIND.match(tok)):
            body.wind_variable = w.group(1) == "VRB"
            body.wind_dir_deg = None if body.wind_variable else int(w.group(1))
            body.wind_speed_kt = _knots(w.group(2), w.group(4))
            body.wind_gust_kt = _knots(w.group(3), w.group(4)) if w.group(3) else None
        elif body.visibility_sm is None and (v := _VIS.match(tok)):
            body.visibility_sm = _visibility(v, tokens[i - 1] if i > 0 else "")
        elif body.temp_c is None and (b := _BODY_TEMP.match(tok)):
            body.temp_c = _whole_c(b.group(1))
            body.dewpoint_c = _whole_c(b.group(2)) if b.group(2) else None
        elif body.altimeter_inhg is None and (a := _ALTIM.match(tok)):
            body.altimeter_inhg = Decimal(int(a.group(1))) / 100
    return body


def _decode_remarks(tokens: list[str]) -> _Remarks:
    rmk = _Remarks()
    for tok in tokens:
        if t := _T_GROUP.match(tok):
            rmk.temp_c = _signed_tenths(t.group(1), t.group(2))
            if t.group(3):
                rmk.dewpoint_c = _signed_tenths(t.group(3), t.group(4))
        elif s := _SIX_HOUR.match(tok):
            if s.group(1) == "1":
                rmk.max_6h_c = _signed_tenths(s.group(2), s.group(3))
            else:
                rmk.min_6h_c = _signed_tenths(s.group(2), s.group(3))
        elif d := _DAY_MAXMIN.match(tok):
            rmk.max_24h_c = _signed_tenths(d.group(1), d.group(2))
            rmk.min_24h_c = _signed_tenths(d.group(3), d.group(4))
        elif p := _SLP.match(tok):
            rmk.sea_level_pressure_hpa = _sea_level_pressure(p.group(1))
    return rmk


def decode_metar(raw: str) -> MetarGroups:
    """Decode the groups we store from one raw METAR/SPECI (with or without the type prefix).
    The remarks' T-group, in tenths, takes the place of the body's whole-°C temperatures."""
    text = " ".join(raw.split())
    m = _PREFIX.match(text)
    body_text, _, remarks = _PREFIX.sub("", text).partition(" RMK ")
    tokens = body_text.split()
    body = _decode_body(tokens)
    rmk = _decode_remarks(remarks.split())
    return MetarGroups(
        report_type=m.group(1) if m else None,
        station=tokens[0] if tokens and re.fullmatch(r"[A-Z][A-Z0-9]{3}", tokens[0]) else None,
        day=body.day,
        hour=body.hour,
        minute=body.minute,
        temp_c=rmk.temp_c if rmk.temp_c is not None else body.temp_c,
        dewpoint_c=rmk.dewpoint_c if rmk.dewpoint_c is not None else body.dewpoint_c,
        temp_tenths=rmk.temp_c is not None,
        max_6h_c=rmk.max_6h_c,
        min_6h_c=rmk.min_6h_c,
        max_24h_c=rmk.max_24h_c,
        min_24h_c=rmk.min_24h_c,
        wind_dir_deg=body.wind_dir_deg,
        wind_speed_kt=body.wind_speed_kt,
        wind_gust_kt=body.wind_gust_kt,
        visibility_sm=body.visibility_sm,
        altimeter_inhg=body.altimeter_inhg,
        sea_level_pressure_hpa=rmk.sea_level_pressure_hpa,
        wind_variable=body.wind_variable,
    )


def c_to_f(celsius: Decimal | None) -> float | None:
    """°C to °F rounded to 0.1 (exact decimal arithmetic)."""
    if celsius is None:
        return None
    return float((celsius * 9 / 5 + 32).quantize(_TENTH, ROUND_HALF_UP))


def c_to_whole_f(celsius: Decimal | None) -> float | None:
    """Tenths-°C converted from a whole-°F reading, back to that whole °F."""
    if celsius is None:
        return None
    return float((celsius * 9 / 5 + 32).to_integral_value(ROUND_HALF_UP))


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _row(
    station: Station,
    observed: datetime,
    raw: str,
    groups: MetarGroups,
    *,
    source: str,
    fetched_at: datetime,
    report_type: str | None = None,
    overrides: dict | None = None,
) -> dict:
    row = {
        "station": station.icao,
        "observed_at": observed,
        "climate_date": climate_date_of(station, observed),
        "report_type": report_type or groups.report_type,
        "temp_c": _f(groups.temp_c),
        "dewpoint_c": _f(groups.dewpoint_c),
        "temp_tenths": groups.temp_tenths if groups.temp_c is not None else None,
        "temp_f": c_to_f(groups.temp_c),
        "dewpoint_f": c_to_f(groups.dewpoint_c),
        "temp_f_whole": c_to_whole_f(groups.temp_c) if groups.temp_tenths else None,
        "max_6h_c": _f(groups.max_6h_c),
        "min_6h_c": _f(groups.min_6h_c),
        "max_24h_c": _f(groups.max_24h_c),
        "min_24h_c": _f(groups.min_24h_c),
        "max_6h_f": c_to_whole_f(groups.max_6h_c),
        "min_6h_f": c_to_whole_f(groups.min_6h_c),
        "max_24h_f": c_to_whole_f(groups.max_24h_c),
        "min_24h_f": c_to_whole_f(groups.min_24h_c),
        "wind_dir_deg": float(groups.wind_dir_deg) if groups.wind_dir_deg is not None else None,
        "wind_speed_kt": float(groups.wind_speed_kt) if groups.wind_speed_kt is not None else None,
        "wind_gust_kt": float(groups.wind_gust_kt) if groups.wind_gust_kt is not None else None,
        "visibility_sm": groups.visibility_sm,
        "weather": None,
        "altimeter_hpa": float((groups.altimeter_inhg * _HPA_PER_INHG).quantize(_TENTH, ROUND_HALF_UP))
        if groups.altimeter_inhg is not None
        else None,
        "sea_level_pressure_hpa": _f(groups.sea_level_pressure_hpa),
        "raw_text": raw.strip(),
        "received_at": None,
        "fetched_at": fetched_at,
        "source": source,
        "reported_at": None,
        "wind_variable": groups.wind_variable,
        "altimeter_inhg": groups.altimeter_inhg,
        "cover": None,
        "flight_category": None,
        "precip_6h_in": None,
    }
    for key, value in (overrides or {}).items():
        if value is not None and row.get(key) is None:
            row[key] = value
    return row


# --------------------------------------------------------------------------- AWC


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_number(item: dict, key: str) -> Decimal | None:
    value = item.get(key)
    try:
        return parse_decimal(value)
    except ValueError:
        return None


def parse_awc_json(body: bytes, station: Station, *, fetched_at: datetime, url: str | None = None) -> list[dict]:
    """Rows of an AWC ``format=json`` answer: a bare array; an empty body (HTTP 204) means no reports.

    Keys with no value are omitted in the post-2025 format, and numbers may be int or float.
    """
    rows = []
    for item in _awc_items(body, url):
        if str(item.get("icaoId", "")).upper() != station.icao:
            continue
        row = awc_row(item, station, fetched_at=fetched_at)
        if row is None:
            log.warning("metar %s: AWC report without rawOb/obsTime skipped (%s)", station.icao, url)
            continue
        rows.append(row)
    return rows


def awc_row(item: dict, station: Station, *, fetched_at: datetime, source: str = SOURCE_AWC) -> dict | None:
    """One row from one AWC report object (None without ``rawOb``/``obsTime``): the raw text
    decoded, AWC's own decoded fields filling what the decode lacks.

    Also the way in for reports AWC sent to someone else first (the original collector's files,
    see :mod:`kalshi_collector.migrate.weather_rows`), so both give the same columns."""
    raw = item.get("rawOb")
    obs = item.get("obsTime")
    if not isinstance(raw, str) or not raw.strip() or not isinstance(obs, int | float) or isinstance(obs, bool):
        return None
    row = _row(station, datetime.fromtimestamp(int(obs), UTC), raw, decode_metar(raw), source=source,
               fetched_at=fetched_at, report_type=_awc_str(item, "metarType"), overrides=_awc_decoded(item))
    _prefer_awc_forms(row, item)
    _convert_filled_celsius(row)
    return row


def _awc_items(body: bytes, url: str | None) -> list[dict]:
    """The report objects of an AWC answer, or a one-line :class:`BadPayload` saying what it is instead."""
    if not body.strip():
        return []
    reject_html(body, "AWC METAR JSON", url)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadPayload(f"AWC METAR answer is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})", url) from None
    if isinstance(payload, dict):
        detail = payload.get("error") or payload
        raise BadPayload(f"AWC METAR answer is an error object, not a list: {str(detail)[:160]}", url)
    if not isinstance(payload, list):
        raise BadPayload(f"AWC METAR answer is a {type(payload).__name__}, expected a list", url)
    if not all(isinstance(item, dict) for item in payload):
        raise BadPayload("AWC METAR list holds a non-object item", url)
    return payload


def _awc_str(item: dict, key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def _awc_decoded(item: dict) -> dict:
    """AWC's own decoded fields. The body decode is the source of truth; these fill what it lacks."""
    wdir = item.get("wdir")
    return {
        "temp_c": _f(_json_number(item, "temp")),
        "dewpoint_c": _f(_json_number(item, "dewp")),
        "max_6h_c": _f(_json_number(item, "maxT")),
        "min_6h_c": _f(_json_number(item, "minT")),
        "max_24h_c": _f(_json_number(item, "maxT24")),
        "min_24h_c": _f(_json_number(item, "minT24")),
        "wind_dir_deg": float(wdir) if isinstance(wdir, int | float) and not isinstance(wdir, bool) else None,
        "wind_speed_kt": _f(_json_number(item, "wspd")),
        "wind_gust_kt": _f(_json_number(item, "wgst")),
        "weather": _awc_str(item, "wxString"),
        "sea_level_pressure_hpa": _f(_json_number(item, "slp")),
        "received_at": _iso(item.get("receiptTime")),
        "reported_at": _iso(item.get("reportTime")),
        "wind_variable": True if wdir == "VRB" else None,
        "cover": _awc_str(item, "cover"),
        "flight_category": _awc_str(item, "fltCat"),
        "precip_6h_in": fit_decimal(_json_number(item, "pcp6hr"), 4),
    }


def _prefer_awc_forms(row: dict, item: dict) -> None:
    """Visibility and altimeter as AWC gives them, over our decode of the body."""
    if item.get("visib") is not None:
        row["visibility_sm"] = str(item["visib"])  # AWC's own form, "10+" for 10SM
    altim = _json_number(item, "altim")
    if altim is not None:
        row["altimeter_hpa"] = float(altim)  # AWC already converted A2993 to hPa


_FILLED_CELSIUS = (("max_6h_c", "max_6h_f"), ("min_6h_c", "min_6h_f"), ("max_24h_c", "max_24h_f"), ("min_24h_c", "min_24h_f"))


def _convert_filled_celsius(row: dict) -> None:
    """°F columns for °C values AWC filled in (those the body decode had are converted already)."""
    if row["temp_f"] is None and row["temp_c"] is not None:
        row["temp_f"] = c_to_f(Decimal(repr(row["temp_c"])))
    if row["dewpoint_f"] is None and row["dewpoint_c"] is not None:
        row["dewpoint_f"] = c_to_f(Decimal(repr(row["dewpoint_c"])))
    for c_col, f_col in _FILLED_CELSIUS:
        if row[f_col] is None and row[c_col] is not None:
            row[f_col] = c_to_whole_f(Decimal(repr(row[c_col])))


def time_from_ddhhmm(day: int, hour: int, minute: int, reference: datetime) -> datetime:
    """The latest instant at or before ``reference`` (+1 h slack) with that day of month and time."""
    ref = reference.astimezone(UTC)
    year, month = ref.year, ref.month
    for _ in range(3):
        try:
            candidate = datetime(year, month, day, hour, minute, tzinfo=UTC)
        except ValueError:
            candidate = None
        if candidate is not None and candidate <= ref + timedelta(hours=1):
            return candidate
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    raise ValueError(f"day {day} does not fit near {reference:%Y-%m}")


def parse_awc_raw(text: str, station: Station, *, reference: datetime, fetched_at: datetime,
                  url: str | None = None) -> list[dict]:
    """Rows of an AWC ``format=raw`` answer (one report a line); the month comes from ``reference``."""
    reject_html(text, "AWC raw METARs", url)
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        groups = decode_metar(line)
        if groups.station != station.icao:
            continue
        if groups.day is None or groups.hour is None or groups.minute is None:
            raise BadPayload(f"METAR without a DDHHMMZ time: {line[:80]!r}", url)
        observed = time_from_ddhhmm(groups.day, groups.hour, groups.minute, reference)
        rows.append(_row(station, observed, line, groups, source=SOURCE_AWC, fetched_at=fetched_at))
    return rows


# --------------------------------------------------------------------------- IEM archive


def parse_iem_asos_csv(text: str, station: Station, *, fetched_at: datetime, url: str | None = None) -> list[dict]:
    """Rows of IEM ``asos.py`` (``format=onlycomma``, ``tz=UTC``, ``data=tmpf,dwpf,metar``).

    IEM stores the report without the ``METAR`` prefix and already converts tmpf; we decode the
    raw text like AWC's so both sources give the same columns.
    """
    reject_html(text, "the IEM asos.py CSV", url)
    if not text.strip():
        raise BadPayload("empty answer from IEM asos.py (expected at least the CSV header)", url)
    if not text.endswith("\n"):
        raise BadPayload("IEM asos.py CSV is cut off (last line has no newline)", url)
    lines = text.splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    if header[:2] != ["station", "valid"] or "metar" not in header:
        raise BadPayload(f"unexpected IEM asos.py CSV header {lines[0][:120]!r}", url)
    idx = {h: i for i, h in enumerate(header)}
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != len(header):
            raise BadPayload(f"IEM asos.py CSV line {n} has {len(cells)} fields, header has {len(header)}", url)
        try:
            observed = datetime.strptime(cells[idx["valid"]].strip(), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        except ValueError:
            raise BadPayload(f"IEM asos.py CSV line {n}: bad time {cells[idx['valid']]!r}", url) from None
        raw = cells[idx["metar"]].strip()
        if not raw or raw.upper() == "M":
            continue
        groups = decode_metar(raw)
        overrides = {}
        if "tmpf" in idx:
            try:
                tmpf = parse_decimal(cells[idx["tmpf"]])
            except ValueError:
                tmpf = None
            overrides["temp_f"] = _f(tmpf)
        rows.append(_row(station, observed, raw, groups, source=SOURCE_IEM, fetched_at=fetched_at, overrides=overrides))
    return rows


# --------------------------------------------------------------------------- fetching


async def fetch_metar(
    http: WeatherHttp, urls: WeatherUrls, station: Station, climate_date: date, *, now: datetime
) -> list[dict]:
    """Every report inside the climate-day window: AWC while it still has them, else IEM."""
    start, end = climate_day_window(station, climate_date)
    if end >= now - AWC_RETENTION:
        params = [("ids", station.icao), ("format", "json"), ("hours", "25"), ("date", iso_z(end))]
        resp = await http.get(AWC, urls.awc.rstrip("/") + AWC_PATH, params, ok_status=frozenset({200, 204}))
        rows = parse_awc_json(resp.body, station, fetched_at=now, url=resp.url)
    else:
        params = [
            ("station", station.iem_1min),
            ("data", "tmpf,dwpf,metar"),
            ("sts", iso_z(start)),
            ("ets", iso_z(end)),
            ("tz", "UTC"),
            ("format", "onlycomma"),
            ("report_type", "3,4"),
        ]
        resp = await http.get(IEM, urls.iem.rstrip("/") + IEM_PATH, params)
        rows = parse_iem_asos_csv(resp.text, station, fetched_at=now, url=resp.url)
    return [r for r in rows if start <= r["observed_at"] < end]


async def fetch_day(
    http: WeatherHttp, urls: WeatherUrls, stations: list[Station], climate_date: date, *, now: datetime
) -> DayResult:
    rows, errors = await per_station(
        stations, lambda s: fetch_metar(http, urls, s, climate_date, now=now), f"metar {climate_date}"
    )
    return DayResult(table_from_rows(rows, SCHEMA), errors)
