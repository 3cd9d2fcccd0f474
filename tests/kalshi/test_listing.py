"""The lean listing of open events (``kalshi/listing.py``): the same markets the full records give,
the same tolerance item by item, and the caller's event loop given a turn between slices."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from kalshi_collector.kalshi import listing
from kalshi_collector.kalshi import models as m
from kalshi_collector.kalshi.rest import KalshiRestClient


def _fixture_event(kalshi_fixtures: Path) -> dict:
    body = json.loads((kalshi_fixtures / "rest_get_event_with_nested_markets.json").read_text())
    event = body["event"]
    event["markets"] = event.get("markets") or body["markets"]
    return event


def _lean(page: dict, size: int = listing.SLICE_EVENTS) -> tuple[list[listing.ListedEvent], list[tuple[bytes, str]]]:
    rejects: list[tuple[bytes, str]] = []
    with m.rejects_to(lambda raw, why: rejects.append((raw, why))):
        raw_page = listing.decode_page(json.dumps(page).encode())
        events = [e for piece in listing.event_slices(raw_page, size) for e in piece]
    return events, rejects


def test_the_lean_listing_names_the_markets_the_full_records_do(kalshi_fixtures: Path) -> None:
    event = _fixture_event(kalshi_fixtures)
    page = {"events": [event], "cursor": ""}
    lean, rejects = _lean(page)
    full = [m.Event._from_wire(e) for e in msgspec.json.decode(json.dumps(page).encode(), type=m._EventsResp).events]
    assert rejects == []
    assert [(e.event_ticker, e.category) for e in lean] == [(e.event_ticker, e.category) for e in full]
    assert [(x.ticker, x.event_ticker, x.status, x.display_subtitle) for x in lean[0].markets] == [
        (x.ticker, x.event_ticker, x.status, x.display_subtitle) for x in full[0].markets]


def test_an_unreadable_item_costs_itself_alone_and_odd_unused_fields_cost_nothing(kalshi_fixtures: Path) -> None:
    event = _fixture_event(kalshi_fixtures)
    good = event["markets"]
    odd = dict(good[1], volume_fp="lots", yes_bid_dollars=[1])  # fields following a market never reads
    event["markets"] = [dict(good[0], ticker=["not", "a", "ticker"]), odd, *good[2:]]
    page = {"events": [event, {"event_ticker": None}, dict(event, event_ticker="KXHIGHCHI-26FEB12")], "cursor": "c"}
    lean, rejects = _lean(page, size=1)
    assert [e.event_ticker for e in lean] == [event["event_ticker"], "KXHIGHCHI-26FEB12"]
    assert [[x.ticker for x in e.markets] for e in lean] == [[x["ticker"] for x in good[1:]]] * 2
    assert lean[0].markets[0].display_subtitle == (odd.get("yes_sub_title") or odd.get("subtitle") or "")
    kinds = sorted(why.split(":")[0].split()[1] for _, why in rejects)
    assert kinds == ["event", "market", "market"]
    assert any(json.loads(raw) == {"event_ticker": None} for raw, _ in rejects)


@pytest.fixture
async def listing_server(kalshi_fixtures: Path) -> str:
    """Three pages of 90 events each (the fixture event under new tickers), cursor-paginated."""
    event = _fixture_event(kalshi_fixtures)

    async def events(request: web.Request) -> web.Response:
        page = int(request.query.get("cursor") or 0)
        assert request.query["with_nested_markets"] == "true"
        items = [dict(event, event_ticker=f"EV-{page}-{i}",
                      markets=[dict(x, ticker=f"EV-{page}-{i}-{j}") for j, x in enumerate(event["markets"])])
                 for i in range(90)]
        return web.json_response({"events": items, "cursor": str(page + 1) if page < 2 else ""})

    app = web.Application()
    app.router.add_get("/trade-api/v2/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/trade-api/v2"
    await runner.cleanup()


async def test_the_client_lists_every_page_a_slice_at_a_time_with_loop_turns(listing_server: str,
                                                                            kalshi_fixtures: Path) -> None:
    per_event = len(_fixture_event(kalshi_fixtures)["markets"])
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.create_task(count_turns())
    slices: list[list[listing.ListedEvent]] = []
    async with KalshiRestClient(listing_server, requests_per_second=0) as rest:
        turns_at: list[int] = []
        async for events in rest.iter_event_listings(status="open"):
            slices.append(events)
            turns_at.append(turns)
    counter.cancel()
    tickers = [x.ticker for piece in slices for e in piece for x in e.markets]
    assert len(tickers) == len(set(tickers)) == 3 * 90 * per_event
    assert [len(s) for s in slices] == [40, 40, 10] * 3
    # the loop ran between every two slices, also between two slices of one page
    assert all(b > a for a, b in zip(turns_at, turns_at[1:], strict=False))
