"""The snapshot cycle: schedule first, then spikes; one snapshot_ts per cycle; rows to the sink."""

from __future__ import annotations

import json
from pathlib import Path

from kalshi_collector.book import BookStore
from kalshi_collector.config import CollectionConfig
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.counters import Counters, SnapshotTrigger
from kalshi_collector.live.discovery import TrackedMarket
from kalshi_collector.live.snapshot_cycle import SnapshotCycle
from tests.live.frame_helpers import M, Rows, fixture

GRID = 1_770_834_600.0  # a whole minute


def _cycle(kalshi_fixtures: Path) -> tuple[SnapshotCycle, Rows, Counters, BookStore]:
    books, rows, counters = BookStore(), Rows(), Counters()
    snap = wm.decode(json.dumps(fixture(kalshi_fixtures, "ws_orderbook_snapshot")))
    assert isinstance(snap, wm.OrderbookSnapshot)
    books.apply_snapshot(snap)
    cycle = SnapshotCycle(books, rows, counters, CollectionConfig(interval_seconds=60, spike_threshold_cents=3,
                                                                  spike_cooldown_seconds=2))
    cycle.set_markets({M: TrackedMarket(M, "KXHIGHCHI-26FEB11", "34° to 35°", "active")})
    return cycle, rows, counters, books


def _ticker(kalshi_fixtures: Path, yes_bid: str) -> wm.TickerBody:
    frame = fixture(kalshi_fixtures, "ws_ticker")
    frame["msg"]["yes_bid_dollars"] = yes_bid
    msg = wm.decode(json.dumps(frame))
    assert isinstance(msg, wm.Ticker)
    return msg.msg


def test_a_periodic_cycle_writes_both_tables_under_one_snapshot_ts(kalshi_fixtures: Path) -> None:
    cycle, rows, counters, _ = _cycle(kalshi_fixtures)
    assert cycle.due(GRID) is SnapshotTrigger.PERIODIC  # nothing taken yet: due at once
    cycle.take(SnapshotTrigger.PERIODIC, GRID)
    market = rows.tables["market_snapshots"]
    assert len(market) == 1 and market[0][0] == int(GRID * 1_000_000) and market[0][9] == "periodic"
    assert {r[0] for r in rows.tables["orderbook_snapshots"]} == {market[0][0]}
    assert len(rows.tables["orderbook_snapshots"]) == 10
    assert cycle.due(GRID + 30) is None, "the next grid point is a minute on"
    assert cycle.due(GRID + 60) is SnapshotTrigger.PERIODIC
    assert counters.snapshots == {SnapshotTrigger.PERIODIC: 1, SnapshotTrigger.SPIKE: 0}


def test_a_ticker_move_past_the_threshold_is_a_spike(kalshi_fixtures: Path) -> None:
    cycle, rows, counters, books = _cycle(kalshi_fixtures)
    cycle.on_ticker(GRID - 1, _ticker(kalshi_fixtures, "0.3100"))
    cycle.take(SnapshotTrigger.PERIODIC, GRID)
    cycle.on_ticker(GRID + 1, _ticker(kalshi_fixtures, "0.3200"))  # the book is valid: its 31c quote counts
    assert cycle.due(GRID + 1) is None
    books.invalidate([M], "gap")  # now the ticker's own quote counts, 34c vs the 31c of the snapshot
    cycle.on_ticker(GRID + 3, _ticker(kalshi_fixtures, "0.3400"))
    assert cycle.due(GRID + 3) is SnapshotTrigger.SPIKE
    cycle.take(SnapshotTrigger.SPIKE, GRID + 3)
    assert rows.tables["market_snapshots"][-1][9] == "spike" and counters.snapshots[SnapshotTrigger.SPIKE] == 1
    assert len(rows.tables["orderbook_snapshots"]) == 10, "an invalid book writes no levels"
