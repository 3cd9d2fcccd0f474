"""Arrow schemas of every dataset the project writes (live, backfill, weather), and :func:`conform`.

The columns of each table are declared here once; :mod:`kalshi_collector.storage.catalog` says
where each table's files are, its keys and sort order. Live tables list their columns in the order
the collector hands rows over, time column first. Prices are cents and quantities contracts, both
float64, because Kalshi prices can be sub-penny and counts fractional: the exact conversion happens
once, at the edge (``kalshi.numbers``), and the store only ever sees the finished numbers.

The weather schemas live here too, not beside their fetchers: storage must be able to read (and
``query``/``status`` to describe) every table without importing the code that fetches it.

Strings are plain ``pa.string()`` in memory; the parquet writer dictionary-encodes them in the files
(``use_dictionary``), which is what keeps tickers and sides nearly free on disk while every reader
(pandas, polars, DuckDB) still sees ordinary strings.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

__all__ = [
    "TS",
    "MARKET_SNAPSHOTS",
    "ORDERBOOK_SNAPSHOTS",
    "ORDERBOOK_DELTAS",
    "TRADES_LIVE",
    "BOOK_EVENTS",
    "RAW_WS",
    "RAW_REST",
    "RAW_WS_KINDS",
    "REJECTS",
    "HISTORICAL_CANDLESTICKS",
    "HISTORICAL_TRADES",
    "ASOS_1MIN",
    "METAR",
    "DAILY_CLIMATE",
    "NO_COLUMNS",
    "ORDERBOOK_SNAPSHOTS_LEGACY",
    "conform",
    "widen",
]

TS = pa.timestamp("us", tz="UTC")
NO_COLUMNS = pa.schema([])
"""Every time column: microseconds since the epoch, UTC. Rows carry them as plain ``int``."""


def _f(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


# ---------------------------------------------------------------- live: TABLE/YYYY-MM-DD.parquet (+ TABLE/YYYY-MM-DD/part-*)

MARKET_SNAPSHOTS = pa.schema(
    [
        _f("snapshot_ts", TS, nullable=False),
        _f("event_ticker", pa.string()),
        _f("market_ticker", pa.string(), nullable=False),
        _f("subtitle", pa.string()),
        _f("yes_bid", pa.float64()),
        _f("yes_ask", pa.float64()),
        _f("last_price", pa.float64()),
        _f("volume", pa.float64()),
        _f("open_interest", pa.float64()),
        _f("trigger", pa.string()),
        _f("yes_bid_size", pa.float64()),
        _f("yes_ask_size", pa.float64()),
        _f("book_valid", pa.bool_()),
    ]
)

ORDERBOOK_SNAPSHOTS = pa.schema(
    [
        _f("snapshot_ts", TS, nullable=False),
        _f("market_ticker", pa.string(), nullable=False),
        _f("side", pa.string(), nullable=False),
        _f("price_cents", pa.float64()),
        _f("quantity", pa.float64()),
    ]
)

# Columns files of the original collector (pred_market_src/collector/storage.py) carry beside ours.
# Its order-book files mix full books (``baseline``) with changed levels only (``delta``, quantity 0 =
# level removed); ``storage.reconstruct.reconstruct_orderbooks`` rebuilds the full books.
ORDERBOOK_SNAPSHOTS_LEGACY = pa.schema([_f("snapshot_type", pa.string())])

ORDERBOOK_DELTAS = pa.schema(
    [
        _f("recv_ts", TS, nullable=False),
        _f("exchange_ts", TS),
        _f("sid", pa.int32()),
        _f("seq", pa.int64()),
        _f("market_ticker", pa.string(), nullable=False),
        _f("kind", pa.string(), nullable=False),
        # null side/price on the one row that records a snapshot of an empty book
        _f("side", pa.string()),
        _f("price_cents", pa.float64()),
        _f("quantity", pa.float64()),
        _f("conn", pa.int64()),
    ]
)

TRADES_LIVE = pa.schema(
    [
        _f("recv_ts", TS, nullable=False),
        _f("exchange_ts", TS),
        _f("trade_id", pa.string()),
        _f("market_ticker", pa.string(), nullable=False),
        _f("yes_price", pa.float64()),
        _f("no_price", pa.float64()),
        _f("count", pa.float64()),
        _f("taker_outcome_side", pa.string()),
        _f("taker_book_side", pa.string()),
        _f("is_block_trade", pa.bool_()),
        _f("sid", pa.int32()),
        _f("seq", pa.int64()),
        _f("conn", pa.int64()),  # added later: rows of older versions (files, journal) read it as null
    ]
)

BOOK_EVENTS = pa.schema(
    [
        _f("ts", TS, nullable=False),
        _f("market_ticker", pa.string()),  # null: the event concerns the whole sid
        _f("sid", pa.int32()),
        _f("expected_seq", pa.int64()),
        _f("received_seq", pa.int64()),
        _f("action", pa.string(), nullable=False),
        _f("detail", pa.string()),
        _f("recovered_ts", TS),
    ]
)

# ---------------------------------------------------------------- raw tape: what the exchange sent, as it sent it
# The derived tables above can be rebuilt from these (``kalshi-collector rebuild``); docs/schemas.md.

RAW_WS_KINDS = ("in", "out", "open", "close", "snapshot", "markets", "crosscheck", "retry")
"""``raw_ws.kind``: ``in`` a frame received (``data`` = its bytes as received), ``out`` a command we
sent (its JSON), the others a small JSON recording a state change of the collector (docs/schemas.md)."""

RAW_WS = pa.schema(
    [
        _f("recv_ts", TS, nullable=False),
        _f("n", pa.int64(), nullable=False),  # replay order: +1 per record, seeded from epoch us at the run's start
        _f("conn", pa.int64()),  # the connection id of the derived tables (0 = none open)
        _f("kind", pa.string(), nullable=False),  # RAW_WS_KINDS
        _f("data", pa.binary()),
    ]
)

RAW_REST = pa.schema(
    [
        _f("recv_ts", TS, nullable=False),
        _f("n", pa.int64(), nullable=False),
        _f("source", pa.string(), nullable=False),  # discovery, crosscheck, backfill
        _f("request", pa.string()),  # path and query
        _f("status", pa.int32()),
        _f("body", pa.binary()),
    ]
)

# An exchange record that even the tolerant decoder could not read: kept whole, with why. ``source``
# is "ws" (a WebSocket frame) or "rest:<what>" (one item of a REST page: "rest:events", "rest:markets",
# "rest:event"); ``conn`` is the WebSocket connection id (null for REST); ``raw`` the record's bytes
# exactly as received (the whole frame; for REST the item's JSON text, not the page).
REJECTS = pa.schema(
    [
        _f("recv_ts", TS, nullable=False),
        _f("source", pa.string(), nullable=False),
        _f("conn", pa.int64()),
        _f("raw", pa.binary(), nullable=False),
        _f("error", pa.string()),
    ]
)

# ---------------------------------------------------------------- backfill: historical/*/EVENT.parquet

HISTORICAL_TRADES = pa.schema(
    [
        ("timestamp", TS),
        ("event_ticker", pa.string()),
        ("market_ticker", pa.string()),
        ("trade_id", pa.string()),
        ("price", pa.float64()),
        ("count", pa.float64()),
        ("taker_side", pa.string()),
        ("no_price", pa.float64()),
        ("taker_book_side", pa.string()),
        ("is_block_trade", pa.bool_()),
    ]
)

HISTORICAL_CANDLESTICKS = pa.schema(
    [
        ("timestamp", TS),
        ("event_ticker", pa.string()),
        ("market_ticker", pa.string()),
        ("open_price", pa.float64()),
        ("close_price", pa.float64()),
        ("high_price", pa.float64()),
        ("low_price", pa.float64()),
        ("volume", pa.float64()),
        ("period_minutes", pa.int32()),
        ("yes_bid_open", pa.float64()),
        ("yes_bid_high", pa.float64()),
        ("yes_bid_low", pa.float64()),
        ("yes_bid_close", pa.float64()),
        ("yes_ask_open", pa.float64()),
        ("yes_ask_high", pa.float64()),
        ("yes_ask_low", pa.float64()),
        ("yes_ask_close", pa.float64()),
        ("open_interest", pa.float64()),
    ]
)

# ---------------------------------------------------------------- weather: weather/SOURCE/CLIMATE-DATE.parquet

ASOS_1MIN = pa.schema(
    [
        _f("station", pa.string(), nullable=False),
        _f("observed_at", TS, nullable=False),
        _f("climate_date", pa.date32(), nullable=False),
        # IEM's variables (tmpf, dwpf, sknt, drct, gust_sknt, gust_drct, pres1, precip), renamed by
        # ``weather.asos_1min.VAR_COLUMNS``
        _f("temp_f", pa.float64()),
        _f("dewpoint_f", pa.float64()),
        _f("wind_speed_kt", pa.float64()),
        _f("wind_dir_deg", pa.float64()),
        _f("gust_speed_kt", pa.float64()),
        _f("gust_dir_deg", pa.float64()),
        _f("pressure_inhg", pa.float64()),
        _f("precip_in", pa.float64()),
        _f("fetched_at", TS, nullable=False),
        _f("source", pa.string(), nullable=False),
        # added later (nullable, at the end: files written before read them as nulls)
        _f("station_name", pa.string()),  # IEM's name of the station, as in its CSV
    ]
)

METAR = pa.schema(
    [
        _f("station", pa.string(), nullable=False),
        _f("observed_at", TS, nullable=False),
        _f("climate_date", pa.date32(), nullable=False),
        _f("report_type", pa.string()),  # METAR or SPECI
        _f("temp_c", pa.float64()),  # tenths from the T-group where present, else whole °C
        _f("dewpoint_c", pa.float64()),
        _f("temp_tenths", pa.bool_()),  # temp_c came from the T-group
        _f("temp_f", pa.float64()),  # temp_c in °F, to 0.1
        _f("dewpoint_f", pa.float64()),
        _f("temp_f_whole", pa.float64()),  # the ASOS's whole-°F reading, from the T-group only
        _f("max_6h_c", pa.float64()),
        _f("min_6h_c", pa.float64()),
        _f("max_24h_c", pa.float64()),
        _f("min_24h_c", pa.float64()),
        _f("max_6h_f", pa.float64()),  # whole °F recovered from the groups above
        _f("min_6h_f", pa.float64()),
        _f("max_24h_f", pa.float64()),
        _f("min_24h_f", pa.float64()),
        _f("wind_dir_deg", pa.float64()),  # null when variable (VRB)
        _f("wind_speed_kt", pa.float64()),
        _f("wind_gust_kt", pa.float64()),
        _f("visibility_sm", pa.string()),  # as reported: "10+", "1 1/2"
        _f("weather", pa.string()),  # present weather, e.g. "-RA"
        _f("altimeter_hpa", pa.float64()),
        _f("sea_level_pressure_hpa", pa.float64()),
        _f("raw_text", pa.string(), nullable=False),
        _f("received_at", TS),  # when AWC received it (AWC only)
        _f("fetched_at", TS, nullable=False),
        _f("source", pa.string(), nullable=False),
        # added later (nullable, at the end: files written before read them as nulls)
        _f("reported_at", TS),  # AWC's reportTime: routine :53 reports are stamped the next full hour
        _f("wind_variable", pa.bool_()),  # wind direction reported as VRB
        _f("altimeter_inhg", pa.decimal128(4, 2)),  # the body's A-group as reported (A2993 -> 29.93)
        _f("cover", pa.string()),  # AWC's highest-priority sky cover (OVC, BKN, ...)
        _f("flight_category", pa.string()),  # AWC's fltCat: VFR, MVFR, IFR, LIFR
        _f("precip_6h_in", pa.decimal128(7, 4)),  # AWC's pcp6hr, inches as AWC sends them
    ]
)

DAILY_CLIMATE = pa.schema(
    [
        _f("station", pa.string(), nullable=False),
        _f("climate_date", pa.date32(), nullable=False),
        _f("high_f", pa.int16()),  # whole °F, the settlement value of KXHIGH* series
        _f("high_time", pa.string()),  # as printed: "2:41 PM" or "241 PM"
        _f("high_at", TS),  # high_time read as local standard time (approximate)
        _f("low_f", pa.int16()),  # settles KXLOW* series
        _f("low_time", pa.string()),
        _f("low_at", TS),
        _f("preliminary", pa.bool_(), nullable=False),
        _f("correction", pa.bool_(), nullable=False),
        _f("product_id", pa.string(), nullable=False),
        _f("issued_at", TS, nullable=False),
        _f("report_name", pa.string()),  # headline name, e.g. CHICAGO-MIDWAY
        _f("raw_text", pa.string()),  # the product text (null when only IEM's parse was had)
        _f("fetched_at", TS, nullable=False),
        _f("source", pa.string(), nullable=False),
        # added later (nullable, at the end: files written before read them as nulls). Whole
        # numbers as printed; amounts exact, a trace as 0.0001 (IEM's convention)
        _f("wfo", pa.string()),  # issuing office, e.g. LOT
        _f("high_record_f", pa.int16()),
        _f("high_record_years", pa.list_(pa.int16())),  # several when tied
        _f("high_normal_f", pa.int16()),
        _f("high_departure_f", pa.int16()),  # observed - normal, as printed
        _f("low_record_f", pa.int16()),
        _f("low_record_years", pa.list_(pa.int16())),
        _f("low_normal_f", pa.int16()),
        _f("low_departure_f", pa.int16()),
        _f("precip_in", pa.decimal128(8, 4)),  # the day's precipitation
        _f("snow_in", pa.decimal128(8, 4)),  # the day's snowfall
        _f("snow_depth_in", pa.decimal128(8, 4)),
        _f("avg_wind_speed_mph", pa.decimal128(6, 2)),
        _f("max_wind_speed_mph", pa.int16()),
        _f("max_wind_dir_deg", pa.int16()),
        _f("max_gust_speed_mph", pa.int16()),
        _f("max_gust_dir_deg", pa.int16()),
        _f("avg_sky_cover", pa.decimal128(6, 2)),  # fraction of the sky, 0.0 to 1.0
    ]
)


def widen(schema: pa.Schema, legacy: pa.Schema, found: Iterable[pa.Schema]) -> pa.Schema:
    """``schema`` plus every other column of the ``found`` file schemas, so that reading or
    rewriting files never drops one.

    A column of ``legacy`` (a dataset's declared optional columns, e.g. the original collector's
    ``snapshot_type``) gets its declared type; any other unknown column the type of the first file
    that has it. Columns are added at the end, in the order first seen; a column no file has is not
    added (a folder with no old file reads exactly as ``schema``).
    """
    extra: dict[str, pa.Field] = {}
    for file_schema in found:
        for fld in file_schema:
            if fld.name in extra or fld.name in schema.names:
                continue
            declared = legacy.field(fld.name) if fld.name in legacy.names else None
            extra[fld.name] = declared or pa.field(fld.name, _plain(fld.type))
    if not extra:
        return schema
    return pa.schema([*schema, *extra.values()])


def _plain(type_: pa.DataType) -> pa.DataType:
    """Dictionary-typed strings (as some writers store them) read as their plain value type."""
    return type_.value_type if pa.types.is_dictionary(type_) else type_


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order and types.

    Files written by an older version may lack a column added since (it comes back as nulls) or
    carry dictionary-typed strings; everything read is brought to the one current schema so that
    concatenating days never fails on a type mismatch. Columns of ``table`` that ``schema`` lacks are
    dropped: pass ``widen(...)`` of the files' schemas to keep them (the reader and compaction do).
    """
    if table.schema.equals(schema, check_metadata=False):
        return table.replace_schema_metadata(None)
    arrays = []
    for fld in schema:
        if fld.name in table.column_names:
            arrays.append(table.column(fld.name).cast(fld.type))
        else:
            arrays.append(pa.nulls(table.num_rows, type=fld.type))
    return pa.Table.from_arrays(arrays, schema=schema)
