"""What each market of a run still owes and has fetched, and when it is written.

Every unit of work (a trade walk, a candle piece) is credited here once it completes: its rows
are buffered and its range noted. A market's rows and the checkpoint that claims them go to the
writer when its last unit is done, or earlier when :data:`FLUSH_ROWS` are buffered (bounded
memory, and progress a kill cannot take back); an event is assembled when its last market is
done. A unit that failed is counted but not credited, so the next run asks for it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.intervals import Interval
from kalshi_collector.backfill.progress import RunMeter
from kalshi_collector.backfill.store import MarketCheckpoint, candles_table
from kalshi_collector.backfill.writer import Writer
from kalshi_collector.kalshi.models import Candlestick

__all__ = ["FLUSH_ROWS", "Ledger"]

FLUSH_ROWS = 50_000  # stage a market's rows once this many are buffered (bounds memory, keeps progress)


@dataclass(eq=False)
class _MarketJob:
    info: P.MarketInfo
    checkpoint: MarketCheckpoint
    outstanding: int
    failed: bool = False
    trade_tables: list[pa.Table] = field(default_factory=list)
    candle_tables: list[pa.Table] = field(default_factory=list)
    trade_cover: list[Interval] = field(default_factory=list)
    candle_cover: list[Interval] = field(default_factory=list)
    buffered: int = 0


class Ledger:
    """The run's bookkeeping per market and event; hands every write to ``writer``."""

    def __init__(self, writer: Writer, meter: RunMeter, period_minutes: int) -> None:
        self._writer = writer
        self._meter = meter
        self._period = period_minutes
        self._jobs: dict[str, _MarketJob] = {}
        self._asking: set[str] = set()
        self._event_pending: dict[str, int] = {}

    # ---- the plan
    def add_event(self, event_ticker: str) -> None:
        self._event_pending.setdefault(event_ticker, 0)

    def add_market(self, work: P.MarketWork, checkpoint: MarketCheckpoint) -> None:
        """A market with work to do (``work.units`` > 0) of an event already added."""
        self._jobs[work.market.ticker] = _MarketJob(work.market, checkpoint, outstanding=work.units)
        if work.asks:
            self._asking.add(work.market.ticker)
        self._event_pending[work.market.event_ticker] += 1

    @property
    def markets(self) -> int:
        """Markets with work in this run."""
        return len(self._jobs)

    @property
    def markets_asked(self) -> int:
        """Markets for which some request is made (the others are credited without one)."""
        return len(self._asking)

    def idle_events(self) -> list[str]:
        """Events none of whose markets has work (they may still hold parts of a killed run)."""
        return [event for event, pending in self._event_pending.items() if pending == 0]

    def failed(self) -> list[str]:
        return sorted(t for t, job in self._jobs.items() if job.failed)

    # ---- completed units
    def trades_done(self, unit: P.TradeUnit, tables: Sequence[pa.Table], *, ok: bool) -> None:
        job = self._jobs[unit.ticker]
        if ok:
            rows = sum(t.num_rows for t in tables)
            job.trade_tables += tables
            job.buffered += rows
            self._meter.rows(trades=rows)
            job.trade_cover.append(unit.cover)
        self._unit_done(job, ok)

    def candles_done(self, piece: P.CandlePiece, candles: Sequence[Candlestick], *, ok: bool) -> None:
        """Keeps only the candles whose period starts in the piece's ``cover`` (a batch answer
        spans the hull of several pieces)."""
        job = self._jobs[piece.ticker]
        if ok:
            step = self._period * 60
            a, b = piece.cover
            mine = [c for c in candles if a <= c.end_period_ts - step < b]
            if mine:
                job.candle_tables.append(candles_table(job.info.event_ticker, piece.ticker, self._period, mine))
                job.buffered += len(mine)
                self._meter.rows(candles=len(mine))
            job.candle_cover.append(piece.cover)
        self._unit_done(job, ok)

    def replace_candle_pieces(self, old: Iterable[P.CandlePiece], new: Iterable[P.CandlePiece]) -> None:
        """Pieces cut smaller: each market owes as many units as it now has pieces."""
        change = Counter(p.ticker for p in new)
        change.subtract(p.ticker for p in old)
        for ticker, delta in change.items():
            self._jobs[ticker].outstanding += delta

    def _unit_done(self, job: _MarketJob, ok: bool) -> None:
        job.failed |= not ok
        job.outstanding -= 1
        if job.outstanding == 0 or job.buffered >= FLUSH_ROWS:
            self._flush(job)
        if job.outstanding == 0:
            self._meter.market_done(failed=job.failed)
            self._market_finished(job.info.event_ticker)
        self._meter.update()

    # ---- writes
    def _flush(self, job: _MarketJob) -> None:
        """Hand buffered rows and the ranges they complete to the writer. The new checkpoint is
        built here, in the event loop, so commits of one market reach the writer in order."""
        if not (job.trade_cover or job.candle_cover):
            return
        cp = MarketCheckpoint(
            market_ticker=job.checkpoint.market_ticker,
            event_ticker=job.checkpoint.event_ticker,
            trades=list(job.checkpoint.trades),
            candles={k: list(v) for k, v in job.checkpoint.candles.items()},
        )
        cp.add(trades=job.trade_cover, candles=job.candle_cover, period_minutes=self._period)
        self._writer.commit(
            cp,
            pa.concat_tables(job.trade_tables) if job.trade_tables else None,
            pa.concat_tables(job.candle_tables) if job.candle_tables else None,
        )
        job.checkpoint = cp
        job.trade_tables, job.candle_tables, job.trade_cover, job.candle_cover = [], [], [], []
        job.buffered = 0

    def _market_finished(self, event_ticker: str) -> None:
        self._event_pending[event_ticker] -= 1
        if self._event_pending[event_ticker] == 0:
            self._writer.assemble(event_ticker)

    def flush_all(self) -> None:
        """On interruption: save what completed units fetched, so none of it is asked again."""
        for job in self._jobs.values():
            self._flush(job)
