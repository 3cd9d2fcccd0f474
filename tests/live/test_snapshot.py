"""SnapshotBuilder: one snapshot_ts per cycle, values from valid books and ticker messages, no levels
for invalid books, depth limits, and the rows written to real parquet files and read back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kalshi_collector.book import BookStore
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.snapshot import Snapshot, SnapshotBuilder, TickerValues, ticker_values
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.atomic import atomic_write_parquet
from kalshi_collector.storage.schemas import MARKET_SNAPSHOTS, ORDERBOOK_SNAPSHOTS

FOCUS = "KXHIGHCHI-26FEB11-B34.5"
TAIL = "KXHIGHCHI-26FEB11-T30"
EVENT = "KXHIGHCHI-26FEB11"
TS = 1_770_834_600_000_000  # 2026-02-11T18:30:00Z


@dataclass(frozen=True)
class Tracked:
    event_ticker: str
    subtitle: str


def _load(kalshi_fixtures: Path, name: str) -> wm.Message:
    return wm.decode((kalshi_fixtures / name).read_bytes())


def _ticker_msg(ticker: str, **prices: str) -> wm.Ticker:
    body = {
        "market_id": "x", "market_ticker": ticker, "price_dollars": "0.0300", "yes_bid_dollars": "0.0300",
        "yes_ask_dollars": "0.0500", "volume_fp": "100.00", "open_interest_fp": "40.50", "dollar_volume": 3,
        "dollar_open_interest": 1, "yes_bid_size_fp": "410.00", "yes_ask_size_fp": "0.00",
        "last_trade_size_fp": "1.00", "ts": 1, "ts_ms": 1000, "time": "2026-02-11T18:29:41Z",
    }
    body.update(prices)
    msg = wm.decode(json.dumps({"type": "ticker", "sid": 2, "msg": body}))
    assert isinstance(msg, wm.Ticker)
    return msg


@pytest.fixture()
def state(kalshi_fixtures: Path) -> tuple[BookStore, SnapshotBuilder]:
    """The reference event's focus market (book + ticker) and its T30 market (one-sided book)."""
    books = BookStore()
    for name in ("ws_orderbook_snapshot.json", "ws_orderbook_snapshot_one_side_empty.json"):
        books.apply(_load(kalshi_fixtures, name))  # type: ignore[arg-type]
    builder = SnapshotBuilder()
    builder.set_markets({
        FOCUS: Tracked(EVENT, "34° to 35°"),
        TAIL: Tracked(EVENT, "29° or below"),
    })
    ticker = _load(kalshi_fixtures, "ws_ticker.json")
    assert isinstance(ticker, wm.Ticker)
    builder.update_ticker(ticker.msg)
    return books, builder


def _levels(snapshot: Snapshot) -> set[tuple]:
    return set(snapshot.orderbook_rows())


def test_market_rows_from_book_and_ticker(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    snap = builder.build(books, TS, "periodic")
    assert snap.market_rows == [
        (TS, EVENT, FOCUS, "34° to 35°", 31.0, 33.0, 33.0, 18477.0, 9145.0, "periodic", 145.0, 60.0, True),
        (TS, EVENT, TAIL, "29° or below", 3.0, None, None, None, None, "periodic", 410.0, None, True),
    ]
    assert len(snap.market_rows[0]) == len(MARKET_SNAPSHOTS)


def test_orderbook_levels_share_the_snapshot_ts(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    snap = builder.build(books, TS, "spike")
    table = snap.orderbook
    assert table.schema.equals(ORDERBOOK_SNAPSHOTS)
    assert table.num_rows == 5 + 5 + 2
    assert set(table.column("snapshot_ts").cast(pa.int64()).to_pylist()) == {TS}
    assert _levels(snap) == {
        (TS, FOCUS, "yes", 25.0, 1200.0), (TS, FOCUS, "yes", 28.0, 350.0), (TS, FOCUS, "yes", 29.0, 500.0),
        (TS, FOCUS, "yes", 30.0, 220.0), (TS, FOCUS, "yes", 31.0, 145.0),
        (TS, FOCUS, "no", 60.0, 800.0), (TS, FOCUS, "no", 64.0, 300.0), (TS, FOCUS, "no", 65.0, 410.0),
        (TS, FOCUS, "no", 66.0, 95.0), (TS, FOCUS, "no", 67.0, 60.0),
        (TS, TAIL, "yes", 2.0, 900.0), (TS, TAIL, "yes", 3.0, 410.0),
    }
    assert {row[9] for row in snap.market_rows} == {"spike"}


def test_an_invalid_book_writes_no_levels_and_says_so(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    books.invalidate([FOCUS], "gap on sid 1")
    snap = builder.build(books, TS, "periodic")
    focus = snap.market_rows[0]
    # quote and sizes from the ticker channel instead, flagged as not from a valid book
    assert focus == (TS, EVENT, FOCUS, "34° to 35°", 31.0, 33.0, 33.0, 18477.0, 9145.0, "periodic", 145.0, 35.0, False)
    assert {row[1] for row in snap.orderbook_rows()} == {TAIL}


def test_a_market_with_nothing_known_yet(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    builder.add_market("KXHIGHCHI-26FEB11-B36.5", EVENT, "36° to 37°")
    row = builder.build(books, TS, "periodic").market_rows[-1]
    assert row == (TS, EVENT, "KXHIGHCHI-26FEB11-B36.5", "36° to 37°", None, None, None, None, None,
                   "periodic", None, None, False)


def test_untracked_books_are_left_out(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    builder.set_markets({FOCUS: Tracked(EVENT, "34° to 35°")})
    snap = builder.build(books, TS, "periodic")
    assert [row[2] for row in snap.market_rows] == [FOCUS]
    assert {row[1] for row in snap.orderbook_rows()} == {FOCUS}


def test_max_depth_keeps_the_best_levels(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    builder.max_depth = 2
    snap = builder.build(books, TS, "periodic")
    assert _levels(snap) == {
        (TS, FOCUS, "yes", 31.0, 145.0), (TS, FOCUS, "yes", 30.0, 220.0),
        (TS, FOCUS, "no", 67.0, 60.0), (TS, FOCUS, "no", 66.0, 95.0),
        (TS, TAIL, "yes", 3.0, 410.0), (TS, TAIL, "yes", 2.0, 900.0),
    }
    with pytest.raises(ValueError):
        SnapshotBuilder(max_depth=-1)


def test_no_valid_book_gives_an_empty_table_of_the_right_schema(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    books.invalidate_all("disconnected")
    snap = builder.build(books, TS, "periodic")
    assert snap.orderbook.num_rows == 0 and snap.orderbook.schema.equals(ORDERBOOK_SNAPSHOTS)
    assert snap.orderbook_rows() == []
    assert [row[-1] for row in snap.market_rows] == [False, False]


def test_snapshot_ts_must_be_integer_microseconds(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    with pytest.raises(TypeError):
        builder.build(books, 1_770_834_600.5, "periodic")  # type: ignore[arg-type]


def test_ticker_values_exact_and_empty_sides() -> None:
    values = ticker_values(_ticker_msg(TAIL, price_dollars="0.0000", yes_ask_dollars="0.0000",
                                       volume_fp="12.34", open_interest_fp="100000000.01").msg)
    assert values == TickerValues(3.0, None, None, 12.34, 100000000.01, 410.0, None)
    odd = ticker_values(_ticker_msg(TAIL, volume_fp="7", yes_bid_dollars="0.0150").msg)  # unusual shapes
    assert (odd.volume, odd.yes_bid) == (7.0, 1.5)
    with pytest.raises(ValueError):
        ticker_values(_ticker_msg(TAIL, volume_fp="lots").msg)


@pytest.mark.parametrize("fp", ["18477.00", "0.01", "12.34", "7", "100000000.01", "0.10", "999999999999.99",
                                "3.3333333333", " 5.00", "1e3", "-2.50", "0.00"])
def test_ticker_counts_equal_the_decimal_conversion(fp: str) -> None:
    """The ticker path reads counts with ``float`` (cheaper); it must give Decimal's float exactly."""
    values = ticker_values(_ticker_msg(TAIL, volume_fp=fp, open_interest_fp=fp).msg)
    assert values.volume == float(Decimal(fp)) == values.open_interest


def test_the_memoised_ticker_path_gives_the_checked_values() -> None:
    """Once its prices are known a ticker takes the fast path: same values, same refusals."""
    from kalshi_collector.live.snapshot import _checked_values

    shapes = [dict(), dict(price_dollars="0.0000", yes_ask_dollars="0.0000"), dict(yes_bid_dollars="0.0150"),
              dict(volume_fp="", yes_bid_size_fp="7", open_interest_fp="12.34"), dict(yes_ask_size_fp="0.00")]
    for shape in shapes:
        body = _ticker_msg(TAIL, **shape).msg
        first, again = ticker_values(body), ticker_values(body)  # the second with every price memoised
        assert first == again == _checked_values(body) and type(again) is TickerValues
    for bad in (dict(volume_fp="lots"), dict(yes_bid_size_fp="1,000.00")):
        with pytest.raises(ValueError):
            ticker_values(_ticker_msg(TAIL, **bad).msg)


def test_update_ticker_keeps_the_last_good_values(state: tuple[BookStore, SnapshotBuilder]) -> None:
    _, builder = state
    before = builder.ticker_state(FOCUS)
    with pytest.raises(ValueError):
        builder.update_ticker(_ticker_msg(FOCUS, price_dollars="n/a").msg)
    assert builder.ticker_state(FOCUS) == before
    assert builder.ticker_state("UNKNOWN") == TickerValues(None, None, None, None, None, None, None)


def test_reference_values_and_quote_follow_the_rows(state: tuple[BookStore, SnapshotBuilder]) -> None:
    books, builder = state
    snap = builder.build(books, TS, "periodic")
    assert builder.reference_values() == {row[2]: (row[4], row[5], row[6]) for row in snap.market_rows}
    assert builder.quote(books, FOCUS) == (31.0, 33.0, 33.0)
    books.invalidate([FOCUS], "gap")
    assert builder.quote(books, FOCUS) == (31.0, 33.0, 33.0)  # from the ticker message now
    builder.update_ticker(_ticker_msg(FOCUS, yes_bid_dollars="0.2900").msg)
    assert builder.quote(books, FOCUS) == (29.0, 5.0, 3.0)


def test_set_markets_drops_state_of_removed_markets(state: tuple[BookStore, SnapshotBuilder]) -> None:
    _, builder = state
    builder.set_markets({TAIL: Tracked(EVENT, "29° or below")})
    assert builder.tickers == [TAIL]
    assert builder.ticker_state(FOCUS).volume is None


def test_written_to_parquet_and_read_back(state: tuple[BookStore, SnapshotBuilder], tmp_path: Path) -> None:
    books, builder = state
    snap = builder.build(books, TS, "periodic")
    path = atomic_write_parquet(tmp_path / "orderbook_snapshots" / "2026-02-11.parquet", snap.orderbook)
    back = pq.read_table(path)
    assert back.schema.equals(ORDERBOOK_SNAPSHOTS)
    assert back.equals(snap.orderbook)


def test_through_the_live_store(state: tuple[BookStore, SnapshotBuilder], tmp_path: Path) -> None:
    """The row-based LiveStore takes market rows as they are, and the levels as tuples."""
    books, builder = state
    snap = builder.build(books, TS, "periodic")
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        store.extend("market_snapshots", snap.market_rows)
        store.extend("orderbook_snapshots", snap.orderbook_rows())
        store.sync()
        assert store.flush() == {"market_snapshots": 2, "orderbook_snapshots": 12}
    storage = ParquetStorage(tmp_path)
    markets = storage.read_arrow("market_snapshots")
    assert markets.num_rows == 2
    assert markets.column("yes_ask").to_pylist() == [33.0, None]
    assert markets.column("book_valid").to_pylist() == [True, True]
    levels = storage.read_arrow("orderbook_snapshots")
    assert sorted(levels.column("price_cents").to_pylist()) == sorted(r[3] for r in snap.orderbook_rows())
    assert set(levels.column("snapshot_ts").cast(pa.int64()).to_pylist()) == {TS}
