"""One snapshot cycle: decide (schedule or spike), build every tracked market under one
``snapshot_ts``, hand the rows to the store, and tell the deciders it happened.

Joins the pure parts — :class:`SnapshotScheduler` and :class:`SpikeDetector` (when),
:class:`SnapshotBuilder` (what) — for the collector's snapshot task, which only ticks the clock.
``on_ticker`` is the frame handler's callable for ``ticker`` messages: the builder keeps the values
and the spike detector sees the same quote the snapshot rows will hold. No clock of its own.
With a raw tape, each snapshot taken is a ``snapshot`` record (its snapshot_ts, trigger and depth),
so a rebuild takes it again at the same instant of the replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from kalshi_collector.book import BookStore
from kalshi_collector.config import CollectionConfig
from kalshi_collector.kalshi.messages import TickerBody
from kalshi_collector.live.counters import Counters, SnapshotTrigger
from kalshi_collector.live.rawtape import RawTape
from kalshi_collector.live.scheduler import SnapshotScheduler, SpikeDetector
from kalshi_collector.live.snapshot import MarketInfo, SnapshotBuilder
from kalshi_collector.live.tape import US, RowSink

__all__ = ["SnapshotCycle"]


class SnapshotCycle:
    def __init__(self, books: BookStore, sink: RowSink, counters: Counters, collection: CollectionConfig,
                 tape: RawTape | None = None) -> None:
        self._books = books
        self._tape = tape
        self._sink = sink
        self._counters = counters
        self.scheduler = SnapshotScheduler(collection.interval_seconds, collection.interval_overrides)
        self.spikes = SpikeDetector(collection.spike_threshold_cents, collection.spike_cooldown_seconds)
        self.builder = SnapshotBuilder(max_depth=collection.max_orderbook_depth)

    def set_markets(self, markets: Mapping[str, MarketInfo]) -> None:
        self.builder.set_markets(markets)

    def on_ticker(self, recv_ts: float, body: TickerBody) -> None:
        self.builder.update_ticker(body)
        # compare like with like: the detector sees the same quote the snapshot rows will hold
        self.spikes.observe(body.market_ticker, *self.builder.quote(self._books, body.market_ticker), recv_ts)

    def due(self, now: float) -> SnapshotTrigger | None:
        """Why a snapshot is due at ``now`` (the schedule first), or None."""
        if self.scheduler.is_due(datetime.fromtimestamp(now, UTC)):
            return SnapshotTrigger.PERIODIC
        if self.spikes.should_snapshot(now):
            return SnapshotTrigger.SPIKE
        return None

    def take(self, trigger: SnapshotTrigger, now: float) -> None:
        snapshot_ts = int(now * US)
        if self._tape is not None:
            self._tape.snapshot(snapshot_ts, trigger.value, self.builder.max_depth)
        snap = self.builder.build(self._books, snapshot_ts, trigger.value)
        self._sink.extend("market_snapshots", snap.market_rows)
        self._sink.extend("orderbook_snapshots", snap.orderbook_rows())
        self.scheduler.record(datetime.fromtimestamp(now, UTC))
        self.spikes.record_snapshot(self.builder.reference_values(), now)
        self._counters.snapshots[trigger] += 1
