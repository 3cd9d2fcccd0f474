"""WebSocket protocol behaviour: sequence numbers, commands, error codes, options, heartbeats."""

from __future__ import annotations

import aiohttp

from kalshi_collector.sim import SimExchange

from .conftest import active_tickers, connect, make_config


def seqs_by_sid(messages: list[dict]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for m in messages:
        if "seq" in m:
            out.setdefault(m["sid"], []).append(m["seq"])
    return out


async def test_seq_is_per_sid_and_counts_ok_and_unsubscribed(sim, http, key_pair) -> None:  # noqa: ANN001
    chi = active_tickers(sim)
    c = await connect(http, sim, key_pair)
    messages = await c.call("subscribe", channels=["orderbook_delta", "trade", "ticker"], market_tickers=chi[:3])
    sim.step(300)
    messages += await c.call("update_subscription", sid=1, action="add_markets", market_tickers=[chi[3]])
    messages += await c.call("update_subscription", sid=1, action="bogus_action", market_tickers=[chi[3]])
    sim.step(300)
    messages += await c.call("unsubscribe", sids=[1, 2])
    subscribed = [m for m in messages if m["type"] == "subscribed"]
    assert [(m["msg"]["channel"], m["msg"]["sid"]) for m in subscribed] == [
        ("orderbook_delta", 1), ("trade", 2), ("ticker", 3)]
    for sid, seqs in seqs_by_sid(messages).items():
        assert seqs == list(range(1, len(seqs) + 1)), sid
    book = [m for m in messages if m.get("sid") == 1]
    assert [m["type"] for m in book[:3]] == ["orderbook_snapshot"] * 3  # one snapshot per market, first
    assert {m["msg"]["market_ticker"] for m in book[:3]} == set(chi[:3])
    ok = next(m for m in book if m["type"] == "ok")
    assert ok["msg"]["market_tickers"] == chi[:4] and ok["id"] == 2
    assert book[book.index(ok) + 1]["type"] == "orderbook_snapshot"  # the added market's snapshot
    err = next(m for m in book if m["type"] == "error")
    assert err["msg"]["code"] == 13 and err["seq"] == ok["seq"] + 1 + 1  # ok, snapshot, then the error
    unsub = [m for m in messages if m["type"] == "unsubscribed"]
    assert [m["sid"] for m in unsub] == [1, 2]
    assert unsub[0]["seq"] == book[-1]["seq"]
    assert all("seq" not in m for m in messages if m["type"] == "ticker")
    assert all(m["sid"] == 3 for m in messages if m["type"] == "ticker")


async def test_error_codes(sim, http, key_pair) -> None:  # noqa: ANN001
    chi = active_tickers(sim)
    c = await connect(http, sim, key_pair)
    await c.ws.send_str("this is not json")
    await c.send("subscribe")
    await c.send("subscribe", channels=[])
    await c.send("subscribe", channels=["ticker_v2"])
    await c.send("subscribe", channels=["orderbook_delta"])
    await c.send("subscribe", channels=["orderbook_delta"], market_tickers=["KXHIGHCHI-99JAN01-B1.5"])
    await c.send("unsubscribe", sids=[])
    await c.send("unsubscribe", sids=[42])
    await c.send("list_channels")
    await c.send("subscribe", channels=["orderbook_delta"], market_ticker=chi[0])
    await c.send("update_subscription", sids=[1, 2], action="get_snapshot", market_tickers=[chi[0]])
    await c.send("update_subscription", sid=1, market_tickers=[chi[0]])
    await c.send("update_subscription", sid=1, action="add_markets")
    await c.send("update_subscription", sid=9, action="add_markets", market_tickers=[chi[0]])
    await c.send("subscribe", channels=["ticker"], market_tickers="not-a-list")
    messages = [m for m in await c.drain() if m["type"] == "error"]
    assert [m["msg"]["code"] for m in messages] == [1, 2, 3, 8, 14, 16, 4, 7, 5, 12, 15, 14, 7, 11]
    assert all(isinstance(m["msg"]["msg"], str) and m["msg"]["msg"] for m in messages)
    scoped = [m for m in messages if "sid" in m]
    assert [(m["msg"]["code"], m["sid"], m["seq"]) for m in scoped] == [(15, 1, 2), (14, 1, 3)]


async def test_update_subscription_checks_the_action_against_the_channel(sim, http, key_pair) -> None:  # noqa: ANN001
    chi = active_tickers(sim)
    c = await connect(http, sim, key_pair)
    await c.call("subscribe", channels=["orderbook_delta"], market_tickers=chi[:2])
    await c.call("subscribe", channels=["ticker"], market_tickers=chi[:2])
    await c.call("subscribe", channels=["trade"])
    await c.drain()
    await c.send("update_subscription", sid=1, action=["add_markets"], market_tickers=[chi[2]])  # not a name
    await c.send("update_subscription", sid=2, action="get_snapshot", market_tickers=[chi[0]])  # books only
    await c.send("update_subscription", sid=1, action="get_snapshot", market_tickers=[chi[3]])  # not subscribed
    await c.send("update_subscription", sid=3, action="add_markets", market_tickers=[chi[0]])  # all markets
    await c.send("update_subscription", sid=2, action="delete_markets", market_tickers=[chi[0]])
    messages = await c.drain()
    errors = [m for m in messages if m["type"] == "error"]
    assert [(m["msg"]["code"], m["sid"]) for m in errors] == [(13, 1), (13, 2), (11, 1), (11, 3)]
    assert errors[2]["msg"]["market_tickers"] == [chi[3]]
    (ok,) = [m for m in messages if m["type"] == "ok"]
    assert ok["sid"] == 2 and ok["msg"]["market_tickers"] == [chi[1]]


async def test_use_yes_price_quotes_no_side_in_yes_terms(sim, http, key_pair) -> None:  # noqa: ANN001
    ticker = active_tickers(sim)[2]
    no_terms = await connect(http, sim, key_pair)
    yes_terms = await connect(http, sim, key_pair)
    await no_terms.call("subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
    await yes_terms.call("subscribe", channels=["orderbook_delta"], market_tickers=[ticker], use_yes_price=True)
    sim.step(400)
    a = [m for m in await no_terms.drain() if m["type"] == "orderbook_delta"]
    b = [m for m in await yes_terms.drain() if m["type"] == "orderbook_delta"]
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        if x["msg"]["side"] == "no":
            assert round(1 - float(x["msg"]["price_dollars"]), 4) == float(y["msg"]["price_dollars"])
        else:
            assert x["msg"] == y["msg"]
    assert any(x["msg"]["side"] == "no" for x in a)


async def test_get_snapshot_answers_with_the_current_book(sim, http, key_pair) -> None:  # noqa: ANN001
    ticker = active_tickers(sim)[1]
    c = await connect(http, sim, key_pair)
    await c.call("subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
    sim.step(200)
    await c.drain()
    cmd = await c.send("update_subscription", sid=1, action="get_snapshot", market_tickers=[ticker])
    (snap,) = await c.drain()
    assert snap["type"] == "orderbook_snapshot" and snap["id"] == cmd
    truth = sim.truth.book(ticker)
    got = {"yes": {round(float(p) * 100): float(q) for p, q in snap["msg"].get("yes_dollars_fp", [])},
           "no": {round(float(p) * 100): float(q) for p, q in snap["msg"].get("no_dollars_fp", [])}}
    assert got == truth


async def test_all_market_subscriptions_and_list(sim, http, key_pair) -> None:  # noqa: ANN001
    c = await connect(http, sim, key_pair)
    await c.call("subscribe", channels=["ticker", "trade"])
    sim.step(2000)
    cmd = await c.send("list_subscriptions")
    messages = await c.drain()
    tickers = {m["msg"]["market_ticker"] for m in messages if m["type"] in ("ticker", "trade")}
    assert tickers == {m.ticker for m in sim.model.active}
    listing = next(m for m in messages if m.get("id") == cmd)
    assert listing == {"id": cmd, "type": "ok", "msg": [{"channel": "ticker", "sid": 1}, {"channel": "trade", "sid": 2}]}


async def test_ticker_messages_agree_with_the_book_and_trades(sim, http, key_pair) -> None:  # noqa: ANN001
    """ticker: yes_bid = best YES bid, yes_ask = 1 - best NO bid, price = last trade."""
    ticker = active_tickers(sim)[2]
    c = await connect(http, sim, key_pair)
    messages = await c.call("subscribe", channels=["orderbook_delta", "ticker", "trade"], market_tickers=[ticker])
    sim.step(1500)
    yes: dict[str, float] = {}
    no: dict[str, float] = {}
    last_trade = None
    checked = 0
    for m in messages + await c.drain():
        if m["type"] == "orderbook_snapshot":
            yes = {p: float(q) for p, q in m["msg"].get("yes_dollars_fp", [])}
            no = {p: float(q) for p, q in m["msg"].get("no_dollars_fp", [])}
        elif m["type"] == "orderbook_delta":
            book = yes if m["msg"]["side"] == "yes" else no
            level = round(book.get(m["msg"]["price_dollars"], 0) + float(m["msg"]["delta_fp"]), 2)
            if level:
                book[m["msg"]["price_dollars"]] = level
            else:
                book.pop(m["msg"]["price_dollars"])
        elif m["type"] == "trade":
            last_trade = m["msg"]
        elif m["type"] == "ticker":
            t = m["msg"]
            best_yes = max(yes, key=float) if yes else "0.0000"
            best_no = max(no, key=float) if no else None
            assert t["yes_bid_dollars"] == best_yes
            assert float(t["yes_bid_size_fp"]) == (yes[best_yes] if yes else 0)
            assert float(t["yes_ask_dollars"]) == (round(1 - float(best_no), 4) if best_no else 0)
            if last_trade is not None:
                assert t["price_dollars"] == last_trade["yes_price_dollars"]
                assert t["last_trade_size_fp"] == last_trade["count_fp"]
                assert t["ts_ms"] == last_trade["ts_ms"] or t["ts_ms"] > last_trade["ts_ms"]
            checked += 1
    assert checked > 20


async def test_ping_frames_carry_heartbeat(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair, ping_interval=0.1)) as sim:
        c = await connect(http, sim, key_pair, autoping=False)
        msg = await c.ws.receive(timeout=2)
        assert msg.type == aiohttp.WSMsgType.PING and msg.data == b"heartbeat"
        await c.ws.pong(msg.data)
        await c.ws.close()
