"""Backfill files on disk: the two per-event tables, per-market checkpoints, staged parts.

Layout under ``<data_dir>/historical/`` (the two tables are declared in :mod:`kalshi_collector.storage.catalog`)::

    candlesticks/EVENT.parquet          the result (read by ParquetStorage.read_parquets("candlesticks"))
    trades/EVENT.parquet                the result (read_parquets("trades"))
    _backfill/.lock                     one backfill per data folder at a time (flock)
    _backfill/EVENT/manifest.json       the event's markets (tiers, life spans); reused when final
    _backfill/EVENT/MARKET.json         checkpoint: time ranges of trades / candles already on disk
    _backfill/EVENT/parts/*.parquet     rows fetched but not yet merged into the event files

Crash safety, step by step (every write is temp file + fsync + rename, ``storage.atomic``):

1. Fetched rows are written as a new part file, *then* the market's checkpoint is replaced to
   claim their time range. A crash between the two leaves rows the checkpoint does not claim: the
   range is fetched again and the duplicates are dropped at merge (trades by ``trade_id``, candles
   by market, period and timestamp). A crash before the part is renamed leaves only a hidden temp
   file, removed on the next run.
2. The event files are rebuilt from (old event file + every part), deduplicated and sorted, and
   renamed over the old ones; only then are the merged parts deleted. A crash in between merges
   the same parts again, with the same result.

So a checkpoint never claims rows that are not on disk, and no row is ever written twice into an
event file: a run killed at any point and run again ends with the same files as a clean run.

Object-store data folder (``storage.data_dir: s3://bucket/prefix``): the event files go to the
store through :mod:`kalshi_collector.storage.fs` (written to a local temp file, then uploaded as one
object: a PUT is atomic, so readers see the old file or the new one). The working state — lock,
manifests, checkpoints, parts, i.e. everything ``_backfill/`` holds on disk — needs ``flock``,
``fsync`` and ``rename``, so it stays on local disk in
:func:`~kalshi_collector.storage.fs.default_state_dir` ``(data_dir, "backfill")``. The steps above
are unchanged (the upload takes the place of the rename), so the guarantees are too. Losing that
local folder loses nothing stored: the next run fetches again and the merge drops the duplicates.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kalshi_collector.backfill.intervals import Interval, normalize
from kalshi_collector.backfill.plan import MarketInfo
from kalshi_collector.kalshi.models import Candlestick, Trade
from kalshi_collector.kalshi.trade_columns import TradeColumns
from kalshi_collector.storage.atomic import atomic_write_bytes, atomic_write_parquet
from kalshi_collector.storage.catalog import BACKFILL, CANDLESTICKS, TRADES, Dataset
from kalshi_collector.storage.fs import LocalFS, default_state_dir, is_object_store_url, open_data_dir
from kalshi_collector.storage.layout import PerEvent
from kalshi_collector.storage.schemas import TS, conform

__all__ = [
    "TRADES_SCHEMA",
    "CANDLES_SCHEMA",
    "MarketCheckpoint",
    "EventManifest",
    "BackfillStore",
    "BackfillLocked",
    "trades_table",
    "trades_table_from_columns",
    "candles_table",
    "merge_tables",
]

log = logging.getLogger(__name__)

STATE_FOLDER = "historical/_backfill"
"""The working state's default folder in a local data folder (relative to it)."""

# The two tables are declared in the storage catalog (folder, schema, key, sort order).
TRADES_SCHEMA = TRADES.schema
CANDLES_SCHEMA = CANDLESTICKS.schema
_TABLES: tuple[Dataset[PerEvent], ...] = (TRADES, CANDLESTICKS)


# ----------------------------------------------------------------------------------- row building


def trades_table(event_ticker: str, trades: Sequence[Trade]) -> pa.Table:
    """Trades as stored: ``price`` = yes price in cents, ``count`` in contracts (already exact)."""
    n = len(trades)
    return pa.table(
        [
            pa.array([t.created_time for t in trades], TS),
            pa.array([event_ticker] * n, pa.string()),
            pa.array([t.ticker for t in trades], pa.string()),
            pa.array([t.trade_id for t in trades], pa.string()),
            pa.array([t.yes_price for t in trades], pa.float64()),
            pa.array([t.count for t in trades], pa.float64()),
            pa.array([t.taker_side for t in trades], pa.string()),
            pa.array([t.no_price for t in trades], pa.float64()),
            pa.array([t.taker_book_side for t in trades], pa.string()),
            pa.array([t.is_block_trade for t in trades], pa.bool_()),
        ],
        schema=TRADES_SCHEMA,
    )


def trades_table_from_columns(event_ticker: str, cols: TradeColumns) -> pa.Table:
    """A page decoded as columns (``kalshi.trade_columns``) as stored: same table as
    :func:`trades_table`, without a Python object per trade."""
    return pa.table(
        [cols.created_time, pa.repeat(pa.scalar(event_ticker, pa.string()), cols.num_rows), cols.ticker, cols.trade_id,
         cols.yes_price, cols.count, cols.taker_side, cols.no_price, cols.taker_book_side, cols.is_block_trade],
        schema=TRADES_SCHEMA,
    )


def candles_table(event_ticker: str, market_ticker: str, period_minutes: int, candles: Sequence[Candlestick]) -> pa.Table:
    """Candles as stored: ``timestamp`` = ``end_period_ts`` (the period's inclusive end)."""
    n = len(candles)

    def col(name: str) -> pa.Array:
        return pa.array([getattr(c, name) for c in candles], pa.float64())

    return pa.table(
        [
            pa.array([c.end_period_ts * 1_000_000 for c in candles], pa.int64()).cast(TS),
            pa.array([event_ticker] * n, pa.string()),
            pa.array([market_ticker] * n, pa.string()),
            col("open_price"),
            col("close_price"),
            col("high_price"),
            col("low_price"),
            col("volume"),
            pa.array([period_minutes] * n, pa.int32()),
            col("yes_bid_open"),
            col("yes_bid_high"),
            col("yes_bid_low"),
            col("yes_bid_close"),
            col("yes_ask_open"),
            col("yes_ask_high"),
            col("yes_ask_low"),
            col("yes_ask_close"),
            col("open_interest"),
        ],
        schema=CANDLES_SCHEMA,
    )


def merge_tables(tables: Sequence[pa.Table], schema: pa.Schema, key: Sequence[str], sort: Sequence[str]) -> pa.Table:
    """Concatenate, keep the *last* row of each key (later tables are fresher), sort.

    Each table is conformed to ``schema``: a file of an older version (the original collector's)
    lacks the columns added since, which read as nulls; pass ``Dataset.schema_for`` of the files'
    schemas to keep the columns such a file has beyond ours."""
    tables = [conform(t, schema) for t in tables if t.num_rows]
    if not tables:
        return schema.empty_table()
    merged = pa.concat_tables(tables).combine_chunks()
    merged = merged.append_column("__row", pa.array(np.arange(merged.num_rows, dtype=np.int64)))  # range(): 20x slower
    keep = merged.group_by(list(key), use_threads=False).aggregate([("__row", "max")])["__row_max"]
    if len(keep) != merged.num_rows:
        merged = merged.take(keep)
    merged = merged.drop_columns(["__row"])
    return merged.take(pc.sort_indices(_ranked(merged, sort), sort_keys=[(c, "ascending") for c in sort]))


def _ranked(table: pa.Table, sort: Sequence[str]) -> pa.Table:
    """The sort columns, each string one but the last as the rank of its value (same order, nulls
    still last). A multi-key sort compares a string key row by row; an event's few market tickers
    as integers sort 2-3x faster (bench/bench_rest_pages.py). The last key is left as it is: it
    only breaks ties, and ranking unique values (trade ids) would cost more than it saves."""
    cols = {}
    for i, name in enumerate(sort):
        col = table[name]
        if i < len(sort) - 1 and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            enc = pc.dictionary_encode(col.combine_chunks())
            ranks = np.empty(len(enc.dictionary), np.int32)
            ranks[np.asarray(pc.sort_indices(enc.dictionary))] = np.arange(len(enc.dictionary), dtype=np.int32)
            col = pa.array(ranks).take(enc.indices)
        cols[name] = col
    return pa.table(cols)


# ---------------------------------------------------------------------------- checkpoint records


class MarketCheckpoint(msgspec.Struct, kw_only=True):
    """Time ranges of a market already on disk: trades by created time, candles by period start."""

    version: int = 1
    market_ticker: str
    event_ticker: str
    trades: list[Interval] = msgspec.field(default_factory=list)
    candles: dict[str, list[Interval]] = msgspec.field(default_factory=dict)  # period minutes -> ranges

    def candle_cover(self, period_minutes: int) -> list[Interval]:
        return list(self.candles.get(str(period_minutes), []))

    def add(self, *, trades: Sequence[Interval] = (), candles: Sequence[Interval] = (), period_minutes: int = 0) -> None:
        if trades:
            self.trades = normalize([*self.trades, *trades])
        if candles:
            key = str(period_minutes)
            self.candles[key] = normalize([*self.candles.get(key, []), *candles])


class EventManifest(msgspec.Struct, kw_only=True):
    """An event's markets. ``final`` once every market is finalized: the list cannot change any
    more, so a later run reuses it without asking the exchange."""

    version: int = 1
    event_ticker: str
    final: bool
    markets: list[MarketInfo]


_FINAL_STATUSES = frozenset({"finalized", "settled"})


def is_final(markets: Sequence[MarketInfo]) -> bool:
    return bool(markets) and all(m.status in _FINAL_STATUSES for m in markets)


# ------------------------------------------------------------------------------------------ store


class BackfillLocked(Exception):
    """Another backfill holds this data folder."""


class BackfillStore:
    """The backfill's files: event files under ``<data_dir>/historical/`` (local or object store),
    working state in ``work_dir`` (always local; default: ``historical/_backfill`` for a local data
    folder, :func:`~kalshi_collector.storage.fs.default_state_dir` for an object store)."""

    def __init__(self, data_dir: str | os.PathLike[str], *, work_dir: str | os.PathLike[str] | None = None) -> None:
        self.data_dir = os.fspath(data_dir)
        self.fs, self.data_root = open_data_dir(data_dir)
        if work_dir is not None:
            self.work = Path(work_dir)
        elif is_object_store_url(data_dir):
            self.work = default_state_dir(data_dir, "backfill")
        else:
            self.work = Path(self.data_root) / STATE_FOLDER

    # ---- paths
    def event_file(self, kind: str, event_ticker: str) -> PurePath:
        """Where the event's file of ``kind`` (``trades``, ``candlesticks``) is: a ``Path`` on local
        disk, the store's key for an object store."""
        return BACKFILL[kind].layout.event_file(self.data_root, event_ticker)

    def _event_dir(self, event_ticker: str) -> Path:
        return self.work / event_ticker

    def _parts_dir(self, event_ticker: str) -> Path:
        return self._event_dir(event_ticker) / "parts"

    # ---- lock
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Two backfills writing the same files would each merge without the other's parts."""
        self.work.mkdir(parents=True, exist_ok=True)
        fh = open(self.work / ".lock", "a+")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackfillLocked(f"another backfill is running on {self.data_dir}") from None
            yield
        finally:
            fh.close()

    # ---- manifests and checkpoints
    def load_manifest(self, event_ticker: str) -> EventManifest | None:
        return self._load(self._event_dir(event_ticker) / "manifest.json", EventManifest)

    def save_manifest(self, manifest: EventManifest) -> None:
        atomic_write_bytes(self._event_dir(manifest.event_ticker) / "manifest.json", msgspec.json.encode(manifest))

    def load_checkpoint(self, event_ticker: str, market_ticker: str) -> MarketCheckpoint:
        cp = self._load(self._event_dir(event_ticker) / f"{market_ticker}.json", MarketCheckpoint)
        return cp or MarketCheckpoint(market_ticker=market_ticker, event_ticker=event_ticker)

    @staticmethod
    def _load(path: Path, into: type[msgspec.Struct]):  # type: ignore[no-untyped-def]
        try:
            return msgspec.json.decode(path.read_bytes(), type=into)
        except FileNotFoundError:
            return None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # Only ever written atomically, so this is outside damage: refetching is always safe.
            log.warning("ignoring unreadable %s (%s); its data will be fetched again", path, exc)
            return None

    def commit(
        self,
        checkpoint: MarketCheckpoint,
        *,
        trades: pa.Table | None = None,
        candles: pa.Table | None = None,
    ) -> None:
        """Stage one market's rows, then advance its checkpoint."""
        self.commit_batch([(checkpoint, trades, candles)])

    def commit_batch(self, items: Sequence[tuple[MarketCheckpoint, pa.Table | None, pa.Table | None]]) -> None:
        """Stage the rows of several markets (one part per event and kind), *then* write their
        checkpoints: no checkpoint of the batch is written before every part of it is durable."""
        stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        by_event: dict[str, dict[str, list[pa.Table]]] = {}
        for cp, trades, candles in items:
            kinds = by_event.setdefault(cp.event_ticker, {TRADES.name: [], CANDLESTICKS.name: []})
            for kind, table in ((TRADES.name, trades), (CANDLESTICKS.name, candles)):
                if table is not None and table.num_rows:
                    kinds[kind].append(table)
        for event, kinds in by_event.items():
            for kind, tables in kinds.items():
                if tables:
                    atomic_write_parquet(self._parts_dir(event) / f"{kind}-{stamp}.parquet", pa.concat_tables(tables))
        for cp, _, _ in items:
            atomic_write_bytes(self._event_dir(cp.event_ticker) / f"{cp.market_ticker}.json", msgspec.json.encode(cp))

    # ---- event files
    def has_parts(self, event_ticker: str) -> bool:
        d = self._parts_dir(event_ticker)
        return d.is_dir() and any(d.glob("[!.]*.parquet"))

    def assemble(self, event_ticker: str) -> dict[str, int]:
        """Merge staged parts into the event files; returns the rows now in each touched file."""
        self._remove_stale_temps(event_ticker)
        rows: dict[str, int] = {}
        parts_dir = self._parts_dir(event_ticker)
        for table in _TABLES:
            parts = sorted(parts_dir.glob(f"{table.name}-*.parquet")) if parts_dir.is_dir() else []
            if not parts:
                continue
            target = table.layout.event_file(self.data_root, event_ticker)
            tables = [self.fs.read_table(target)] if self.fs.isfile(target) else []
            tables += [pq.read_table(p) for p in parts]
            merged = merge_tables(tables, table.schema_for(t.schema for t in tables), table.key, table.sort_keys)
            self.fs.write_parquet(target, merged)  # local: temp + fsync + rename; object store: one PUT
            for p in parts:
                p.unlink(missing_ok=True)
            rows[table.name] = merged.num_rows
        return rows

    def _remove_stale_temps(self, event_ticker: str) -> None:
        """Temp files of a killed run (hidden names, never read as data). An object store has none:
        its uploads are staged in a local temp folder that is gone with the process."""
        folders = [(self._event_dir(event_ticker), ".*.tmp"), (self._parts_dir(event_ticker), ".*.tmp")]
        if isinstance(self.fs, LocalFS):
            folders += [(Path(table.layout.path(self.data_root)), f".{event_ticker}.parquet.*.tmp")
                        for table in _TABLES]
        for folder, pattern in folders:
            if folder.is_dir():
                for stale in folder.glob(pattern):
                    stale.unlink(missing_ok=True)
