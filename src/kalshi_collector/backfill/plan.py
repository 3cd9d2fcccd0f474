"""What to fetch: turn a date window, what is already covered and the historical cutoff into requests.

Pure functions, no I/O, an explicit ``now``: every rule about Kalshi's endpoints that shapes the
request list lives here, where a test can check it in microseconds.

Conventions (all epoch seconds, integer, intervals half-open ``[start, end)``):

* **Trades** are placed by ``created_time``. Coverage ``[a, b)`` means every trade created in it
  is on disk.
* **Candles** are placed by the *start* of their period (``end_period_ts - period``), so that the
  date window ``[day 00:00, day+1 00:00)`` holds exactly the candles of that day: the candle whose
  ``end_period_ts`` is 00:00 belongs to the previous day. The stored ``timestamp`` column is still
  the period's **end**, as Kalshi reports it.
* A period still in progress (or a trade younger than :data:`TRADE_SETTLE_SECONDS`) is never
  claimed as covered, so a re-run later picks it up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from kalshi_collector.backfill.intervals import Interval, intersect, normalize, split, subtract

__all__ = [
    "PERIODS",
    "Tier",
    "Window",
    "MarketInfo",
    "TradeUnit",
    "CandlePiece",
    "CandleBatch",
    "CandleRequest",
    "CandleSplit",
    "MarketWork",
    "trade_window",
    "candle_window",
    "trade_units",
    "trade_legs",
    "candle_pieces",
    "batch_live_pieces",
    "route_tier",
    "candle_request_bounds",
    "candle_requests",
    "halve_candle_request",
    "market_work",
    "BATCH_MAX_TICKERS",
    "BATCH_MAX_CANDLES",
    "SINGLE_MAX_CANDLES",
    "TRADE_SLICE_SECONDS",
    "TRADE_SETTLE_SECONDS",
]

Tier = Literal["live", "historical"]

PERIODS = (1, 60, 1440)
# GET /markets/candlesticks: market_tickers <= 100, <= 10,000 candles per response (API.md 5.8).
BATCH_MAX_TICKERS = 100
BATCH_MAX_CANDLES = 10_000
# Single-market candle endpoints: no documented cap; ~5000 reported to earn a 400 (API.md 5.7 [U]).
# Stay well under it; a request that is refused anyway is asked again in halves (halve_candle_request).
SINGLE_MAX_CANDLES = 4_000
# Trades of one market are fetched in slices of at most this length: each slice is an independent
# paginated walk (parallel, and a unit of checkpointed progress). Most markets live 1-2 days and
# fit one slice, which keeps the request count at its minimum for low-volume markets.
TRADE_SLICE_SECONDS = 7 * 86_400
# A trade younger than this may not be visible yet on every replica; it is left for the next run.
TRADE_SETTLE_SECONDS = 5
# Trades happen between open_time and close_time; this margin absorbs clock rounding.
LIFETIME_SLACK_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Window:
    """The ``--start``/``--end`` dates as ``[start 00:00 UTC, end+1 00:00 UTC)``."""

    start: int
    end: int

    @classmethod
    def from_dates(cls, start: date, end: date) -> Window:
        def midnight(d: date) -> int:
            return int(datetime.combine(d, time(0), tzinfo=UTC).timestamp())

        return cls(midnight(start), midnight(end + timedelta(days=1)))


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """What the backfill needs to know about one market (kept in the event manifest)."""

    ticker: str
    event_ticker: str
    tier: Tier
    """Where the market was listed: ``historical`` = under ``/historical/markets``."""
    status: str = ""
    open_ts: int | None = None
    close_ts: int | None = None
    settled_ts: int | None = None

    def trading_span(self) -> Interval | None:
        """When trades can exist, or None if unknown (then nothing is trimmed)."""
        if self.open_ts is None or self.close_ts is None:
            return None
        return (self.open_ts - LIFETIME_SLACK_SECONDS, self.close_ts + LIFETIME_SLACK_SECONDS)

    def overlaps(self, window: Window) -> bool:
        span = self.trading_span()
        return span is None or intersect(span, (window.start, window.end)) is not None


def route_tier(market: MarketInfo, cutoff_settled_ts: int | None) -> Tier:
    """Candles of a market settled before ``market_settled_ts`` live only under /historical."""
    if market.tier == "historical":
        return "historical"
    if market.settled_ts is not None and cutoff_settled_ts is not None and market.settled_ts < cutoff_settled_ts:
        return "historical"
    return "live"


# --------------------------------------------------------------------------------------- trades


def trade_window(window: Window, now: float) -> Interval:
    horizon = math.floor(now) - TRADE_SETTLE_SECONDS
    return (window.start, max(window.start, min(window.end, horizon)))


@dataclass(frozen=True, slots=True)
class TradeUnit:
    """One paginated walk over a market's trades. ``cover`` is credited to the checkpoint when it
    completes; ``fetch`` (``cover`` trimmed to the market's trading span) is what is requested,
    None when the market cannot have traded in ``cover`` (credited without a request)."""

    ticker: str
    cover: Interval
    fetch: Interval | None


def trade_units(market: MarketInfo, gaps: Iterable[Interval], *, slice_seconds: int = TRADE_SLICE_SECONDS) -> list[TradeUnit]:
    span = market.trading_span()
    units: list[TradeUnit] = []
    for gap in normalize(gaps):
        fetch = gap if span is None else intersect(gap, span)
        if fetch is None:
            units.append(TradeUnit(market.ticker, gap, None))
            continue
        # Slice what is fetched (not the gap), so a market's life is cut only when it is long;
        # the first and last slices also credit the empty parts of the gap around it.
        slices = [(a, b) for a, b in _even_slices(fetch, slice_seconds)]
        for i, (a, b) in enumerate(slices):
            cover = (gap[0] if i == 0 else a, gap[1] if i == len(slices) - 1 else b)
            units.append(TradeUnit(market.ticker, cover, (a, b)))
    return units


def _even_slices(interval: Interval, max_len: int) -> list[Interval]:
    start, end = interval
    n = max(1, -((start - end) // max_len))
    cuts = [start + (end - start) * i // n for i in range(n + 1)]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def trade_legs(fetch: Interval, trades_cutoff_ts: int | None) -> list[tuple[Tier, Interval]]:
    """Which tier serves which part of ``fetch``: trades created before the cutoff only under
    /historical/trades, the rest under /markets/trades. A range straddling it asks both."""
    if trades_cutoff_ts is None:
        return [("live", fetch)]
    legs: list[tuple[Tier, Interval]] = []
    hist = intersect(fetch, (fetch[0], trades_cutoff_ts))
    live = intersect(fetch, (trades_cutoff_ts, fetch[1]))
    if hist:
        legs.append(("historical", hist))
    if live:
        legs.append(("live", live))
    return legs


# -------------------------------------------------------------------------------------- candles


def candle_window(window: Window, now: float, period_minutes: int) -> Interval:
    """Period starts whose candle is complete by ``now`` (window bounds are UTC midnights, which
    are multiples of every supported period)."""
    step = period_minutes * 60
    in_progress_start = (math.floor(now) // step) * step
    return (window.start, max(window.start, min(window.end, in_progress_start)))


@dataclass(frozen=True, slots=True)
class CandlePiece:
    """Candles of one market over ``cover`` (period starts). ``limit`` is the span in which the
    market can have candles at all (its life, padded by one period), used to trim requests and
    to estimate response sizes; ``fetch`` = ``cover`` ∩ ``limit`` (None: nothing to ask)."""

    ticker: str
    cover: Interval
    limit: Interval | None

    @property
    def fetch(self) -> Interval | None:
        return self.cover if self.limit is None else intersect(self.cover, self.limit)


def _candle_limit(market: MarketInfo, step: int) -> Interval | None:
    if market.open_ts is None or market.close_ts is None:
        return None
    start = (market.open_ts // step) * step - step
    end = -((-market.close_ts) // step) * step + step
    return (start, end)


def candle_pieces(
    market: MarketInfo, gaps: Iterable[Interval], period_minutes: int, *, max_candles: int
) -> list[CandlePiece]:
    """Cut the gaps at fixed cells of ``max_candles`` periods (aligned to the epoch, so every run
    cuts at the same places): no single request can then exceed the per-request cap."""
    step = period_minutes * 60
    limit = _candle_limit(market, step)
    return [
        CandlePiece(market.ticker, piece, limit)
        for gap in normalize(gaps)
        for piece in split(gap, max_candles * step)
    ]


@dataclass(frozen=True, slots=True)
class CandleBatch:
    """One ``GET /markets/candlesticks`` call: every piece is asked over the hull ``[start, end)``."""

    pieces: tuple[CandlePiece, ...]
    start: int
    end: int

    @property
    def tickers(self) -> list[str]:
        return [p.ticker for p in self.pieces]


def _estimate(pieces: Sequence[CandlePiece], hull: Interval, step: int) -> int:
    """Upper bound of the candles a batch over ``hull`` returns (each market only has candles
    within its ``limit``)."""
    n = 0
    for p in pieces:
        span = hull if p.limit is None else intersect(hull, p.limit)
        if span:
            n += -((span[0] - span[1]) // step)
    return n


def batch_live_pieces(
    pieces: Iterable[CandlePiece],
    period_minutes: int,
    *,
    max_tickers: int = BATCH_MAX_TICKERS,
    max_candles: int = BATCH_MAX_CANDLES,
) -> list[CandleBatch]:
    """Pack live-tier pieces into batch requests under both caps. Pieces are grouped by their
    cell, so on a fresh run all markets of all events share the same hull and a batch carries up
    to 100 markets (or as many as the 10,000-candle cap allows)."""
    step = period_minutes * 60
    cell = max_candles * step
    by_cell: dict[int, list[CandlePiece]] = defaultdict(list)
    for p in pieces:
        if p.fetch is not None:
            by_cell[p.cover[0] // cell].append(p)
    batches: list[CandleBatch] = []
    for key in sorted(by_cell):
        current: list[CandlePiece] = []
        hull: Interval | None = None
        for p in sorted(by_cell[key], key=lambda x: (x.fetch, x.ticker)):  # type: ignore[arg-type, return-value]
            fetch = p.fetch
            assert fetch is not None
            new_hull = fetch if hull is None else (min(hull[0], fetch[0]), max(hull[1], fetch[1]))
            fits = (
                len(current) < max_tickers
                and all(q.ticker != p.ticker for q in current)
                and _estimate([*current, p], new_hull, step) <= max_candles
            )
            if current and not fits:
                assert hull is not None
                batches.append(CandleBatch(tuple(current), *hull))
                current, new_hull = [], fetch
            current.append(p)
            hull = new_hull
        if current:
            assert hull is not None
            batches.append(CandleBatch(tuple(current), *hull))
    return batches


def candle_request_bounds(start: int, end: int, period_minutes: int) -> tuple[int, int]:
    """``start_ts``/``end_ts`` for period starts ``[start, end)``: Kalshi selects candles by their
    *end* in ``[start_ts, end_ts]`` (API.md 5.7)."""
    step = period_minutes * 60
    return start + step, end


# --------------------------------------------------------------------------- a market's work, requests


@dataclass(frozen=True, slots=True)
class MarketWork:
    """What one market still lacks: trade walks and candle pieces (``window - covered``)."""

    market: MarketInfo
    trades: tuple[TradeUnit, ...]
    candles: tuple[CandlePiece, ...]

    @property
    def units(self) -> int:
        """Units to complete before the market is done (each credits its range when it does)."""
        return len(self.trades) + len(self.candles)

    @property
    def asks(self) -> bool:
        """Whether any unit needs a request (the others are credited without one)."""
        return any(u.fetch is not None for u in self.trades) or any(p.fetch is not None for p in self.candles)


def market_work(
    market: MarketInfo,
    *,
    trades_covered: Iterable[Interval],
    candles_covered: Iterable[Interval],
    trade_win: Interval,
    candle_win: Interval,
    period_minutes: int,
) -> MarketWork:
    """The market's missing ranges, cut into units no single request of which can exceed a cap."""
    return MarketWork(
        market,
        tuple(trade_units(market, subtract([trade_win], trades_covered))),
        tuple(candle_pieces(market, subtract([candle_win], candles_covered), period_minutes,
                            max_candles=SINGLE_MAX_CANDLES)),
    )


@dataclass(frozen=True, slots=True)
class CandleRequest:
    """One candle call: on the live tier a batch of markets (``GET /markets/candlesticks``), on
    the historical tier one market (``GET /historical/markets/{t}/candlesticks``). Every piece
    can hold candles (``fetch`` is set); all are asked over the hull of their ``fetch``."""

    tier: Tier
    pieces: tuple[CandlePiece, ...]

    @property
    def hull(self) -> Interval:
        fetches = [p.fetch for p in self.pieces if p.fetch is not None]
        return (min(f[0] for f in fetches), max(f[1] for f in fetches))

    @property
    def tickers(self) -> list[str]:
        return [p.ticker for p in self.pieces]


def candle_requests(
    pieces: Iterable[CandlePiece], tiers: Mapping[str, Tier], period_minutes: int
) -> list[CandleRequest]:
    """Live-tier pieces packed into batch calls (:func:`batch_live_pieces`), then one call per
    historical-tier piece. ``tiers`` says where each market's candles are served
    (:func:`route_tier`); pieces that cannot hold candles are left out."""
    wanted = [p for p in pieces if p.fetch is not None]
    live = [p for p in wanted if tiers[p.ticker] == "live"]
    batches = batch_live_pieces(live, period_minutes, max_candles=BATCH_MAX_CANDLES)
    return [
        *(CandleRequest("live", b.pieces) for b in batches),
        *(CandleRequest("historical", (p,)) for p in wanted if tiers[p.ticker] == "historical"),
    ]


@dataclass(frozen=True, slots=True)
class CandleSplit:
    """A refused request cut in two. ``pieces`` replace the request's pieces as units of work (a
    piece cut in time becomes two); ``requests`` are the halves to ask, in order; ``empty`` are
    new pieces that cannot hold candles (credited without a request)."""

    pieces: tuple[CandlePiece, ...]
    requests: tuple[CandleRequest, ...]
    empty: tuple[CandlePiece, ...]


def halve_candle_request(request: CandleRequest, period_minutes: int) -> CandleSplit | None:
    """A 400 on a candle request most likely means "too many candles" (the per-request caps are
    not all documented): two smaller requests, by markets first, then by time on a period
    boundary. None when the request is one market over one period (nothing smaller to ask)."""
    if len(request.pieces) > 1:
        mid = len(request.pieces) // 2
        halves = (request.pieces[:mid], request.pieces[mid:])
    else:
        (piece,) = request.pieces
        step = period_minutes * 60
        a, b = piece.cover
        if b - a <= step:
            return None
        cut = a + max(1, (b - a) // step // 2) * step
        halves = ((CandlePiece(piece.ticker, (a, cut), piece.limit),), (CandlePiece(piece.ticker, (cut, b), piece.limit),))
    asked = [tuple(p for p in half if p.fetch is not None) for half in halves]
    return CandleSplit(
        pieces=tuple(p for half in halves for p in half),
        requests=tuple(CandleRequest(request.tier, half) for half in asked if half),
        empty=tuple(p for half in halves for p in half if p.fetch is None),
    )
