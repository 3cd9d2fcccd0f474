"""One snapshot cycle: decide (schedule or spike), build every tracked market under one
``snapshot_ts``, hand the rows to the store, and tell the deciders it happened.

Joins the pure parts — :class:`SnapshotScheduler` and :class:`SpikeDetector` (when),
:class:`SnapshotBuilder` (what) — for the collector's snapshot task, which only ticks the clock.
``on_ticker`` is the frame handler's callable for ``ticker`` messages: the builder keeps the values
and the spike detector sees the same quote the snapshot rows will hold. No clock of its own.
With a raw tape, each snapshot taken is a ``snapshot`` record (its snapshot_ts, trigger and depth),
so a rebuild takes it again at the same instant of the replay.

Two ways to take one: :meth:`SnapshotCycle.take` builds it in one go (tests, tools), and
:meth:`SnapshotCycle.run` (the collector) builds it in chunks of about half a millisecond, yielding to
the event loop between them, so a snapshot of 20,000 markets never holds up the read loop for long;
the books it has not reached yet are captured just before the loop changes them
(:class:`~kalshi_collector.book.BookCapture`), so both ways write exactly the books at
``snapshot_ts``. The levels go to the store as one Arrow table (``append_table``) when the sink
takes tables, as row tuples otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from kalshi_collector.book import BookStore
from kalshi_collector.config import CollectionConfig
from kalshi_collector.kalshi.messages import TickerBody
from kalshi_collector.live.counters import Counters, SnapshotTrigger
from kalshi_collector.live.rawtape import RawTape
from kalshi_collector.live.scheduler import SnapshotScheduler, SpikeDetector
from kalshi_collector.live.snapshot import MarketInfo, Snapshot, SnapshotBuild, SnapshotBuilder
from kalshi_collector.live.tape import US, RowSink, hand_table

__all__ = ["SnapshotCycle"]

STEP_SECONDS = 0.0005
"""How long one chunk of a chunked snapshot should hold the loop (the chunk size adapts to it). Half
a millisecond leaves room for a garbage-collector pass inside a step under the 5 ms target."""
# the first step's budgets (about 1 ms on this machine), adapted after each step
_FIRST_STEP_MARKETS, _FIRST_STEP_LEVELS = 100, 2_000
_MIN_STEP_MARKETS, _MIN_STEP_LEVELS = 50, 1_000


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
        ticker = body.market_ticker
        if self.spikes.watching(ticker):  # compare like with like: the quote the snapshot rows will hold
            self.spikes.observe(ticker, *self.builder.quote(self._books, ticker), recv_ts)

    def due(self, now: float) -> SnapshotTrigger | None:
        """Why a snapshot is due at ``now`` (the schedule first), or None."""
        if self.scheduler.is_due(datetime.fromtimestamp(now, UTC)):
            return SnapshotTrigger.PERIODIC
        if self.spikes.should_snapshot(now):
            return SnapshotTrigger.SPIKE
        return None

    def take(self, trigger: SnapshotTrigger, now: float) -> None:
        """Build and store one snapshot at ``now`` in one go."""
        self._hand_over(self.builder.build(self._books, self._taken(trigger, now), trigger.value))
        self._record(trigger, now)

    async def run(self, trigger: SnapshotTrigger, now: float) -> None:
        """Build and store one snapshot at ``now`` in chunks, yielding to the loop between them.

        Every part that costs a millisecond or more at 20,000 markets gets a loop turn of its own:
        the steps, joining the chunks, handing the tables over, the spike detector's new references
        (which frees the previous snapshot's). Cancelled before the hand-over (the collector stopping),
        it is finished in one go and handed over all the same: the raw tape already holds its
        ``snapshot`` record, and a rebuild takes every recorded snapshot, so its rows must exist.
        """
        job = self.builder.start(self._books, self._taken(trigger, now), trigger.value)
        job.watch()
        snap: Snapshot | None = None
        try:
            await _build_in_steps(job)
            await asyncio.sleep(0)
            snap = job.finish()
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self._hand_over(snap if snap is not None else _finish_now(job))
            self._counters.snapshots[trigger] += 1
            raise
        finally:
            job.abort()
        self._hand_over(snap)
        self.scheduler.record(datetime.fromtimestamp(now, UTC))
        self._counters.snapshots[trigger] += 1
        try:
            await asyncio.sleep(0)
        finally:  # the new spike references (20,000 of them) replace the old ones in a turn of their own
            self.spikes.record_snapshot(self.builder.reference_values(), now)

    def _taken(self, trigger: SnapshotTrigger, now: float) -> int:
        """``snapshot_ts``: the moment whose books the snapshot holds, in both ways of taking it (the
        chunked one included: it is the books as they were here, however long it takes). Whatever
        marks a snapshot in a record of the stream belongs here: the raw tape's ``snapshot`` record,
        so that a rebuild takes it (in one go) at this very point of the messages, with the same rows."""
        snapshot_ts = int(now * US)
        if self._tape is not None:
            self._tape.snapshot(snapshot_ts, trigger.value, self.builder.max_depth)
        return snapshot_ts

    def _hand_over(self, snap: Snapshot) -> None:
        hand_table(self._sink, "market_snapshots", snap.market, lambda: snap.market_rows)
        hand_table(self._sink, "orderbook_snapshots", snap.orderbook, snap.orderbook_rows)

    def _record(self, trigger: SnapshotTrigger, now: float) -> None:
        self.scheduler.record(datetime.fromtimestamp(now, UTC))
        self.spikes.record_snapshot(self.builder.reference_values(), now)
        self._counters.snapshots[trigger] += 1


def _finish_now(job: SnapshotBuild) -> Snapshot:
    """The rest of a chunked snapshot in one go (the collector is stopping: no loop turn to give)."""
    while not job.step(1 << 30):
        pass
    return job.finish()


async def _build_in_steps(job: SnapshotBuild) -> None:
    """Steps of about :data:`STEP_SECONDS`: both budgets follow what the last step cost."""
    markets, levels = _FIRST_STEP_MARKETS, _FIRST_STEP_LEVELS
    while True:
        await asyncio.sleep(0)  # first: starting the snapshot had a turn of its own
        started, pos, before = time.perf_counter(), job.position, job.levels
        if job.step(markets, levels):
            return
        if job.position == pos:  # a step that made the Arrow chunks: no measure of building
            continue
        spent = time.perf_counter() - started
        if spent > 0:
            scale = STEP_SECONDS / spent
            markets = max(_MIN_STEP_MARKETS, int((job.position - pos) * scale))
            levels = max(_MIN_STEP_LEVELS, int((job.levels - before) * scale))
