"""The trade tape: every trade appended to its market's columns under one exchange-wide order.

``gseq`` numbers trades across all markets in the order they happened (history first, then live
flow). It is what ``GET /markets/trades`` pages by, newest first: a cursor is a ``gseq``, so a
page stays stable while new trades keep arriving. The columns keep cumulative sums (count,
price x count) so volume over any range is two lookups.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from kalshi_collector.sim.records import TRADE, Market, Out
from kalshi_collector.sim.wirefmt import dollars, fp

__all__ = ["TradeTape", "trade_indices"]


class TradeTape:
    """Appends live trades and owns the next exchange-wide insertion number.

    Starts at ``first_gseq``: the number of trades the generated history already holds.
    """

    __slots__ = ("gseq",)

    def __init__(self, first_gseq: int) -> None:
        self.gseq = first_gseq

    def record(self, m: Market, ts: int, yes_price: int, count: int, taker_yes: bool, *, block: bool,
               oi_grows: bool, out: list[Out] | None) -> None:
        """Append one trade to ``m`` and publish it; ``oi_grows``: it opened positions (else closed)."""
        oi = m.open_interest
        oi = oi + count if oi_grows else max(0, oi - count)
        i = len(m.t_ts)
        m.t_ts.append(ts)
        m.t_price.append(yes_price)
        m.t_cum.append((m.t_cum[-1] if m.t_cum else 0) + count)
        m.t_cumpx.append((m.t_cumpx[-1] if m.t_cumpx else 0) + count * yes_price)
        m.t_oi.append(oi)
        m.t_gseq.append(self.gseq)
        self.gseq += 1
        m.t_taker_yes.append(1 if taker_yes else 0)
        m.t_block.append(1 if block else 0)
        m.last_trade_size = count
        if out is not None:
            side = "yes" if taker_yes else "no"
            out.append(Out(TRADE, m, ts, (
                f'{{"trade_id":"{m.trade_id(i)}","market_ticker":"{m.ticker}","yes_price_dollars":"{dollars(yes_price)}",'
                f'"no_price_dollars":"{dollars(100 - yes_price)}","count_fp":"{fp(count)}","taker_side":"{side}",'
                f'"taker_outcome_side":"{side}","taker_book_side":"{"bid" if taker_yes else "ask"}",'
                f'"is_block_trade":{"true" if block else "false"},"ts":{ts // 1000},"ts_ms":{ts}}}'
            )))


def trade_indices(markets: list[Market], *, min_ms: int | None, max_ms: int | None,
                  before_gseq: int | None, block: bool | None) -> Iterator[tuple[Market, int]]:
    """Trades newest first (descending insertion order) across ``markets`` within the bounds.

    Lazy k-way merge of per-market ranges: a page of 1,000 from a million trades costs
    O(1,000 log markets), and ``before_gseq`` (the cursor) keeps pages stable while new
    trades keep arriving.
    """
    def one(m: Market) -> Iterator[tuple[int, Market, int]]:
        lo = 0 if min_ms is None else bisect_left(m.t_ts, min_ms)
        hi = len(m.t_ts) if max_ms is None else bisect_right(m.t_ts, max_ms)
        if before_gseq is not None:
            hi = min(hi, bisect_left(m.t_gseq, before_gseq))
        gs, bl = m.t_gseq, m.t_block
        for i in range(hi - 1, lo - 1, -1):
            if block is None or bool(bl[i]) == block:
                yield -gs[i], m, i

    for _neg, m, i in heapq.merge(*(one(m) for m in markets)):
        yield m, i
