"""The exchange's past, made once at start-up: the events listed before now, the ones already
settled, and the trades and quotes they had.

The initial state describes one reference instant (``today`` at the clock's hour, see
:func:`reference_ms`), so two simulators started minutes apart with the same seed build the same
history. Trades are generated with numpy, vectorised per market, because a million history
trades must build in seconds. Every draw comes from one numpy generator, market by market and
column by column in a fixed order: reordering them would change every seeded history, which the
tests compare byte for byte.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import numpy as np

from kalshi_collector.sim.booklog import append_quote
from kalshi_collector.sim.catalog import SeriesSpec
from kalshi_collector.sim.listing import Listing, event_times, outcome_result
from kalshi_collector.sim.records import DAY_MS, HOUR_MS, MINUTE_MS, Market
from kalshi_collector.sim.wirefmt import day_start_ms

__all__ = ["Past", "build_past", "reference_ms", "finalize_past", "generate_history", "history_quote"]


class Past(NamedTuple):
    """What :func:`build_past` leaves for the live side to start from."""

    trades: int  # history trades made: the first live trade's exchange-wide number (gseq)
    end_ms: int  # history ends here; live opening books are seeded after it


def reference_ms(today: date, now_ms: int) -> int:
    """The instant the initial state describes: ``today`` at the clock's hour of day.

    Quantised to the hour so two simulators started minutes apart with the same seed build
    the same history; statuses (initialized / active / finalized) follow this instant.
    """
    hour_of_day = (now_ms % DAY_MS) // HOUR_MS * HOUR_MS
    return day_start_ms(today) + hour_of_day


def build_past(listing: Listing, series: list[SeriesSpec], *, today: date, now_ms: int, history_days: int,
               trades_per_market: int, g: np.random.Generator) -> Past:
    """List every event created by the reference instant, settle or open it, give it its history."""
    ref = reference_ms(today, now_ms)
    end_ms = min(ref, now_ms) - 2_000
    markets = _list_past(listing, series, today - timedelta(days=history_days), ref)
    trades = generate_history(markets, end_ms, trades_per_market, g)
    for m in listing.markets:
        m.prev_yes_bid, m.prev_yes_ask, m.prev_price = history_quote(m)
    return Past(trades, end_ms)


def _list_past(listing: Listing, series: list[SeriesSpec], first: date, ref_ms: int) -> list[Market]:
    """Each series' daily events from ``first`` on, while created by ``ref_ms``, in their status then."""
    markets: list[Market] = []
    for spec in series:
        day = first
        while True:
            created = event_times(spec, day)["created"]
            if created > ref_ms:
                break
            event = listing.new_event(spec, day, created_ms=created)
            for m in event.markets:
                if m.close_ms <= ref_ms:
                    finalize_past(m, ref_ms)
                elif m.open_ms <= ref_ms:
                    m.status = "active"
                markets.append(m)
            day += timedelta(days=1)
    return markets


def finalize_past(m: Market, ref_ms: int) -> None:
    """A market that closed before ``ref_ms``: determined and settled on Kalshi's usual delays."""
    m.status = "finalized"
    m.result = outcome_result(m)
    settle = max(m.close_ms + 2 * MINUTE_MS, min(m.close_ms + 9 * HOUR_MS + 31 * MINUTE_MS, ref_ms - MINUTE_MS))
    m.determination_ms = settle - 30 * MINUTE_MS - 1_000
    m.settlement_ms = settle
    m.updated_ms = settle


def generate_history(markets: list[Market], end_ms: int, trades_per_market: int, g: np.random.Generator) -> int:
    """Trades and quotes for ``markets`` up to ``end_ms``; returns how many trades were made."""
    made: list[tuple[Market, np.ndarray]] = []
    for m in markets:
        ts = _market_history(m, end_ms, trades_per_market, g)
        if ts is not None:
            made.append((m, ts))
    return _number_trades(made)


def history_quote(m: Market) -> tuple[int, int, int]:
    """(yes_bid, yes_ask, last price) as of the end of history: Kalshi's ``previous_*`` values."""
    bid = ask = 0
    for i in range(len(m.q_ts) - 1, -1, -1):
        if m.q_bid[i] or m.q_ask[i]:
            bid, ask = m.q_bid[i], m.q_ask[i]
            break
    return bid, ask, m.last_price


def _market_history(m: Market, end_ms: int, trades_per_market: int, g: np.random.Generator) -> np.ndarray | None:
    """One market's trades (their times, or None when it has none) spread over its trading window."""
    start = m.open_ms
    end = min(m.close_ms, end_ms)
    if end <= start + 1000 or trades_per_market == 0:
        _close_quote(m)
        return None
    n = int(round(trades_per_market * (end - start) / (m.close_ms - m.open_ms)))
    n = max(1, min(n, (end - start) // 2))
    ts = np.sort(g.integers(start, end, n))
    ts = np.maximum.accumulate(ts - np.arange(n)) + np.arange(n)  # strictly increasing
    ts = ts[ts < end]
    if len(ts) == 0:
        return None  # no closing quote on this path (unlike the one above): seeded output depends on it
    _fill(m, ts, g)
    _close_quote(m)
    return ts


def _close_quote(m: Market) -> None:
    """A settled market's quote series ends empty at its close (its book was cleared)."""
    if m.status == "finalized":
        append_quote(m, m.close_ms, 0, 0)


def _fill(m: Market, ts: np.ndarray, g: np.random.Generator) -> None:
    """Draw the trades at ``ts`` (price walk, sizes, sides, open interest, quotes) into ``m``'s columns."""
    n = len(ts)
    price = _prices(m, n, g)
    count = _counts(m, n, g)
    taker_yes = (g.random(n) < 0.5).astype(np.int8)
    block = (g.random(n) < 0.005).astype(np.int8)
    step = np.where(g.random(n) < 0.7, count, -count)
    walk = np.cumsum(step)
    oi = walk - np.minimum(np.minimum.accumulate(walk), 0)  # reflected at zero: never negative
    spread = g.integers(1, 4, n)
    ask = np.where(taker_yes == 1, price, price + spread)
    bid = np.where(taker_yes == 1, price - spread, price)
    bid = np.clip(bid, 1, 98)
    ask = np.clip(np.maximum(ask, bid + 1), 2, 99)
    m.t_ts.frombytes(ts.astype(np.int64).tobytes())
    m.t_price.frombytes(price.astype(np.int8).tobytes())
    m.t_cum.frombytes(np.cumsum(count).astype(np.int64).tobytes())
    m.t_cumpx.frombytes(np.cumsum(count * price).astype(np.int64).tobytes())
    m.t_oi.frombytes(oi.astype(np.int64).tobytes())
    m.t_taker_yes.frombytes(taker_yes.tobytes())
    m.t_block.frombytes(block.tobytes())
    m.q_ts.frombytes(ts.astype(np.int64).tobytes())
    m.q_bid.frombytes(bid.astype(np.int8).tobytes())
    m.q_ask.frombytes(ask.astype(np.int8).tobytes())
    m.last_trade_size = int(count[-1])
    m.last_ts = int(ts[-1])


def _prices(m: Market, n: int, g: np.random.Generator) -> np.ndarray:
    """A noisy walk from the fair price to the settlement (99 or 1), or around the fair price while open."""
    target = (99 if outcome_result(m) == "yes" else 1) if m.status == "finalized" else m.anchor_c
    frac = np.arange(1, n + 1) / n
    drift = m.anchor_c + (target - m.anchor_c) * frac**3
    noise = np.cumsum(g.integers(-2, 3, n)) * 0.6
    noise -= noise * frac  # pin the walk to the drift at the end
    return np.clip(np.rint(drift + noise), 1, 99).astype(np.int64)


def _counts(m: Market, n: int, g: np.random.Generator) -> np.ndarray:
    """Trade sizes in hundredths: whole contracts, a fifth of them fractional on fractional markets."""
    whole = (np.minimum(g.geometric(0.02, n), 2000) * 100).astype(np.int64)
    if m.fractional:
        frac_mask = g.random(n) < 0.2
        whole = np.where(frac_mask, g.integers(1, 5000, n), whole)
    return whole


def _number_trades(made: list[tuple[Market, np.ndarray]]) -> int:
    """Give every history trade its exchange-wide number (gseq); returns how many there are.

    Insertion order is time order across markets (stable: ties keep market order).
    """
    if not made:
        return 0
    all_ts = np.concatenate([ts for _, ts in made])
    order = np.argsort(all_ts, kind="stable")
    gseq = np.empty(len(order), dtype=np.int64)
    gseq[order] = np.arange(len(order), dtype=np.int64)
    offset = 0
    for m, ts in made:
        part = gseq[offset: offset + len(ts)]
        offset += len(ts)
        m.t_gseq.frombytes(part.tobytes())
    return len(order)
