"""Arrow schemas of the live tables, and what the store needs to know about each of them.

One place defines every live table: its columns (in the order the collector hands rows over), the
time column that decides which UTC day a row belongs to, and the sort order used when a finished
day is compacted. Prices are cents and quantities contracts, both float64, because Kalshi prices
can be sub-penny and counts fractional: the exact conversion happens once, at the edge
(``kalshi.numbers``), and the store only ever sees the finished numbers.

Strings are plain ``pa.string()`` in memory; the parquet writer dictionary-encodes them in the files
(``use_dictionary``), which is what keeps tickers and sides nearly free on disk while every reader
(pandas, polars, DuckDB) still sees ordinary strings.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = [
    "TS",
    "TableSpec",
    "TABLES",
    "MARKET_SNAPSHOTS",
    "ORDERBOOK_SNAPSHOTS",
    "ORDERBOOK_DELTAS",
    "TRADES_LIVE",
    "BOOK_EVENTS",
    "conform",
]

TS = pa.timestamp("us", tz="UTC")
"""Every time column: microseconds since the epoch, UTC. Rows carry them as plain ``int``."""


def _f(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


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


@dataclass(frozen=True)
class TableSpec:
    """What the store needs to know about one live table.

    ``time_column`` is always the first column, so the writer can find a row's UTC day as
    ``row[0] // DAY_US`` without looking the column up.
    """

    name: str
    schema: pa.Schema
    sort_keys: tuple[str, ...]

    @property
    def time_column(self) -> str:
        return self.schema.names[0]

    @property
    def width(self) -> int:
        return len(self.schema)

    @property
    def time_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.schema if pa.types.is_timestamp(f.type))


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("market_snapshots", MARKET_SNAPSHOTS, ("snapshot_ts", "market_ticker")),
        TableSpec(
            "orderbook_snapshots", ORDERBOOK_SNAPSHOTS, ("snapshot_ts", "market_ticker", "side", "price_cents")
        ),
        # The tape keeps arrival order: receive time first, then the stream's own sequence. The sort
        # is stable, so the levels of one snapshot message stay in the order they were received.
        TableSpec("orderbook_deltas", ORDERBOOK_DELTAS, ("recv_ts", "conn", "sid", "seq")),
        TableSpec("trades_live", TRADES_LIVE, ("recv_ts", "sid", "seq")),
        TableSpec("book_events", BOOK_EVENTS, ("ts",)),
    )
}
"""Live tables by name, in a stable order."""



def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order and types.

    Files written by an older version may lack a column added since (it comes back as nulls) or
    carry dictionary-typed strings; everything read is brought to the one current schema so that
    concatenating days never fails on a type mismatch.
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
