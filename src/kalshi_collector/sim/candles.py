"""Candlesticks computed from a market's recorded trades and best-quote series.

One function serves the live REST endpoints, the historical endpoint (different field names)
and ``sim.truth.candles`` so the three can never disagree.

Period rule (exchange milliseconds): the candle with ``end_period_ts = E`` (Unix seconds, a
multiple of the period) covers trades and quote changes with ``E - period < ts <= E``. A candle
is emitted for every period that overlaps the market's trading life ``[open_time, min(close_time,
now)]`` and whose end lies in ``[start_ts, end_ts]``; periods without trades carry the quotes and
null trade prices (``previous`` = last trade price before the period).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from kalshi_collector.sim.model import Market
from kalshi_collector.sim.wirefmt import dollars, dollars_from_ten_thousandths, fp

__all__ = ["VALID_PERIODS", "period_ends", "requested_periods", "market_candles", "CandleRangeError"]

VALID_PERIODS = (1, 60, 1440)


class CandleRangeError(ValueError):
    """The request would produce more candles than the endpoint allows."""


def period_ends(m: Market, period_minutes: int, start_ts: int, end_ts: int, now_ms: int) -> range:
    """The ``end_period_ts`` values (seconds) the request covers for this market."""
    p = period_minutes * 60
    p_ms = p * 1000
    life_end_ms = min(m.close_ms, now_ms) if m.status in ("active", "initialized", "inactive") else m.close_ms
    first = max(-(-start_ts // p) * p, -(-m.open_ms // p_ms) * p)
    last = min(end_ts // p * p, (life_end_ms + p_ms - 1) // p_ms * p)
    if m.status == "initialized" or last < first:
        return range(0)
    return range(first, last + 1, p)


def requested_periods(period_minutes: int, start_ts: int, end_ts: int) -> int:
    """How many periods end in [start_ts, end_ts]: what the caps are checked against (the
    request's size, before it is clipped to the market's life)."""
    p = period_minutes * 60
    return max(0, end_ts // p - (-(-start_ts // p)) + 1)


def _mean(px_sum: int, count: int) -> int:
    """Volume-weighted mean price in 1/10,000 dollars, rounded half up (integers only)."""
    q, r = divmod(px_sum * 100, count)
    return q + (1 if 2 * r >= count else 0)


def _one(m: Market, end_s: int, p_ms: int, historical: bool) -> dict[str, Any]:
    end_ms = end_s * 1000
    start_ms = end_ms - p_ms
    # quotes: value in force at the period start, every change inside, value at the end
    qi = bisect_right(m.q_ts, start_ms) - 1
    qj = bisect_right(m.q_ts, end_ms)
    if qi >= 0:
        bids, asks = [m.q_bid[qi]], [m.q_ask[qi]]
    else:
        bids, asks = [], []
    bids.extend(m.q_bid[max(qi + 1, 0): qj])
    asks.extend(m.q_ask[max(qi + 1, 0): qj])
    if not bids:
        bids, asks = [0], [0]
    # trades in (start, end]
    ti = bisect_right(m.t_ts, start_ms)
    tj = bisect_right(m.t_ts, end_ms)
    before = m.t_price[ti - 1] if ti > 0 else None
    oi = m.t_oi[tj - 1] if tj > 0 else 0
    volume = (m.t_cum[tj - 1] if tj > 0 else 0) - (m.t_cum[ti - 1] if ti > 0 else 0)
    if historical:
        keys = ("open", "low", "high", "close")
    else:
        keys = ("open_dollars", "low_dollars", "high_dollars", "close_dollars")
    yes_bid = dict(zip(keys, (dollars(bids[0]), dollars(min(bids)), dollars(max(bids)), dollars(bids[-1])),
                       strict=True))
    yes_ask = dict(zip(keys, (dollars(asks[0]), dollars(min(asks)), dollars(max(asks)), dollars(asks[-1])),
                       strict=True))
    previous = dollars(before) if before is not None else None
    if tj > ti:
        prices = m.t_price[ti:tj]
        px = m.t_cumpx[tj - 1] - (m.t_cumpx[ti - 1] if ti > 0 else 0)
        mean = dollars_from_ten_thousandths(_mean(px, volume))
        lo, hi = dollars(min(prices)), dollars(max(prices))
        ohlc: tuple[str | None, ...] = (dollars(prices[0]), lo, hi, dollars(prices[-1]), mean, previous)
    else:
        ohlc = (None, None, None, None, None, previous)
        lo = hi = None
    if historical:
        price = dict(zip(("open", "low", "high", "close", "mean", "previous"), ohlc, strict=True))
        return {"end_period_ts": end_s, "yes_bid": yes_bid, "yes_ask": yes_ask, "price": price,
                "volume": fp(volume), "open_interest": fp(oi)}
    price = dict(zip(("open_dollars", "low_dollars", "high_dollars", "close_dollars", "mean_dollars",
                      "previous_dollars"), ohlc, strict=True))
    if lo is not None:
        price["min_dollars"] = lo
        price["max_dollars"] = hi
    return {"end_period_ts": end_s, "yes_bid": yes_bid, "yes_ask": yes_ask, "price": price,
            "volume_fp": fp(volume), "open_interest_fp": fp(oi)}


def market_candles(
    m: Market,
    period_minutes: int,
    start_ts: int,
    end_ts: int,
    now_ms: int,
    *,
    include_latest_before_start: bool = False,
    historical: bool = False,
    max_candles: int | None = None,
) -> list[dict[str, Any]]:
    """The candles a REST candlestick endpoint returns for one market (see module docstring).

    ``include_latest_before_start`` prepends Kalshi's synthetic candle: at the first period
    boundary at or after ``start_ts``, quotes = the close quotes of the latest real candle
    before ``start_ts``, trade prices null and ``previous`` = that candle's last trade price.
    """
    p = period_minutes * 60
    requested = requested_periods(period_minutes, start_ts, end_ts)
    if max_candles is not None and requested > max_candles:
        raise CandleRangeError(f"too many candlesticks requested ({requested} > {max_candles})")
    ends = period_ends(m, period_minutes, start_ts, end_ts, now_ms)
    rows = [_one(m, e, p * 1000, historical) for e in ends]
    if include_latest_before_start:
        earlier = period_ends(m, period_minutes, 0, -(-start_ts // p) * p - p, now_ms)
        if len(earlier):
            real = _one(m, earlier[-1], p * 1000, historical)
            close_key = "close" if historical else "close_dollars"
            prev_key = "previous" if historical else "previous_dollars"
            last_price = real["price"][close_key] or real["price"][prev_key]
            bid, ask = real["yes_bid"][close_key], real["yes_ask"][close_key]
            quote_keys = list(real["yes_bid"])
            price_keys = ("open", "low", "high", "close", "mean") if historical else (
                "open_dollars", "low_dollars", "high_dollars", "close_dollars", "mean_dollars")
            price: dict[str, str | None] = dict.fromkeys(price_keys)
            price[prev_key] = last_price
            synthetic = {
                "end_period_ts": -(-start_ts // p) * p,
                "yes_bid": dict.fromkeys(quote_keys, bid),
                "yes_ask": dict.fromkeys(quote_keys, ask),
                "price": price,
            }
            if historical:
                synthetic.update(volume="0.00", open_interest=real["open_interest"])
            else:
                synthetic.update(volume_fp="0.00", open_interest_fp=real["open_interest_fp"])
            rows.insert(0, synthetic)
    return rows
