"""The catalog: every dataset of the data folder, declared once.

A :class:`Dataset` is everything the code needs to know about one table: its name, where its files
are (a :class:`~kalshi_collector.storage.layout.Layout` bound to its folder), its columns (from
:mod:`kalshi_collector.storage.schemas`), the key that identifies a row (when rows are
deduplicated), the sort order of its files, the time column a date range selects on, and the other
names :meth:`ParquetStorage.read_parquets` accepts for it. The live store, compaction, the reader,
``status``, ``query``, the backfill and the weather orchestrator all read their facts from here;
the pipelines that write a dataset import its declaration from storage, never the other way round.

Adding a table is one declaration below (and its columns in ``schemas.py``): see docs/recipes.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import pyarrow as pa

from kalshi_collector.storage import schemas
from kalshi_collector.storage.layout import Layout, LiveDaily, PerDay, PerEvent

__all__ = [
    "Dataset",
    "TableSpec",
    "MARKET_SNAPSHOTS",
    "ORDERBOOK_SNAPSHOTS",
    "ORDERBOOK_DELTAS",
    "TRADES_LIVE",
    "BOOK_EVENTS",
    "REJECTS",
    "RAW_WS",
    "RAW_REST",
    "RAW_TABLES",
    "CANDLESTICKS",
    "TRADES",
    "ASOS_1MIN",
    "METAR",
    "DAILY_CLIMATE",
    "DATASETS",
    "TABLES",
    "BACKFILL",
    "WEATHER",
    "READ_KINDS",
    "dataset",
]

L = TypeVar("L", bound=Layout)


@dataclass(frozen=True)
class Dataset(Generic[L]):
    """One table of the data folder. See the module docstring.

    ``key``: the columns that identify a row; writers that merge (backfill, weather) keep one row
    per key. Empty for most live tapes, which keep every row they are given; ``trades_live``
    keeps one row per ``trade_id`` (first received): compaction and the reader fold repeats
    (:mod:`~kalshi_collector.storage.dedupe`).
    ``time_column``: the column a date range selects on. For a live table it is the first column,
    whose UTC day decides the file a row goes to (the writer reads it as ``row[0]``).
    ``legacy``: optional columns that files written by other versions carry (the original
    collector's ``snapshot_type``). Nothing writes them; reading and compaction keep them, with
    this type, wherever a file has them (see :meth:`schema_for`).
    ``write_options``: parquet writer options of this dataset's compacted day files, over the
    store's defaults (``storage.compact.COMPACT_OPTIONS``): the raw tape spends more CPU once a day
    for a much smaller file. ``part_options``: the same for the live store's part files (written
    beside the read loop: kept cheap).
    ``large_values``: its last column holds whole bodies (REST pages, WebSocket frames), up to
    megabytes: the journal and the part writer pass those on by reference rather than copying
    them while holding the GIL (``storage/journal/pieces.py``).
    """

    name: str
    layout: L
    schema: pa.Schema
    time_column: str
    sort_keys: tuple[str, ...]
    key: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    legacy: pa.Schema = schemas.NO_COLUMNS
    write_options: Mapping[str, object] = field(default_factory=dict, hash=False, compare=False)
    part_options: Mapping[str, object] = field(default_factory=dict, hash=False, compare=False)
    large_values: bool = False

    def __post_init__(self) -> None:
        names = self.schema.names
        if clash := [c for c in self.legacy.names if c in names]:
            raise ValueError(f"dataset {self.name}: legacy columns {clash} are already in its schema")
        missing = [c for c in dict.fromkeys((self.time_column, *self.sort_keys, *self.key)) if c not in names]
        if missing:
            raise ValueError(f"dataset {self.name}: columns {missing} are not in its schema")
        if isinstance(self.layout, LiveDaily) and names[0] != self.time_column:
            raise ValueError(f"live table {self.name}: its time column {self.time_column} must come first")

    @property
    def folder(self) -> str:
        """The dataset's folder, relative to the data folder."""
        return self.layout.folder

    @property
    def width(self) -> int:
        """Columns in a row (live rows are tuples in schema order)."""
        return len(self.schema)

    def schema_for(self, found: Iterable[pa.Schema]) -> pa.Schema:
        """The schema that reads (or rewrites) files with schemas ``found`` without losing a column:
        the dataset's columns, then the legacy and any other extra columns those files have."""
        return schemas.widen(self.schema, self.legacy, found)


TableSpec = Dataset
"""A live table's dataset (the live store's name for it)."""


def _live(name: str, schema: pa.Schema, sort_keys: tuple[str, ...], aliases: tuple[str, ...] = (),
          legacy: pa.Schema = schemas.NO_COLUMNS, key: tuple[str, ...] = (),
          write_options: Mapping[str, object] | None = None,
          part_options: Mapping[str, object] | None = None, large_values: bool = False) -> Dataset[LiveDaily]:
    return Dataset(name, LiveDaily(name), schema, schema.names[0], sort_keys, key=key, aliases=aliases,
                   legacy=legacy, write_options=dict(write_options or {}), part_options=dict(part_options or {}),
                   large_values=large_values)


# ------------------------------------------------------------------------------- live (the collector)

MARKET_SNAPSHOTS = _live("market_snapshots", schemas.MARKET_SNAPSHOTS, ("snapshot_ts", "market_ticker"),
                         aliases=("market",))
ORDERBOOK_SNAPSHOTS = _live("orderbook_snapshots", schemas.ORDERBOOK_SNAPSHOTS,
                            ("snapshot_ts", "market_ticker", "side", "price_cents"), aliases=("orderbook",),
                            legacy=schemas.ORDERBOOK_SNAPSHOTS_LEGACY)
# The tape keeps arrival order: receive time first, then the stream's own sequence. The sort is
# stable, so the levels of one snapshot message stay in the order they were received.
ORDERBOOK_DELTAS = _live("orderbook_deltas", schemas.ORDERBOOK_DELTAS, ("recv_ts", "conn", "sid", "seq"),
                         aliases=("deltas",))
# A trade sent twice (a resent message, overlapping connections) is stored once, as first received.
TRADES_LIVE = _live("trades_live", schemas.TRADES_LIVE, ("recv_ts", "sid", "seq"), key=("trade_id",))
BOOK_EVENTS = _live("book_events", schemas.BOOK_EVENTS, ("ts",))
# What could not be decoded, raw bytes and reason (the rest of its frame or page was kept).
REJECTS = _live("rejects", schemas.REJECTS, ("recv_ts", "source"))

# The raw tape (what the exchange sent, bytes as received; the derived tables above are rebuilt
# from it by ``kalshi-collector rebuild``). Replay order is ``n``. Its frames are near-duplicates of
# each other: zstd at a high level over large pages finds the repeats (bench/bench_tape.py: ~259 B
# per order-book delta frame -> under 20 B). No dictionary for ``data``: its values never repeat.
RAW_WRITE_OPTIONS: dict[str, object] = {
    "compression_level": 12,
    "data_page_size": 8 << 20,
    "row_group_size": 4 << 20,
    "use_dictionary": ["kind"],
}
# Part files: no dictionary for the frames either (a dictionary of 100k distinct frames is only
# memory and time spent before the writer gives up on it).
RAW_PART_OPTIONS: dict[str, object] = {"use_dictionary": ["kind"]}
RAW_WS = _live("raw_ws", schemas.RAW_WS, ("n",), write_options=RAW_WRITE_OPTIONS, part_options=RAW_PART_OPTIONS,
               large_values=True)
RAW_REST = _live("raw_rest", schemas.RAW_REST, ("n",), write_options=RAW_WRITE_OPTIONS,
                 part_options=RAW_PART_OPTIONS, large_values=True)

# ------------------------------------------------------------------------------- backfill (REST history)

# A candle is stamped with its period's end (``end_period_ts``); trades with their created time.
CANDLESTICKS: Dataset[PerEvent] = Dataset(
    "candlesticks", PerEvent("historical/candlesticks"), schemas.HISTORICAL_CANDLESTICKS, "timestamp",
    sort_keys=("market_ticker", "period_minutes", "timestamp"), key=("market_ticker", "period_minutes", "timestamp"),
)
TRADES: Dataset[PerEvent] = Dataset(
    "trades", PerEvent("historical/trades"), schemas.HISTORICAL_TRADES, "timestamp",
    sort_keys=("market_ticker", "timestamp", "trade_id"), key=("trade_id",),
)

# ------------------------------------------------------------------------------- weather (per climate date)

ASOS_1MIN: Dataset[PerDay] = Dataset(
    "asos_1min", PerDay("weather/asos_1min"), schemas.ASOS_1MIN, "climate_date",
    sort_keys=("station", "observed_at"), key=("station", "observed_at"),
)
# A corrected report (COR) has the same time but other text, and is kept beside the original.
METAR: Dataset[PerDay] = Dataset(
    "metar", PerDay("weather/metar"), schemas.METAR, "climate_date",
    sort_keys=("station", "observed_at", "raw_text"), key=("station", "observed_at", "raw_text"),
)
# A later CLI version has a new product id, so it is kept beside the older ones.
DAILY_CLIMATE: Dataset[PerDay] = Dataset(
    "daily_climate", PerDay("weather/daily_climate"), schemas.DAILY_CLIMATE, "climate_date",
    sort_keys=("station", "climate_date", "issued_at", "product_id"), key=("station", "climate_date", "product_id"),
)

# ------------------------------------------------------------------------------- indexes


def _by_name(*datasets: Dataset[L]) -> dict[str, Dataset[L]]:
    return {ds.name: ds for ds in datasets}


TABLES: dict[str, Dataset[LiveDaily]] = _by_name(
    MARKET_SNAPSHOTS, ORDERBOOK_SNAPSHOTS, ORDERBOOK_DELTAS, TRADES_LIVE, BOOK_EVENTS, REJECTS, RAW_WS, RAW_REST
)
"""Live tables by name, in a stable order (the live store writes exactly these)."""
RAW_TABLES: dict[str, Dataset[LiveDaily]] = _by_name(RAW_WS, RAW_REST)
"""The raw tape's tables (the rest of ``TABLES`` is derived from them: ``kalshi-collector rebuild``)."""
BACKFILL: dict[str, Dataset[PerEvent]] = _by_name(CANDLESTICKS, TRADES)
WEATHER: dict[str, Dataset[PerDay]] = _by_name(ASOS_1MIN, METAR, DAILY_CLIMATE)
"""Weather datasets by source name (``weather/SOURCE/``)."""
DATASETS: dict[str, Dataset] = {**TABLES, **BACKFILL, **WEATHER}
"""Every dataset by name, in the order docs and ``query`` list them."""


def _read_kinds(datasets: Mapping[str, Dataset]) -> dict[str, Dataset]:
    kinds: dict[str, Dataset] = {alias: ds for ds in datasets.values() for alias in ds.aliases}
    for name, ds in datasets.items():
        if name in kinds:
            raise ValueError(f"dataset name {name} is already an alias of {kinds[name].name}")
        kinds[name] = ds
    return kinds


READ_KINDS: dict[str, Dataset] = _read_kinds(DATASETS)
"""Every kind :meth:`ParquetStorage.read_parquets` accepts: the aliases, then every dataset name."""


def dataset(kind: str) -> Dataset:
    """The dataset a name or alias stands for; a clear error listing the valid ones otherwise."""
    try:
        return READ_KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {', '.join(READ_KINDS)}") from None
