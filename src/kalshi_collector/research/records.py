"""The typed records a book replay hands out: :class:`Level` and :class:`BookState`.

Prices and sizes are kept as the integers the live order book uses (:mod:`kalshi_collector.book`:
micro-dollars, hundredths of a contract), so a replayed book sums exactly over a day of deltas;
they are shown as :class:`~decimal.Decimal` cents and contracts (``Decimal('29')``,
``Decimal('1.5')``, ``Decimal('12.34')``), never floats.

Kalshi's book holds bids only, YES bids and NO bids. A NO bid at ``p`` cents is an offer to sell
YES at ``100 - p``: :attr:`BookState.best_ask` is that price, from the best NO bid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kalshi_collector.book import CENTI_PER_CONTRACT, MICROS_PER_CENT

__all__ = ["Level", "BookState", "TAPE", "SNAPSHOTS"]

TAPE, SNAPSHOTS = "tape", "snapshots"
"""Where a state comes from: the live tape (``orderbook_deltas`` + ``book_events``), or the
``orderbook_snapshots`` table (the original collector's baseline + delta books)."""

_MICROS = Decimal(MICROS_PER_CENT)
_CENTI = Decimal(CENTI_PER_CONTRACT)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Level:
    """One price level: ``price_micros`` (millionths of a dollar) and ``size_centi`` (1/100 contract)."""

    price_micros: int
    size_centi: int

    @property
    def price(self) -> Decimal:
        """The price in cents, exactly (``Decimal('29')``, ``Decimal('1.5')``)."""
        return Decimal(self.price_micros) / _MICROS

    @property
    def size(self) -> Decimal:
        """The size in contracts, exactly (``Decimal('12.34')``)."""
        return Decimal(self.size_centi) / _CENTI


@dataclass(frozen=True, slots=True)
class BookState:
    """A market's book at one instant ``ts`` (a UTC ``datetime``; the collector's receive clock for
    the tape).

    ``yes`` / ``no``: the YES and NO bids, best (highest price) first. ``valid``: whether the
    collector could vouch for this book (see docs/research.md); ``reason`` says why, or why not.
    ``snapshot_ts``: receive time of the snapshot the book was built from (``None``: none yet);
    ``deltas_applied``: deltas applied since; ``exchange_ts``: the exchange time of the last one.
    """

    ts: datetime
    ticker: str
    valid: bool
    reason: str
    yes: tuple[Level, ...] = ()
    no: tuple[Level, ...] = ()
    source: str = TAPE
    snapshot_ts: datetime | None = None
    deltas_applied: int = 0
    exchange_ts: datetime | None = None

    @property
    def best_yes_bid(self) -> Level | None:
        return self.yes[0] if self.yes else None

    @property
    def best_no_bid(self) -> Level | None:
        return self.no[0] if self.no else None

    @property
    def best_bid(self) -> Decimal | None:
        """Best YES bid, cents."""
        return self.yes[0].price if self.yes else None

    @property
    def best_ask(self) -> Decimal | None:
        """Best YES ask, cents: 100 minus the best NO bid."""
        return _HUNDRED - self.no[0].price if self.no else None

    @property
    def best_bid_size(self) -> Decimal | None:
        return self.yes[0].size if self.yes else None

    @property
    def best_ask_size(self) -> Decimal | None:
        """Contracts offered at :attr:`best_ask` (the size of the best NO bid)."""
        return self.no[0].size if self.no else None

    @property
    def spread(self) -> Decimal | None:
        """``best_ask - best_bid`` in cents; ``None`` unless both sides have a level."""
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else ask - bid

    @property
    def mid(self) -> Decimal | None:
        """Midpoint of best bid and best ask, cents; ``None`` unless both sides have a level."""
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    def levels(self, side: str) -> tuple[Level, ...]:
        """``side`` ``"yes"`` or ``"no"``: that side's bids, best first."""
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', not {side!r}")
        return self.yes if side == "yes" else self.no

    def as_dict(self) -> dict[str, dict[Decimal, Decimal]]:
        """``{"yes": {price: size}, "no": {...}}`` in cents and contracts."""
        return {side: {lv.price: lv.size for lv in self.levels(side)} for side in ("yes", "no")}
