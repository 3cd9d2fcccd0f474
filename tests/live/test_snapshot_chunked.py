"""A snapshot built in chunks while the books keep changing equals one built in one go at snapshot_ts.

Between chunks the test applies deltas (to markets already read and not yet read), fresh book
snapshots, invalidations, removals and ticker messages through the real ``BookStore``; the chunked
result must equal a synchronous build of a copy of the state taken at snapshot_ts.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from dataclasses import dataclass

import pytest

from kalshi_collector.book import BookStore
from kalshi_collector.config import CollectionConfig
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live import snapshot_build
from kalshi_collector.live.counters import Counters, SnapshotTrigger
from kalshi_collector.live.snapshot import Snapshot, SnapshotBuilder
from kalshi_collector.live.snapshot_cycle import SnapshotCycle
from tests.live.frame_helpers import Rows

TS = 1_770_834_600_000_000
MARKETS = [f"KXTEST-26FEB11-B{i}" for i in range(12)]


@dataclass(frozen=True)
class Tracked:
    event_ticker: str
    subtitle: str


def _snapshot_msg(ticker: str, rng: random.Random) -> wm.OrderbookSnapshot:
    yes = [[f"{p / 100:.4f}", f"{rng.randint(1, 500)}.00"] for p in rng.sample(range(1, 45), 6)]
    no = [[f"{p / 100:.4f}", f"{rng.randint(1, 500)}.50"] for p in rng.sample(range(1, 45), 5)]
    frame = {"type": "orderbook_snapshot", "sid": 1, "seq": 1,
             "msg": {"market_ticker": ticker, "market_id": "x", "yes_dollars_fp": yes, "no_dollars_fp": no}}
    msg = wm.decode(json.dumps(frame))
    assert isinstance(msg, wm.OrderbookSnapshot)
    return msg


def _delta(ticker: str, side: str, cents: int, contracts: int) -> wm.OrderbookDelta:
    frame = {"type": "orderbook_delta", "sid": 1, "seq": 2,
             "msg": {"market_ticker": ticker, "price_dollars": f"{cents / 100:.4f}",
                     "delta_fp": f"{contracts}.00", "side": side}}
    msg = wm.decode(json.dumps(frame))
    assert isinstance(msg, wm.OrderbookDelta)
    return msg


def _ticker(ticker: str, rng: random.Random) -> wm.TickerBody:
    body = {"market_id": "x", "market_ticker": ticker, "price_dollars": f"0.{rng.randint(10, 40)}00",
            "yes_bid_dollars": "0.3000", "yes_ask_dollars": "0.3500", "volume_fp": f"{rng.randint(1, 999)}.00",
            "open_interest_fp": "40.50", "dollar_volume": 3, "dollar_open_interest": 1,
            "yes_bid_size_fp": "410.00", "yes_ask_size_fp": "2.00", "last_trade_size_fp": "1.00",
            "ts": 1, "ts_ms": 1000, "time": "2026-02-11T18:29:41Z"}
    msg = wm.decode(json.dumps({"type": "ticker", "sid": 2, "msg": body}))
    assert isinstance(msg, wm.Ticker)
    return msg.msg


def _state(seed: int) -> tuple[BookStore, SnapshotBuilder]:
    rng = random.Random(seed)
    books, builder = BookStore(), SnapshotBuilder()
    for ticker in MARKETS[:-1]:  # the last market has no book at snapshot_ts
        books.apply_snapshot(_snapshot_msg(ticker, rng))
        builder.update_ticker(_ticker(ticker, rng))
    builder.set_markets({t: Tracked("KXTEST-26FEB11", t[-3:]) for t in MARKETS})
    books.invalidate([MARKETS[3]], "gap")  # one invalid book at snapshot_ts
    return books, builder


def _meddle(books: BookStore, builder: SnapshotBuilder, rng: random.Random) -> None:
    """What the read loop might do between two chunks."""
    ticker = rng.choice(MARKETS)
    action = rng.randrange(8)
    if action == 6:  # a market is discovered: not in this snapshot
        builder.add_market(f"KXNEW-{rng.randrange(10**6)}", "KXNEW", "new")
        return
    if action == 7:  # an older market's info changes: this snapshot keeps what it started with
        builder.add_market(ticker, "KXTEST-26FEB11", "renamed")
        return
    if action <= 1:
        books.apply_delta(_delta(ticker, rng.choice(("yes", "no")), rng.randint(1, 45), rng.randint(1, 50)))
    elif action == 2:
        book = books.get(ticker)
        if book is not None and book.valid and book.yes_bids:  # empty a level
            price = next(iter(book.yes_bids))
            books.apply_delta(_delta(ticker, "yes", price // 10_000, -(book.yes_bids[price] // 100)))
    elif action == 3:
        books.apply_snapshot(_snapshot_msg(ticker, rng))
    elif action == 4:
        books.invalidate([ticker], "gap") if rng.random() < 0.7 else books.remove(ticker)
    else:
        builder.update_ticker(_ticker(ticker, rng))


def _rows(snap: Snapshot) -> tuple[list[tuple], list[tuple]]:
    return snap.market_rows, snap.orderbook_rows()


@pytest.mark.parametrize("emit", [None, (7, 2), (1, 1)], ids=["default", "every-few-steps", "every-step"])
@pytest.mark.parametrize("seed", range(8))
def test_a_chunked_snapshot_equals_a_synchronous_one_at_snapshot_ts(
        seed: int, emit: tuple[int, int] | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``emit``: the levels and markets read that make the next step turn them into Arrow chunks
    (the defaults are bigger than this test's snapshot: one chunk at finish)."""
    if emit is not None:
        monkeypatch.setattr(snapshot_build, "EMIT_LEVELS", emit[0])
        monkeypatch.setattr(snapshot_build, "EMIT_MARKETS", emit[1])
    books, builder = _state(seed)
    expected = copy.deepcopy((books, builder))
    want = expected[1].build(expected[0], TS, "periodic")
    rng = random.Random(100 + seed)
    job = builder.start(books, TS, "periodic")
    job.watch()
    while not job.step(rng.randint(1, 3)):
        for _ in range(rng.randint(0, 6)):
            _meddle(books, builder, rng)
    got = job.finish()
    assert _rows(got) == _rows(want)
    assert got.orderbook.schema == want.orderbook.schema
    assert (got.market.column(0).num_chunks > 1) == (emit is not None), "the emit setting took effect"
    assert builder.reference_values() == expected[1].reference_values()
    assert not books.capture.on and not books.capture.done, "no hook left after the snapshot"
    assert builder._job is None


def test_a_disconnect_mid_snapshot_captures_every_book_not_read_yet() -> None:
    books, builder = _state(1)
    expected = copy.deepcopy((books, builder))
    job = builder.start(books, TS, "periodic")
    job.watch()
    job.step(2)
    books.invalidate_all("disconnected")
    while not job.step(2):
        pass
    assert _rows(job.finish()) == _rows(expected[1].build(expected[0], TS, "periodic"))


def test_the_collectors_chunked_cycle_writes_what_take_writes() -> None:
    """``SnapshotCycle.run`` (chunks, the loop running between them) and ``take`` give the same rows."""
    config = CollectionConfig(interval_seconds=60)
    outputs = []
    for chunked in (False, True):
        books, builder = _state(2)
        rows = Rows()
        cycle = SnapshotCycle(books, rows, Counters(), config)
        cycle.builder = builder
        if chunked:
            asyncio.run(cycle.run(SnapshotTrigger.PERIODIC, TS / 1e6))
        else:
            cycle.take(SnapshotTrigger.PERIODIC, TS / 1e6)
        outputs.append(dict(rows.tables))
        assert not books.capture.on
    assert outputs[0] == outputs[1] and outputs[0]["orderbook_snapshots"]


def test_a_cancelled_snapshot_is_finished_in_one_go_and_leaves_no_hook() -> None:
    """Stopping mid-snapshot: the raw tape already holds its record, so its rows are written too
    (a rebuild takes every recorded snapshot), the same rows a one-go build gives."""
    books, builder = _state(3)
    rows = Rows()
    cycle = SnapshotCycle(books, rows, Counters(), CollectionConfig(interval_seconds=60))
    cycle.builder = builder

    async def cancel_mid_way() -> None:
        task = asyncio.ensure_future(cycle.run(SnapshotTrigger.PERIODIC, TS / 1e6))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    import kalshi_collector.live.snapshot_cycle as sc

    first = sc._FIRST_STEP_MARKETS
    sc._FIRST_STEP_MARKETS = 1  # several steps even for a dozen markets
    try:
        asyncio.run(cancel_mid_way())
    finally:
        sc._FIRST_STEP_MARKETS = first
    assert not books.capture.on and not books.capture.done
    whole = Rows()
    one_go = SnapshotCycle(books, whole, Counters(), CollectionConfig(interval_seconds=60))
    one_go.builder = _state(3)[1]
    one_go.take(SnapshotTrigger.PERIODIC, TS / 1e6)
    assert rows.tables["orderbook_snapshots"] and rows.tables == whole.tables


def test_a_chunked_snapshot_into_a_live_store_reads_back_from_parquet_as_take_wrote_it(tmp_path) -> None:
    """The collector's path end to end: ``run`` (chunks, deltas between them) into a real LiveStore
    (Arrow tables journaled and flushed) reads back what ``take`` into a row sink gives."""
    import pandas as pd

    from kalshi_collector.storage import LiveStore, ParquetStorage

    markets = [f"KXBIG-26FEB11-B{i}" for i in range(400)]
    rng = random.Random(9)

    def state() -> tuple[BookStore, SnapshotBuilder]:
        books, builder = BookStore(), SnapshotBuilder()
        for ticker in markets:
            books.apply_snapshot(_snapshot_msg(ticker, random.Random(ticker)))
        builder.set_markets({t: Tracked("KXBIG-26FEB11", t[-4:]) for t in markets})
        return books, builder

    config = CollectionConfig(interval_seconds=60)
    books, builder = state()
    expected = Rows()
    cycle = SnapshotCycle(books, expected, Counters(), config)
    cycle.builder = builder
    cycle.take(SnapshotTrigger.PERIODIC, TS / 1e6)

    books, builder = state()
    with LiveStore(tmp_path / "data", journal_sync_interval=None) as store:
        cycle = SnapshotCycle(books, store, Counters(), config)
        cycle.builder = builder

        async def run_with_deltas() -> None:
            task = asyncio.ensure_future(cycle.run(SnapshotTrigger.PERIODIC, TS / 1e6))
            await asyncio.sleep(0)  # the snapshot starts (snapshot_ts): deltas from now on come after it
            while not task.done():
                books.apply_delta(_delta(rng.choice(markets), "yes", rng.randint(1, 45), 7))
                await asyncio.sleep(0)
            await task

        import kalshi_collector.live.snapshot_cycle as sc

        first = sc._FIRST_STEP_MARKETS, sc._MIN_STEP_MARKETS
        sc._FIRST_STEP_MARKETS = sc._MIN_STEP_MARKETS = 7  # many steps, deltas between each
        try:
            asyncio.run(run_with_deltas())
        finally:
            sc._FIRST_STEP_MARKETS, sc._MIN_STEP_MARKETS = first
        store.sync()
        store.flush()
    storage = ParquetStorage(tmp_path / "data")
    for table in ("market_snapshots", "orderbook_snapshots"):
        got = storage.read_parquets(table)
        want = pd.DataFrame(expected.tables[table], columns=got.columns)
        want["snapshot_ts"] = pd.to_datetime(want["snapshot_ts"], unit="us", utc=True)
        keys = [c for c in ("market_ticker", "side", "price_cents") if c in got.columns]
        got = got.sort_values(keys).reset_index(drop=True)
        want = want.sort_values(keys).reset_index(drop=True).astype(got.dtypes.to_dict())
        pd.testing.assert_frame_equal(got, want)
