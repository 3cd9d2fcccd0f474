"""The simulator at exchange scale: a universe of series across categories, busy markets, bursts,
and Kalshi's subscription limits answered with the real error codes (26, 27)."""

from __future__ import annotations

import asyncio
from collections import Counter

from kalshi_collector.sim import SimExchange
from kalshi_collector.sim.restmarkets import RENDER_SLICE
from kalshi_collector.sim.universe import universe_series
from kalshi_collector.sim.wshub import WsLimits

from .conftest import active_tickers, connect, get_json, make_config


def test_universe_reaches_the_size_asked_across_categories(key_pair) -> None:  # noqa: ANN001
    sim = SimExchange(make_config(key_pair, universe_markets=2_000, history_days=0, history_trades_per_market=0))
    assert 2_000 <= sim.open_markets < 2_000 + 2 * sim.config.brackets_per_event + 12 * 2
    cats = Counter(s.category for s in sim.model.series)
    assert {"Sports", "Crypto", "Economics", "Climate and Weather"} <= set(cats)
    assert cats["Sports"] > cats["Crypto"] > cats["Entertainment"]
    assert universe_series(50) == universe_series(50)  # the same universe on every run


def test_busy_markets_get_most_of_the_flow(key_pair) -> None:  # noqa: ANN001
    sim = SimExchange(make_config(key_pair, universe_markets=600, history_days=0, history_trades_per_market=0,
                                  busy_markets=20, busy_share=0.9))
    outs = sim.model.step(5_000, sim.now_ms())
    per_market = Counter(o.market.ticker for o in outs if o.market is not None)
    busy = {m.ticker for m in sim.model.busy}
    on_busy = sum(n for t, n in per_market.items() if t in busy)
    assert len(busy) == 20
    assert on_busy / sum(per_market.values()) > 0.8
    assert len(per_market) > 200  # the quiet ones still move now and then


def test_flow_rate_bursts(key_pair) -> None:  # noqa: ANN001
    sim = SimExchange(make_config(key_pair, message_rate=1_000, burst_rate=30_000, burst_every_s=10,
                                  burst_seconds=1))
    assert [sim.flow_rate(t) for t in (0.0, 0.5, 1.5, 9.9, 10.2, 11.5)] == [30_000, 30_000, 1_000, 1_000, 30_000, 1_000]


async def test_rest_lists_categories(key_pair, http) -> None:  # noqa: ANN001
    async with SimExchange(make_config(key_pair, universe_markets=300, history_days=0,
                                       history_trades_per_market=0)) as sim:
        status, body = await get_json(http, sim, "/series", category="Crypto")
        assert status == 200 and body["series"]
        assert {s["category"] for s in body["series"]} == {"Crypto"}
        status, body = await get_json(http, sim, "/events", status="open", with_nested_markets="true", limit=200)
        assert {e["category"] for e in body["events"]} >= {"Sports"}


async def test_a_listing_page_is_rendered_a_slice_at_a_time_and_reads_as_one_document(key_pair, http) -> None:  # noqa: ANN001
    """A page of 200 events with their markets is built over several loop turns (the feed sent
    from the same loop keeps moving: restmarkets.RENDER_SLICE); the pages still list every open
    event once, in order, as one JSON document each."""
    async with SimExchange(make_config(key_pair, universe_markets=2_000, history_days=0,
                                       history_trades_per_market=0)) as sim:
        seen, cursor, turns = [], "", 0
        ticking = True

        async def count_turns() -> None:
            nonlocal turns
            while ticking:
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.create_task(count_turns())
        while True:
            status, body = await get_json(http, sim, "/events", status="open", with_nested_markets="true",
                                          limit=200, cursor=cursor)
            assert status == 200 and set(body) == {"events", "cursor"}
            seen += [e["event_ticker"] for e in body["events"]]
            cursor = body["cursor"]
            if not cursor:
                break
        ticking = False
        await counter
        open_events = [e.ticker for e in sim.model.events if any(m.status == "active" for m in e.markets)]
        assert seen == open_events and len(seen) > 200
        assert turns > len(seen) // RENDER_SLICE  # at least one turn for others per slice of events


async def test_per_subscription_market_limit_is_error_26(key_pair, http) -> None:  # noqa: ANN001
    limits = WsLimits(max_markets_per_subscription=3)
    async with SimExchange(make_config(key_pair, ws_limits=limits)) as sim:
        chi = active_tickers(sim)
        c = await connect(http, sim, key_pair)
        await c.send("subscribe", channels=["orderbook_delta"], market_tickers=chi[:4])
        first = [m for m in await c.drain() if m["type"] == "error"]
        assert [m["msg"]["code"] for m in first] == [26] and "sid" not in first[0]
        await c.call("subscribe", channels=["orderbook_delta"], market_tickers=chi[:2])
        await c.send("update_subscription", sid=1, action="add_markets", market_tickers=chi[2:4])
        errors = [m for m in await c.drain() if m["type"] == "error"]
        assert [(m["msg"]["code"], m["sid"]) for m in errors] == [(26, 1)]
        assert sim.hub.conns[max(sim.hub.conns)].subs[1].tickers == chi[:2]  # nothing changed
        ok = await c.call("update_subscription", sid=1, action="add_markets", market_tickers=[chi[2]])
        assert any(m["type"] == "ok" and m["msg"]["market_tickers"] == chi[:3] for m in ok)


async def test_command_rate_limit_is_error_27(key_pair, http) -> None:  # noqa: ANN001
    limits = WsLimits(commands_per_second=0.001, command_burst=2)
    async with SimExchange(make_config(key_pair, ws_limits=limits)) as sim:
        c = await connect(http, sim, key_pair)
        for _ in range(4):
            await c.send("list_subscriptions")
        replies = await c.drain()
        assert [m["type"] for m in replies] == ["ok", "ok", "error", "error"]
        assert [m["msg"]["code"] for m in replies[2:]] == [27, 27]
