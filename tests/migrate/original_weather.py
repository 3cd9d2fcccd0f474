"""Weather files exactly as the original collector wrote them, built from the reference payloads.

The original (its README is shared/reference/original-design.md) turned each service's answer
into a pandas DataFrame and wrote it with ``DataFrame.to_parquet(index=False)`` to
``weather_obs/<folder>/<ICAO>_<YYYY-MM-DD>.parquet``; the date is a UTC date (for the CLI, the
report's date). The builders below reproduce its columns, their order and their pandas dtypes
(so the parquet types: ``timestamp[ns, tz=UTC]``, float64 with NaN for missing numbers, int64,
strings with ``""`` for missing text, a ``date32`` CLI date, record years as the text of a
list), as its version described in the README wrote them; ``later=True`` adds the columns its
later versions added (station_iata, city, timezone, *_local).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CITY = {"KMDW": ("MDW", "Chicago", "America/Chicago")}


def _path(root: Path, folder: str, icao: str, day: date) -> Path:
    path = root / "weather_obs" / folder / f"{icao}_{day.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    """``df.to_parquet(path, index=False)`` as the original's pandas 2 wrote it: text columns as
    ``string`` and times in nanoseconds (pandas 3, which the tests may run, would write
    ``large_string`` and microseconds)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    fields = []
    for f in table.schema:
        if pa.types.is_large_string(f.type):
            f = f.with_type(pa.string())
        elif pa.types.is_timestamp(f.type):
            f = f.with_type(pa.timestamp("ns", f.type.tz))
        fields.append(f)
    pq.write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), path)


def _c_to_f(celsius: float | None) -> float | None:
    return None if celsius is None else round(celsius * 9.0 / 5.0 + 32.0, 1)


def write_asos_1min(root: Path, icao: str, day: date, csv_text: str, *, variables: Iterable[str] = ("tmpf", "dwpf"),
                    later: bool = False) -> Path:
    """The IEM CSV read by pandas: ``valid(UTC)`` -> ``valid_utc`` (UTC), ``station`` ->
    ``station_iata``, the ICAO added as ``station``, variables coerced to numbers (``M`` -> NaN)."""
    variables = list(variables)
    df = pd.read_csv(io.StringIO(csv_text))
    df = df[["station", "station_name", "valid(UTC)", *variables]]
    df = df.rename(columns={"valid(UTC)": "valid_utc", "station": "station_iata"})
    df["valid_utc"] = pd.to_datetime(df["valid_utc"], utc=True)
    df["station"] = icao
    if later:
        _, city, tz = CITY[icao]
        df["city"], df["timezone"] = city, tz
        df["valid_local"] = df["valid_utc"].dt.tz_convert(tz).dt.tz_localize(None)
    for v in variables:
        df[v] = pd.to_numeric(df[v], errors="coerce")
    path = _path(root, "asos_1min", icao, day)
    _to_parquet(df, path)
    return path


def metar_rows(items: list[dict], icao: str) -> list[dict]:
    """AWC JSON reports as the original's rows (``valid_utc`` = ``reportTime``)."""
    def num(v: object) -> float | None:
        try:
            return None if v is None else float(v)
        except (TypeError, ValueError):
            return None

    rows = []
    for obs in items:
        rows.append({
            "station": icao,
            "valid_utc": pd.to_datetime(obs.get("reportTime"), utc=True),
            "metar_type": obs.get("metarType", ""),
            "temp_c": obs.get("temp"),
            "dewp_c": obs.get("dewp"),
            "temp_f": _c_to_f(obs.get("temp")),
            "dewp_f": _c_to_f(obs.get("dewp")),
            "wdir": "" if obs.get("wdir") is None else str(obs.get("wdir")),
            "wspd_kt": num(obs.get("wspd")),
            "visibility_sm": num(obs.get("visib")),  # AWC's "10+" is no float: lost
            "altimeter_inhg": num(obs.get("altim")),
            "slp_mb": num(obs.get("slp")),
            "wx_string": obs.get("wxString", ""),
            "cover": obs.get("cover", ""),
            "flt_cat": obs.get("fltCat", ""),
            "max_temp_6hr_c": obs.get("maxT"),
            "min_temp_6hr_c": obs.get("minT"),
            "max_temp_6hr_f": _c_to_f(obs.get("maxT")),
            "min_temp_6hr_f": _c_to_f(obs.get("minT")),
            "max_temp_24hr_c": obs.get("maxT24"),
            "min_temp_24hr_c": obs.get("minT24"),
            "max_temp_24hr_f": _c_to_f(obs.get("maxT24")),
            "min_temp_24hr_f": _c_to_f(obs.get("minT24")),
            "precip_6hr_in": obs.get("pcp6hr"),
            "raw_ob": obs.get("rawOb", ""),
        })
    return rows


def write_metar(root: Path, icao: str, day: date, items: list[dict], *, later: bool = False) -> Path:
    """The reports whose ``reportTime`` falls on the UTC ``day``, sorted by it."""
    rows = [r for r in metar_rows(items, icao) if r["valid_utc"].date() == day]
    df = pd.DataFrame(rows).sort_values("valid_utc").reset_index(drop=True)
    if later:
        iata, city, tz = CITY[icao]
        df.insert(1, "station_iata", iata)
        df.insert(2, "city", city)
        df.insert(3, "timezone", tz)
        df.insert(5, "valid_local", df["valid_utc"].dt.tz_convert(tz).dt.tz_localize(None))
    path = _path(root, "metar", icao, day)
    _to_parquet(df, path)
    return path


def write_daily_climate(root: Path, icao: str, record: dict, *, later: bool = False) -> Path:
    """One IEM ``/json/cli.py`` record as the original's row (``M`` -> None, a trace ``T`` -> 0.0)."""
    def as_int(v: object) -> int | None:
        try:
            return None if v in (None, "M") else int(v)
        except (TypeError, ValueError):
            return None

    def as_float(v: object) -> float | None:
        if v in (None, "M"):
            return None
        return 0.0 if v == "T" else float(v)

    row = {"station": icao}
    if later:
        iata, city, tz = CITY[icao]
        row.update(station_iata=iata, city=city, timezone=tz)
    row.update({
        "valid_date": record["valid"],
        ("cli_city_name" if later else "city_name"): record.get("name", ""),
        "wfo": record.get("wfo", ""),
        "high_f": as_int(record.get("high")),
        "low_f": as_int(record.get("low")),
        "high_time": record.get("high_time", ""),
        "low_time": record.get("low_time", ""),
    })
    if later:
        row["high_time_local"] = pd.Timestamp(f"{record['valid']} 14:41")
        row["low_time_local"] = pd.Timestamp(f"{record['valid']} 06:52")
    row.update({
        "high_normal": as_int(record.get("high_normal")),
        "high_depart": as_int(record.get("high_depart")),
        "high_record": as_int(record.get("high_record")),
        "high_record_years": str(record.get("high_record_years", [])),
        "low_normal": as_int(record.get("low_normal")),
        "low_depart": as_int(record.get("low_depart")),
        "low_record": as_int(record.get("low_record")),
        "low_record_years": str(record.get("low_record_years", [])),
        "precip_in": as_float(record.get("precip")),
        "snow_in": as_float(record.get("snow")),
        "snowdepth_in": as_float(record.get("snowdepth")),
        "avg_wind_speed": as_float(record.get("average_wind_speed")),
        "highest_wind_speed": as_int(record.get("highest_wind_speed")),
        "highest_gust_speed": as_int(record.get("highest_gust_speed")),
        "avg_sky_cover": as_float(record.get("average_sky_cover")),
        "cli_product_id": record.get("product", ""),
    })
    df = pd.DataFrame([row])
    df["valid_date"] = pd.to_datetime(df["valid_date"]).dt.date
    df["valid_utc"] = pd.to_datetime(df["valid_date"]).dt.tz_localize("UTC")
    path = _path(root, "daily_climate", icao, date.fromisoformat(record["valid"]))
    _to_parquet(df, path)
    return path


def write_ldm_surface(root: Path, icao: str, day: date, reports: list[tuple[str, str]]) -> Path:
    """The LDM feed's rows: (obs time ISO, raw report); only the columns the migration needs
    beside the raw text are filled realistically, the rest as its decoder left them."""
    rows = []
    for when, raw in reports:
        rows.append({
            "station": icao, "valid_utc": pd.Timestamp(when, tz="UTC"), "metar_type": raw.split()[0],
            "temp_c": None, "dewp_c": None, "temp_f": None, "dewp_f": None, "wdir": None, "wspd_kt": None,
            "gust_kt": None, "visibility_sm": None, "altimeter_inhg": None, "slp_mb": None, "raw_ob": raw,
            "ingest_ts": pd.Timestamp(when, tz="UTC") + pd.Timedelta(seconds=30), "source": "ldm",
        })
    df = pd.DataFrame(rows)
    path = _path(root, "ldm_surface", icao, day)
    _to_parquet(df, path)
    return path
