"""The one way a market's book changes, and the log that lets the truth rebuild it at any instant.

Every change goes through :func:`change`: it is applied to the live book, appended to the
market's book log (with a full copy every ``CHECKPOINT_EVERY`` entries), folded into the
best-quote series, and published as an ``orderbook_delta``. Because nothing else touches a book,
:func:`book_at` replaying the log is the ground truth the collector tests compare against.

Exchange times come from :func:`stamp`: strictly increasing per market (bumped by 1 ms when the
clock has not moved), so "the book after every change with ``ts_ms <= t``" is well defined.
Functions, not a class: all the state they touch is the ``Market``'s own.
"""

from __future__ import annotations

from bisect import bisect_right

from kalshi_collector.sim.records import DELTA, TICKER, Market, Out
from kalshi_collector.sim.wirefmt import dollars, fp, iso_ms, iso_seconds

__all__ = ["CHECKPOINT_EVERY", "stamp", "append_quote", "change", "ticker_out", "ticker_body", "book_at"]

CHECKPOINT_EVERY = 1024  # book-log entries between stored book copies (truth lookups stay O(1k))


def stamp(m: Market, now_ms: int) -> int:
    """The exchange time of ``m``'s next change: ``now_ms``, or 1 ms after its last one."""
    ts = now_ms if now_ms > m.last_ts else m.last_ts + 1
    m.last_ts = ts
    return ts


def append_quote(m: Market, ts: int, bid: int, ask: int) -> None:
    """Record ``m``'s best quote at ``ts`` when it differs from the last one (0 = that side empty)."""
    if m.q_ts and m.q_bid[-1] == bid and m.q_ask[-1] == ask:
        return
    m.q_ts.append(ts)
    m.q_bid.append(bid)
    m.q_ask.append(ask)


def change(m: Market, yes_side: bool, price: int, delta: int, ts: int, out: list[Out] | None) -> None:
    """Apply one book change, log it for the truth, publish it as an orderbook_delta."""
    book = m.yes if yes_side else m.no
    level = book.get(price, 0) + delta
    if level < 0:
        raise AssertionError("book level below zero")  # a model bug, never input-driven
    if level:
        book[price] = level
    else:
        del book[price]
    m.log_ts.append(ts)
    m.log_price.append(price if yes_side else -price)
    m.log_delta.append(delta)
    if len(m.log_ts) % CHECKPOINT_EVERY == 0:
        m.checkpoints.append((len(m.log_ts), dict(m.yes), dict(m.no)))
    yb = max(m.yes) if m.yes else 0
    nb = max(m.no) if m.no else 0
    append_quote(m, ts, yb, (100 - nb) if nb else 0)
    if out is not None:
        head = f'{{"market_ticker":"{m.ticker}","market_id":"{m.market_id}","price_dollars":"'
        tail = f'","delta_fp":"{fp(delta)}","side":"{"yes" if yes_side else "no"}","ts":"{iso_ms(ts)}","ts_ms":{ts}}}'
        body = head + dollars(price) + tail
        body_yes = None if yes_side else head + dollars(100 - price) + tail
        out.append(Out(DELTA, m, ts, body, body_yes))


def ticker_out(m: Market, ts: int, out: list[Out] | None, force: bool = False) -> None:
    """Publish a ``ticker`` message when any of its fields changed (or when forced)."""
    yb, ybs, ya, yas = m.quote()
    key = (yb, ybs, ya, yas, m.last_price, m.volume, m.open_interest)
    if not force and key == m.ticker_key:
        return
    m.ticker_key = key
    if out is None:
        return
    out.append(Out(TICKER, m, ts, ticker_body(m, ts)))


def ticker_body(m: Market, ts: int) -> str:
    """The ``ticker`` message body for ``m`` as it stands, stamped ``ts``."""
    yb, ybs, ya, yas = m.quote()
    price = m.last_price
    oi = m.open_interest
    return (
        f'{{"market_id":"{m.market_id}","market_ticker":"{m.ticker}","price_dollars":"{dollars(price)}",'
        f'"yes_bid_dollars":"{dollars(yb)}","yes_ask_dollars":"{dollars(ya)}","volume_fp":"{fp(m.volume)}",'
        f'"open_interest_fp":"{fp(oi)}","dollar_volume":{m.dollar_volume_ten_thousandths() // 10000},'
        f'"dollar_open_interest":{oi * price // 10000},"yes_bid_size_fp":"{fp(ybs)}",'
        f'"yes_ask_size_fp":"{fp(yas)}","last_trade_size_fp":"{fp(m.last_trade_size)}",'
        f'"ts":{ts // 1000},"ts_ms":{ts},"time":"{iso_seconds(ts)}"}}'
    )


def book_at(m: Market, at_ts_ms: int | None) -> tuple[dict[int, int], dict[int, int]]:
    """(yes, no) books in cents -> hundredths after every change with ts_ms <= at_ts_ms."""
    if at_ts_ms is None:
        return dict(m.yes), dict(m.no)
    end = bisect_right(m.log_ts, at_ts_ms)
    cp = m.checkpoints[bisect_right(m.checkpoints, end, key=lambda c: c[0]) - 1]
    yes, no = dict(cp[1]), dict(cp[2])
    for i in range(cp[0], end):
        p = m.log_price[i]
        book, price = (yes, p) if p > 0 else (no, -p)
        level = book.get(price, 0) + m.log_delta[i]
        if level:
            book[price] = level
        else:
            book.pop(price, None)
    return yes, no
