"""The original collector's weather columns and where each one lives here, declared once.

The original wrote ``weather_obs/<folder>/<ICAO>_<YYYY-MM-DD>.parquet`` (one file per station and
UTC date) with the columns below; the migration (:mod:`.weather_rows`) rebuilds each row through
our own fetchers' code from them, and the table in docs/weather.md is rendered from here
(:func:`mapping_markdown`; a test keeps the two equal).

``wire``: the field of the service's answer the original copied the column from (the AWC JSON key,
IEM's variable or CLI JSON key). The migration puts the value back under that name and hands the
rebuilt answer to our parser, so a migrated row is what our fetcher would have made of the same
answer. Columns with no ``wire`` are documented only: derived from others, or facts of the
station that live in the registry (``weather/stations.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OriginalColumn", "OriginalFolder", "ORIGINAL_FOLDERS", "mapping_markdown"]


@dataclass(frozen=True, slots=True)
class OriginalColumn:
    name: str
    ours: tuple[str, ...]  # our columns it lands in; empty: no counterpart
    note: str = ""  # how it is converted, or why it has no counterpart
    wire: str | None = None


@dataclass(frozen=True, slots=True)
class OriginalFolder:
    """One ``weather_obs/<folder>/`` of the original and the dataset its rows go to."""

    folder: str
    dataset: str
    source: str  # the ``source`` value of migrated rows
    columns: tuple[OriginalColumn, ...]
    note: str = ""

    @property
    def wire(self) -> dict[str, str]:
        """Original column -> the service's field name, for the columns the rows are rebuilt from."""
        return {c.name: c.wire for c in self.columns if c.wire}

    @property
    def known(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns)


def _c(name: str, ours: str | tuple[str, ...] = (), note: str = "", wire: str | None = None) -> OriginalColumn:
    return OriginalColumn(name, (ours,) if isinstance(ours, str) else ours, note, wire)


_REGISTRY = "the station's entry in the registry (`weather/stations.py`)"
_LOCAL = "the UTC time on the station's DST clock, naive; derivable from the UTC column and `Station.tz`"
_REDECODED = "decoded again from the raw report; the stored value fills in only where the report has no group"
_LATER = "(written by later versions of the original)"

ASOS_1MIN = OriginalFolder(
    "asos_1min", "asos_1min", "original_iem_asos1min",
    (
        _c("station", "station", "ICAO id (also the file name's)"),
        _c("station_iata", note=f"IEM's id: {_REGISTRY} (`Station.iem_1min`)"),
        _c("station_name", "station_name", "IEM's name of the station", wire="station_name"),
        _c("valid_utc", "observed_at", "ns -> us; `climate_date` is computed from it (LST day)"),
        _c("tmpf", "temp_f", "any IEM variable the original asked for is renamed the same way "
           "(`sknt`, `drct`, `gust_sknt`, `gust_drct`, `pres1`, `precip`)", wire="tmpf"),
        _c("dwpf", "dewpoint_f", wire="dwpf"),
        _c("city", note=f"{_REGISTRY} {_LATER}"),
        _c("timezone", note=f"{_REGISTRY} {_LATER}"),
        _c("valid_local", note=f"{_LOCAL} {_LATER}"),
    ),
)

METAR = OriginalFolder(
    "metar", "metar", "original_awc",
    (
        _c("station", "station", "ICAO id", wire="icaoId"),
        _c("valid_utc", "reported_at", "AWC `reportTime` (a routine :53 report is stamped the next hour); "
           "`observed_at` is the report's own DDHHMMZ time near it", wire="reportTime"),
        _c("metar_type", "report_type", wire="metarType"),
        _c("temp_c", "temp_c", _REDECODED, wire="temp"),
        _c("dewp_c", "dewpoint_c", _REDECODED, wire="dewp"),
        _c("temp_f", "temp_f", "recomputed from °C with exact decimals"),
        _c("dewp_f", "dewpoint_f", "recomputed from °C with exact decimals"),
        _c("wdir", ("wind_dir_deg", "wind_variable"), "`VRB` -> null direction, `wind_variable` true", wire="wdir"),
        _c("wspd_kt", "wind_speed_kt", wire="wspd"),
        _c("visibility_sm", "visibility_sm", "a string as AWC sends it (`10+`); the original's float lost `10+`",
           wire="visib"),
        _c("altimeter_inhg", "altimeter_hpa", "AWC's `altim`, hPa since AWC's 2025 change despite the name; "
           "our `altimeter_inhg` is the report's A-group", wire="altim"),
        _c("slp_mb", "sea_level_pressure_hpa", wire="slp"),
        _c("wx_string", "weather", wire="wxString"),
        _c("cover", "cover", wire="cover"),
        _c("flt_cat", "flight_category", wire="fltCat"),
        _c("max_temp_6hr_c", "max_6h_c", _REDECODED, wire="maxT"),
        _c("min_temp_6hr_c", "min_6h_c", _REDECODED, wire="minT"),
        _c("max_temp_24hr_c", "max_24h_c", _REDECODED, wire="maxT24"),
        _c("min_temp_24hr_c", "min_24h_c", _REDECODED, wire="minT24"),
        _c("max_temp_6hr_f", "max_6h_f", "ours is the whole °F the station read; the original's 0.1 °F is "
           "`max_6h_c * 9/5 + 32`"),
        _c("min_temp_6hr_f", "min_6h_f", "as above"),
        _c("max_temp_24hr_f", "max_24h_f", "as above"),
        _c("min_temp_24hr_f", "min_24h_f", "as above"),
        _c("precip_6hr_in", "precip_6h_in", wire="pcp6hr"),
        _c("raw_ob", "raw_text", wire="rawOb"),
        _c("station_iata", note=f"{_REGISTRY} {_LATER}"),
        _c("city", note=f"{_REGISTRY} {_LATER}"),
        _c("timezone", note=f"{_REGISTRY} {_LATER}"),
        _c("valid_local", note=f"{_LOCAL} {_LATER}"),
    ),
)

LDM_SURFACE = OriginalFolder(
    "ldm_surface", "metar", "original_ldm",
    (
        _c("station", "station", "ICAO id"),
        _c("valid_utc", "observed_at", "the report's time", wire="obsTime"),
        _c("metar_type", "report_type", wire="metarType"),
        _c("raw_ob", "raw_text", "every other column is decoded again from it", wire="rawOb"),
        _c("temp_c", "temp_c", "decoded from `raw_ob`"),
        _c("dewp_c", "dewpoint_c", "decoded from `raw_ob`"),
        _c("temp_f", "temp_f", "decoded from `raw_ob`"),
        _c("dewp_f", "dewpoint_f", "decoded from `raw_ob`"),
        _c("wdir", ("wind_dir_deg", "wind_variable"), "decoded from `raw_ob`"),
        _c("wspd_kt", "wind_speed_kt", "decoded from `raw_ob`"),
        _c("gust_kt", "wind_gust_kt", "decoded from `raw_ob`"),
        _c("visibility_sm", "visibility_sm", "decoded from `raw_ob` (as reported: `1 1/2`)"),
        _c("altimeter_inhg", "altimeter_inhg", "decoded from `raw_ob`"),
        _c("slp_mb", "sea_level_pressure_hpa", "decoded from `raw_ob`"),
        _c("ingest_ts", "fetched_at"),
        _c("source", "source", "`original_ldm`"),
    ),
    note="the LDM feed of later versions; its reports join the other METARs",
)

DAILY_CLIMATE = OriginalFolder(
    "daily_climate", "daily_climate", "original_iem_cli_json",
    (
        _c("station", "station", "ICAO id"),
        _c("valid_date", "climate_date", "the report's climate date (the file name's date where missing)",
           wire="valid"),
        _c("cli_product_id", "product_id", "`issued_at`, `preliminary` and `correction` follow from it",
           wire="product"),
        _c("city_name", "report_name", "IEM's name of the CLI station", wire="name"),
        _c("cli_city_name", "report_name", f"the same {_LATER}", wire="name"),
        _c("wfo", "wfo", wire="wfo"),
        _c("high_f", "high_f", wire="high"),
        _c("low_f", "low_f", wire="low"),
        _c("high_time", ("high_time", "high_at"), "`high_at`: the time read as LST, in UTC", wire="high_time"),
        _c("low_time", ("low_time", "low_at"), "`low_at`: the time read as LST, in UTC", wire="low_time"),
        _c("high_normal", "high_normal_f", wire="high_normal"),
        _c("high_depart", "high_departure_f", wire="high_depart"),
        _c("high_record", "high_record_f", wire="high_record"),
        _c("high_record_years", "high_record_years", "the original's text `[1999]` -> a list of years",
           wire="high_record_years"),
        _c("low_normal", "low_normal_f", wire="low_normal"),
        _c("low_depart", "low_departure_f", wire="low_depart"),
        _c("low_record", "low_record_f", wire="low_record"),
        _c("low_record_years", "low_record_years", "as above", wire="low_record_years"),
        _c("precip_in", "precip_in", "exact decimal; the original stored a trace as 0.0, so it stays 0",
           wire="precip"),
        _c("snow_in", "snow_in", "as above", wire="snow"),
        _c("snowdepth_in", "snow_depth_in", wire="snowdepth"),
        _c("avg_wind_speed", "avg_wind_speed_mph", wire="average_wind_speed"),
        _c("highest_wind_speed", "max_wind_speed_mph", wire="highest_wind_speed"),
        _c("highest_gust_speed", "max_gust_speed_mph", wire="highest_gust_speed"),
        _c("avg_sky_cover", "avg_sky_cover", wire="average_sky_cover"),
        _c("valid_utc", note="midnight UTC of `valid_date`: a placeholder the original's dedupe needed"),
        _c("station_iata", note=f"{_REGISTRY} {_LATER}"),
        _c("city", note=f"{_REGISTRY} {_LATER}"),
        _c("timezone", note=f"{_REGISTRY} {_LATER}"),
        _c("high_time_local", note=f"`high_time` as a naive local clock time; ours is `high_at` {_LATER}"),
        _c("low_time_local", note=f"`low_time` as a naive local clock time; ours is `low_at` {_LATER}"),
    ),
)

ORIGINAL_FOLDERS: dict[str, OriginalFolder] = {f.folder: f for f in (ASOS_1MIN, METAR, LDM_SURFACE, DAILY_CLIMATE)}
"""Every ``weather_obs/<folder>/`` the migration reads, by folder name."""


def mapping_markdown() -> str:
    """The mapping as the table docs/weather.md shows (one row per original column)."""
    lines = ["| original file | original column | ours | how / why |", "|---|---|---|---|"]
    for folder in ORIGINAL_FOLDERS.values():
        for column in folder.columns:
            ours = ", ".join(f"`{folder.dataset}.{c}`" for c in column.ours) if column.ours else "—"
            lines.append(f"| `weather_obs/{folder.folder}/` | `{column.name}` | {ours} | {column.note} |")
    return "\n".join(lines)
