"""Rebuilding day by day gives what rebuilding the range gives: a run that crosses midnight is
replayed from its start (yesterday's snapshot makes today's book), and on past the day until
yesterday's doubt is resolved (its `recovered` row is dated when the doubt began)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from kalshi_collector.live.connection import ConnectionState
from kalshi_collector.live.discovery import TrackedMarket
from kalshi_collector.live.rawtape import RawTape
from kalshi_collector.live.rebuild_io import DERIVED, _RawFiles, rebuild
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import TABLES
from tests.live.frame_helpers import Clock, M, fixture

D1, D2 = dt.date(2026, 2, 10), dt.date(2026, 2, 11)
MIDNIGHT = (D2 - dt.date(1970, 1, 1)).days * 86_400.0


def _record_across_midnight(data: Path, fx: Path, collector_id: str = "c0") -> None:
    clock = Clock(MIDNIGHT - 10)
    with LiveStore(data, collector_id=collector_id, journal_sync_interval=None) as store:
        tape = RawTape.for_store(store, clock=clock)
        state = ConnectionState(number=1)

        def at(t: float) -> int:
            clock.now = MIDNIGHT + t
            return tape.now_us()

        def frame(t: float, name: str, **changes: object) -> None:
            at(t)
            tape.frame(clock.now, json.dumps(fixture(fx, name, **changes)))

        tape.markets(at(-10), {M: TrackedMarket(M, "KXHIGHCHI-26FEB11", "34° to 35°", "active")}, ())
        at(-9)
        tape.opened(1, "wss://sim")
        tape.sent(state.subscribe_markets([M]))
        tape.sent(state.subscribe_lifecycle())
        frame(-8.9, "ws_resp_subscribed")
        frame(-8, "ws_orderbook_snapshot")
        frame(-5, "ws_orderbook_delta", seq=2)
        tape.snapshot(at(-4), "periodic", 0)
        frame(-1, "ws_orderbook_delta", seq=4)  # seq 3 never came: a doubt from yesterday
        tape.sent(state.update_markets(1, "get_snapshot", [M]))
        at(0.5)
        tape.frame(clock.now, '{"type":"trade","sid":3,"seq')  # garbage: kept in rejects
        frame(1, "ws_orderbook_snapshot", seq=5, id=3)  # resolved today
        tape.snapshot(at(2), "periodic", 0)
        frame(2.5, "ws_trade")
        frame(3, "ws_orderbook_delta_new_level", seq=6)
        tape.snapshot(at(3.5), "spike", 0)
        at(4)
        tape.closed("stopping")
        store.flush()


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), key=lambda c: c.astype(str), kind="stable").reset_index(drop=True)


def _rows(folder: Path, table: str) -> pd.DataFrame:
    return ParquetStorage(folder).read_parquets(table)


def test_day_by_day_equals_the_range(tmp_path: Path, kalshi_fixtures: Path) -> None:
    data = tmp_path / "data"
    _record_across_midnight(data, kalshi_fixtures)
    both = rebuild(data, tmp_path / "both", D1, D2)
    first = rebuild(data, tmp_path / "d1", D1, D1)
    second = rebuild(data, tmp_path / "d2", D2, D2)
    assert both.runs == first.runs == second.runs == 1
    for table in DERIVED:
        whole = _sorted(_rows(tmp_path / "both", table))
        parts = _sorted(pd.concat([_rows(tmp_path / "d1", table), _rows(tmp_path / "d2", table)]))
        assert len(whole) > 0, table
        pd.testing.assert_frame_equal(parts, whole, obj=table)
    events = ParquetStorage(tmp_path / "d1").read_parquets("book_events")
    recovered = events[events["action"] == "recovered"]
    assert len(recovered) == 1 and recovered["recovered_ts"].iloc[0].date() == D2
    today = ParquetStorage(tmp_path / "d2").read_parquets("market_snapshots")
    assert len(today) == 2 and today["book_valid"].all(), "today's books come from yesterday's snapshot"
    assert ParquetStorage(tmp_path / "d1").read_parquets("market_snapshots")["book_valid"].tolist() == [True]


def test_shards_sharing_a_folder_are_replayed_apart(tmp_path: Path, kalshi_fixtures: Path) -> None:
    """Two collectors recorded the same run (same numbers: their clocks started together)."""
    _record_across_midnight(tmp_path / "one", kalshi_fixtures)
    for cid in ("c0", "east"):
        _record_across_midnight(tmp_path / "two", kalshi_fixtures, collector_id=cid)
    single = rebuild(tmp_path / "one", tmp_path / "single", D1, D2)
    double = rebuild(tmp_path / "two", tmp_path / "double", D1, D2)
    assert double.runs == 2 * single.runs and double.records == 2 * single.records
    for table in DERIVED:
        once = _rows(tmp_path / "single", table)
        twice = pd.concat([once, once])
        if TABLES[table].key:  # a keyed table keeps one row per key (the same trade seen by both)
            twice = twice.drop_duplicates(list(TABLES[table].key))
        pd.testing.assert_frame_equal(_sorted(_rows(tmp_path / "double", table)), _sorted(twice), obj=table)
    assert sorted(p.name for p in (tmp_path / "double" / "orderbook_deltas").iterdir()) == [
        "2026-02-10.parquet", "2026-02-11.parquet"], "compacted, one day file per day"


def test_raw_records_come_in_n_order_streamed_or_not(tmp_path: Path) -> None:
    """Parts of one run in order are streamed file by file; parts that overlap (rows a failed flush
    put back) are read whole and sorted. Either way: n order."""
    t0 = int(MIDNIGHT * 1_000_000) + 1_000_000
    for name, cuts in (("streamed", [[1, 2], [3, 4]]), ("sorted", [[1, 3], [2, 4]])):
        with LiveStore(tmp_path / name, journal_sync_interval=None) as store:
            append = store.appender("raw_ws")
            for cut in cuts:
                for n in cut:
                    append((t0 + n, n, 1, "in", b"{}"))
                store.flush()
        raw = _RawFiles(ParquetStorage(tmp_path / name))
        assert [r[1] for r in raw.records("c0", D2)] == [1, 2, 3, 4], name
        assert raw.n_bounds("c0", D2) == (1, 4)
