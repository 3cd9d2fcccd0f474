"""Live order activity: resting orders added and cancelled, takers trading, opening books seeded.

All of it draws from one generator (``rng``, seeded with the model's seed) in a fixed order, so
a seed and a sequence of ``step`` calls give the same messages byte for byte; that is why the
draws here must not be reordered, added or removed. Books only change through
``booklog.change`` and trades are handed to the trade tape, so this module decides *what*
happens and never how it is recorded.
"""

from __future__ import annotations

import random
from typing import Protocol

from kalshi_collector.sim.booklog import change, stamp, ticker_out
from kalshi_collector.sim.records import Market, Out

__all__ = ["OrderFlow", "RecordTrade"]


class RecordTrade(Protocol):
    """Where a trade goes once the flow has made it (``TradeTape.record``)."""

    def __call__(self, m: Market, ts: int, yes_price: int, count: int, taker_yes: bool, *, block: bool,
                 oi_grows: bool, out: list[Out] | None) -> None: ...


class OrderFlow:
    """Random but reproducible order flow over the markets open for trading.

    Realistic activity at scale: most markets quiet, a few hundred busy. ``busy_share`` of the
    flow goes to the ``busy`` markets drawn once by :meth:`pick_busy` (none = flow spread evenly,
    the original behaviour, so existing seeds give the same messages).
    """

    def __init__(self, rng: random.Random, record_trade: RecordTrade, busy_share: float) -> None:
        self.rng = rng
        self._record_trade = record_trade
        self.busy_share = busy_share
        self.busy: list[Market] = []

    def pick_busy(self, active: list[Market], busy_markets: int) -> None:
        """Draw the busy markets from ``active`` (once, after the opening books are seeded)."""
        self.busy = self.rng.sample(active, min(busy_markets, len(active))) if busy_markets > 0 else []

    def step(self, n: int, now_ms: int, active: list[Market]) -> list[Out]:
        """Generate ``n`` order-flow events on the ``active`` markets; return what gets published."""
        out: list[Out] = []
        if not active:
            return out
        rng = self.rng
        busy, share = self.busy, self.busy_share
        for _ in range(n):
            if busy and rng.random() < share:
                m = busy[rng.randrange(len(busy))]
                if m.status != "active":
                    m = active[rng.randrange(len(active))]
            else:
                m = active[rng.randrange(len(active))]
            r = rng.random()
            if r < 0.12:
                self._trade(m, now_ms, out)
            elif r < 0.45:
                self._cancel(m, now_ms, out)
            else:
                self._add(m, now_ms, out)
        return out

    def seed_book(self, m: Market, ts_from: int, out: list[Out] | None) -> None:
        """Put an opening book on a market: a few levels each side around its fair price."""
        rng = self.rng
        center = m.last_price or m.anchor_c
        top_yes = max(1, min(97, center - 1))
        top_no = max(1, min(98 - top_yes, 100 - center - 1))
        ts = max(ts_from, m.last_ts + 1)
        for base, yes_side in ((top_yes, True), (top_no, False)):
            for k in range(rng.randint(3, 7)):
                price = base - k - (rng.random() < 0.3)
                if price < 1:
                    break
                stamped = stamp(m, ts)
                change(m, yes_side, price, self._size(m) * rng.randint(1, 4), stamped, out)
        ticker_out(m, m.last_ts, out)

    def _size(self, m: Market) -> int:
        """An order's size in hundredths: whole contracts, or a fraction on fractional markets."""
        rng = self.rng
        if m.fractional and rng.random() < 0.25:
            return rng.randint(1, 5000)
        return (int(rng.expovariate(0.02)) + 1) * 100

    def _add(self, m: Market, now_ms: int, out: list[Out]) -> None:
        """A resting order near the top of one side, never crossing the other side."""
        rng = self.rng
        yes_side = rng.random() < 0.5
        if len(m.yes) < 3 <= len(m.no):
            yes_side = True
        elif len(m.no) < 3 <= len(m.yes):
            yes_side = False
        book, opp = (m.yes, m.no) if yes_side else (m.no, m.yes)
        ceiling = 99 - max(opp) if opp else 99  # never cross: yes_bid + no_bid <= 99
        if book:
            best = max(book)
        else:
            best = (m.anchor_c if yes_side else 100 - m.anchor_c) - 1
        price = min(best + rng.randint(-5, 1), ceiling)
        if price < 1:
            price = 1 if ceiling >= 1 else 0
        if price < 1:
            return
        ts = stamp(m, now_ms)
        change(m, yes_side, price, self._size(m), ts, out)
        ticker_out(m, ts, out)

    def _cancel(self, m: Market, now_ms: int, out: list[Out]) -> None:
        """All or part of one level leaves; a thin side gets an order instead (books never empty)."""
        rng = self.rng
        yes_side = rng.random() < 0.5
        book = m.yes if yes_side else m.no
        if len(book) <= 2:
            self._add(m, now_ms, out)
            return
        price = rng.choice(list(book))
        level = book[price]
        unit = 1 if m.fractional else 100
        amount = level
        if rng.random() < 0.5:
            amount = (level * rng.randint(1, 9) // 10) // unit * unit or level
        ts = stamp(m, now_ms)
        change(m, yes_side, price, -amount, ts, out)
        ticker_out(m, ts, out)

    def _trade(self, m: Market, now_ms: int, out: list[Out]) -> None:
        """A taker order crossing the best level of the opposite book: delta, trade, ticker."""
        rng = self.rng
        taker_yes = rng.random() < 0.5
        opp = m.no if taker_yes else m.yes
        if len(opp) <= 1:
            self._add(m, now_ms, out)
            return
        best = max(opp)
        count = min(opp[best], self._size(m))
        ts = stamp(m, now_ms)
        change(m, not taker_yes, best, -count, ts, out)
        yes_price = 100 - best if taker_yes else best
        self._record_trade(m, ts, yes_price, count, taker_yes, block=False, oi_grows=rng.random() < 0.6, out=out)
        ticker_out(m, ts, out)
