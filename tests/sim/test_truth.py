"""The ground truth agrees with what REST and the WebSocket serve, and with itself.

These are the guarantees collector tests build on: a client whose book is valid and whose next
delta for a market has ts_ms = N holds ``truth.book(ticker, at_ts_ms=N-1)``; REST order books,
trades (every page exactly once) and candles equal the truth; lifecycle and cutoff moves show up
in both tiers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from kalshi_collector.sim import SimExchange

from .conftest import active_tickers, connect, get_json, make_config


def cents(dollars: str) -> int:
    value = Decimal(dollars) * 100
    assert value == value.to_integral_value(), dollars
    return int(value)


def contracts(fp: str) -> float:
    return float(Decimal(fp))


async def test_every_delta_lands_on_the_true_book(key_pair, http) -> None:  # noqa: ANN001
    """Replaying the stream, the book before each delta (ts N) equals truth at N-1, and each
    market's delta ts_ms is strictly increasing."""
    async with SimExchange(make_config(key_pair, message_rate=4000.0)) as sim:
        tickers = active_tickers(sim) + active_tickers(sim, "KXHIGHNY")[:2]
        c = await connect(http, sim, key_pair)
        await c.send("subscribe", channels=["orderbook_delta"], market_tickers=tickers)
        messages = []
        while len(messages) < 3000:
            m = await c.recv(2)
            assert m is not None
            messages.append(m)
        sim.pause_flow()
        messages += await c.drain(0.2)
    books: dict[str, dict[str, dict[int, float]]] = {}
    last_ts: dict[str, int] = {}
    checked = 0
    for m in messages:
        msg = m.get("msg")
        if m["type"] == "orderbook_snapshot":
            books[msg["market_ticker"]] = {
                "yes": {cents(p): contracts(q) for p, q in msg.get("yes_dollars_fp", [])},
                "no": {cents(p): contracts(q) for p, q in msg.get("no_dollars_fp", [])}}
        elif m["type"] == "orderbook_delta":
            t, ts = msg["market_ticker"], msg["ts_ms"]
            assert ts > last_ts.get(t, 0)
            last_ts[t] = ts
            assert books[t] == sim.truth.book(t, at_ts_ms=ts - 1)
            side = books[t][msg["side"]]
            price = cents(msg["price_dollars"])
            level = round(side.get(price, 0) + contracts(msg["delta_fp"]), 2)
            assert level >= 0
            if level:
                side[price] = level
            else:
                del side[price]
            checked += 1
    assert checked > 2000
    for t, book in books.items():
        assert book == sim.truth.book(t)


async def test_rest_orderbooks_equal_truth(sim, http) -> None:  # noqa: ANN001
    sim.step(3000)
    tickers = [m.ticker for m in sim.model.active]
    _, batch = await get_json(http, sim, "/markets/orderbooks?" + "&".join(f"tickers={t}" for t in tickers))
    for entry in batch["orderbooks"]:
        _, single = await get_json(http, sim, f"/markets/{entry['ticker']}/orderbook")
        assert single["orderbook_fp"] == entry["orderbook_fp"]
        truth = sim.truth.book(entry["ticker"])
        got = {side: {cents(p): contracts(q) for p, q in entry["orderbook_fp"][f"{side}_dollars"]} for side in ("yes", "no")}
        assert got == truth
        yes = entry["orderbook_fp"]["yes_dollars"]
        assert [cents(p) for p, _ in yes] == sorted(cents(p) for p, _ in yes)  # ascending, best last


async def page_all(http, sim, path: str, key: str, **params: str) -> list[dict]:  # noqa: ANN001
    items: list[dict] = []
    cursor = ""
    while True:
        query = dict(params, cursor=cursor) if cursor else params
        status, body = await get_json(http, sim, path, **query)
        assert status == 200, body
        items += body[key]
        cursor = body["cursor"]
        if not cursor:
            return items


async def test_trade_pages_walk_every_trade_exactly_once(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair, message_rate=3000.0)) as sim:
        await asyncio.sleep(0.2)
        before = {t["trade_id"] for t in sim.truth.trades()}
        live = await page_all(http, sim, "/markets/trades", "trades", limit="37")  # trades keep arriving meanwhile
        hist = await page_all(http, sim, "/historical/trades", "trades", limit="113")
        sim.pause_flow()
        ids = [t["trade_id"] for t in live + hist]
        assert len(ids) == len(set(ids))
        assert before <= set(ids)
        cutoff = sim.model.cutoff_ms
        assert all(_ms(t["created_time"]) >= cutoff for t in live)
        assert all(_ms(t["created_time"]) < cutoff for t in hist)
        # flow stopped: the tiers together are exactly the truth, newest first
        live = await page_all(http, sim, "/markets/trades", "trades", limit="1000")
        hist = await page_all(http, sim, "/historical/trades", "trades", limit="1000")
        truth = sim.truth.trades()
        assert [t["trade_id"] for t in live + hist] == [t["trade_id"] for t in reversed(truth)]
        for got, want in zip(live + hist, reversed(truth), strict=True):
            assert cents(got["yes_price_dollars"]) == want["yes_price_cents"]
            assert cents(got["yes_price_dollars"]) + cents(got["no_price_dollars"]) == 100
            assert contracts(got["count_fp"]) == want["count"]
            assert got["taker_outcome_side"] == want["taker_outcome_side"] == got["taker_side"]
            assert _ms(got["created_time"]) == want["created_ms"]
        # ticker + time window filters
        ticker = active_tickers(sim)[3]
        lo = sim.model.market_by_ticker[ticker].open_ms // 1000 + 3600
        hi = lo + 6 * 3600
        window = await page_all(http, sim, "/markets/trades", "trades", ticker=ticker, min_ts=str(lo),
                                max_ts=str(hi), limit="7")
        want = [t["trade_id"] for t in reversed(sim.truth.trades(ticker, lo, hi)) if t["created_ms"] >= cutoff]
        assert [t["trade_id"] for t in window] == want and want


def _ms(rfc3339: str) -> int:
    return round(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


async def test_market_and_event_pages_cover_everything_once(sim, http) -> None:  # noqa: ANN001
    markets = await page_all(http, sim, "/markets", "markets", limit="7")
    want = [m["ticker"] for m in sim.truth.markets() if not m["historical"]]
    assert [m["ticker"] for m in markets] == want
    events = await page_all(http, sim, "/events", "events", limit="5")
    assert [e["event_ticker"] for e in events] == [e["event_ticker"] for e in sim.truth.events()]
    hist = await page_all(http, sim, "/historical/markets", "markets", limit="4")
    assert [m["ticker"] for m in hist] == [m["ticker"] for m in sim.truth.markets() if m["historical"]]
    opened = await page_all(http, sim, "/markets", "markets", status="open", limit="5")
    assert {m["ticker"] for m in opened} == {m.ticker for m in sim.model.active}
    unopened = await page_all(http, sim, "/markets", "markets", status="unopened")
    assert unopened and all(m["status"] == "initialized" for m in unopened)


async def test_candles_agree_with_truth_and_with_the_trades(sim, http) -> None:  # noqa: ANN001
    sim.step(2000)
    settled_live = next(m for m in sim.model.markets if m.status == "finalized" and not sim.model.is_historical(m))
    active = sim.model.active[2]
    for m in (settled_live, active):
        start, end = m.open_ms // 1000 - 7200, m.close_ms // 1000
        for period in (1, 60, 1440):
            _, body = await get_json(http, sim, f"/series/{m.series_ticker}/markets/{m.ticker}/candlesticks",
                                     start_ts=str(start), end_ts=str(end), period_interval=str(period))
            truth = sim.truth.candles(m.ticker, period, start, end)
            assert body["candlesticks"] == truth and truth
            # independent check from the trade list: volume, OHLC, previous
            trades = sim.truth.trades(m.ticker)
            for c in truth:
                e_ms = c["end_period_ts"] * 1000
                inside = [t for t in trades if e_ms - period * 60_000 < t["created_ms"] <= e_ms]
                earlier = [t for t in trades if t["created_ms"] <= e_ms - period * 60_000]
                assert contracts(c["volume_fp"]) == round(sum(t["count"] for t in inside), 2)
                p = c["price"]
                if inside:
                    prices = [t["yes_price_cents"] for t in inside]
                    assert [cents(p["open_dollars"]), cents(p["high_dollars"]), cents(p["low_dollars"]),
                            cents(p["close_dollars"])] == [prices[0], max(prices), min(prices), prices[-1]]
                    assert min(prices) <= Decimal(p["mean_dollars"]) * 100 <= max(prices)
                else:
                    assert p["close_dollars"] is None and p["open_dollars"] is None
                want_prev = earlier[-1]["yes_price_cents"] if earlier else None
                assert (cents(p["previous_dollars"]) if p["previous_dollars"] else None) == want_prev
    # batch and event endpoints serve the same candles
    tickers = [m.ticker for m in active.event.markets]
    start, end = active.open_ms // 1000, active.open_ms // 1000 + 6 * 3600
    _, batch = await get_json(http, sim, "/markets/candlesticks", market_tickers=",".join(tickers), start_ts=str(start),
                              end_ts=str(end), period_interval="60")
    _, ev = await get_json(http, sim, f"/series/{active.series_ticker}/events/{active.event.ticker}/candlesticks",
                           start_ts=str(start), end_ts=str(end), period_interval="60")
    assert [x["market_ticker"] for x in batch["markets"]] == tickers == ev["market_tickers"]
    for x, rows in zip(batch["markets"], ev["market_candlesticks"], strict=True):
        assert x["candlesticks"] == rows == sim.truth.candles(x["market_ticker"], 60, start, end)
    assert ev["adjusted_end_ts"] == end


async def test_include_latest_before_start(sim, http) -> None:  # noqa: ANN001
    m = sim.model.active[1]
    start = m.open_ms // 1000 + 5 * 3600 + 600  # not on an hour boundary
    end = start + 4 * 3600
    _, body = await get_json(http, sim, f"/series/{m.series_ticker}/markets/{m.ticker}/candlesticks",
                             start_ts=str(start), end_ts=str(end), period_interval="60",
                             include_latest_before_start="true")
    synthetic, first_real = body["candlesticks"][0], body["candlesticks"][1]
    assert synthetic["end_period_ts"] == -(-start // 3600) * 3600
    assert synthetic["price"]["close_dollars"] is None and synthetic["volume_fp"] == "0.00"
    before = sim.truth.candles(m.ticker, 60, start - 3 * 3600, start - 1)[-1]
    assert synthetic["price"]["previous_dollars"] == (before["price"]["close_dollars"]
                                                      or before["price"]["previous_dollars"])
    assert synthetic["yes_bid"]["close_dollars"] == before["yes_bid"]["close_dollars"]
    assert first_real == sim.truth.candles(m.ticker, 60, start, end)[0]


async def test_historical_candles_and_shape(sim, http) -> None:  # noqa: ANN001
    old = next(m for m in sim.model.markets if sim.model.is_historical(m))
    start, end = old.open_ms // 1000, old.close_ms // 1000 + 86400
    _, body = await get_json(http, sim, f"/historical/markets/{old.ticker}/candlesticks", start_ts=str(start),
                             end_ts=str(end), period_interval="1440")
    assert body["candlesticks"] == sim.truth.candles(old.ticker, 1440, start, end, historical=True)
    total = sum(contracts(c["volume"]) for c in body["candlesticks"])
    assert round(total, 2) == round(sum(t["count"] for t in sim.truth.trades(old.ticker)), 2)
    assert body["candlesticks"][-1]["yes_bid"]["close"] == "0.0000"  # the book is gone after close
    status, _ = await get_json(http, sim, f"/series/{old.series_ticker}/markets/{old.ticker}/candlesticks",
                               start_ts=str(start), end_ts=str(end), period_interval="1440")
    assert status == 404


async def test_advance_day_runs_the_lifecycle(sim, http, key_pair) -> None:  # noqa: ANN001
    c = await connect(http, sim, key_pair)
    oldest = min((m.event for m in sim.model.active if m.series_ticker == "KXHIGHCHI"), key=lambda e: e.day)
    closing = [m.ticker for m in oldest.markets]
    waiting = next(e for e in sim.model.events if e.series.ticker == "KXHIGHCHI"
                   and all(m.status == "initialized" for m in e.markets))
    await c.call("subscribe", channels=["market_lifecycle_v2"])
    await c.call("subscribe", channels=["orderbook_delta"], market_tickers=closing[:2])
    sim.step(300)
    await c.drain()
    out = sim.advance_day()
    assert out
    messages = await c.drain()
    life = [m for m in messages if m["type"] in ("market_lifecycle_v2", "event_lifecycle")]
    kinds = [(m["msg"].get("event_type", "event"), m["msg"].get("market_ticker", m["msg"].get("event_ticker")))
             for m in life]
    for t in closing:
        assert ("determined", t) in kinds and ("settled", t) in kinds
    created = [t for k, t in kinds if k == "created" and t.startswith("KXHIGHCHI")]
    assert len(created) == 6 and ("event", created[0].rsplit("-", 1)[0]) in kinds
    assert [m["seq"] for m in life] == list(range(1, len(life) + 1))
    # the closing books were emptied by deltas, the truth agrees
    for t in closing[:2]:
        assert sim.truth.book(t) == {"yes": {}, "no": {}}
    results = []
    outcome = sim.truth.outcome(oldest.ticker)
    for t in closing:
        _, body = await get_json(http, sim, f"/markets/{t}")
        market = body["market"]
        assert market["status"] == "finalized" and market["expiration_value"] == str(outcome)
        covers = {"less": lambda mk: outcome < mk["cap_strike"],
                  "greater": lambda mk: outcome > mk["floor_strike"],
                  "between": lambda mk: mk["floor_strike"] <= outcome <= mk["cap_strike"]}[market["strike_type"]]
        assert market["result"] == ("yes" if covers(market) else "no")
        assert market["settlement_value_dollars"] == ("1.0000" if covers(market) else "0.0000")
        results.append(market["result"])
    assert results.count("yes") == 1 and results.count("no") == 5  # brackets are mutually exclusive
    _, body = await get_json(http, sim, "/markets", event_ticker=waiting.ticker)
    assert {m["status"] for m in body["markets"]} == {"active"}
    _, body = await get_json(http, sim, "/markets", event_ticker=created[0].rsplit("-", 1)[0])
    assert {m["status"] for m in body["markets"]} == {"initialized"}


async def test_cutoff_moves_settled_markets_to_the_historical_tier(sim, http) -> None:  # noqa: ANN001
    m = next(x for x in sim.model.markets if x.status == "finalized" and not sim.model.is_historical(x))
    assert (await get_json(http, sim, f"/markets/{m.ticker}"))[0] == 200
    assert (await get_json(http, sim, f"/historical/markets/{m.ticker}"))[0] == 404
    live_trades = await page_all(http, sim, "/markets/trades", "trades", ticker=m.ticker, limit="1000")
    hist_trades = await page_all(http, sim, "/historical/trades", "trades", ticker=m.ticker, limit="1000")
    assert len(live_trades) + len(hist_trades) == len(sim.truth.trades(m.ticker))
    sim.set_cutoff(datetime.fromtimestamp((m.settlement_ms + 1000) / 1000, tz=UTC))
    _, cutoff = await get_json(http, sim, "/historical/cutoff")
    assert cutoff["market_settled_ts"] == sim.cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await get_json(http, sim, f"/markets/{m.ticker}"))[0] == 404
    assert (await get_json(http, sim, f"/historical/markets/{m.ticker}"))[0] == 200
    _, event = await get_json(http, sim, f"/events/{m.event.ticker}")
    assert event["event"]["event_ticker"] == m.event.ticker and m.ticker not in {x["ticker"] for x in event["markets"]}
    assert await page_all(http, sim, "/markets/trades", "trades", ticker=m.ticker) == []
    hist_trades = await page_all(http, sim, "/historical/trades", "trades", ticker=m.ticker, limit="1000")
    assert len(hist_trades) == len(sim.truth.trades(m.ticker))
