"""REST listings decode item by item: one odd market costs that market's odd field, an unreadable
one costs that market alone (kept raw through the ``rejects_to`` sink), never the page."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from kalshi_collector.kalshi import models as m
from kalshi_collector.kalshi.numbers import dollars_to_cents


def _markets_page(kalshi_fixtures: Path) -> dict:
    return json.loads((kalshi_fixtures / "rest_get_markets.json").read_text())


def _decode(into: type, body: dict | bytes) -> tuple[object, list[tuple[bytes, str]]]:
    """Decode as KalshiRestClient.get does (one msgspec decode into the response record)."""
    rejects: list[tuple[bytes, str]] = []
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with m.rejects_to(lambda item, why: rejects.append((item, why))):
        out = msgspec.json.Decoder(into).decode(raw)
    return out, rejects


def test_the_fixture_page_decodes_unchanged_and_rejects_nothing(kalshi_fixtures: Path) -> None:
    page, rejects = _decode(m._MarketsResp, _markets_page(kalshi_fixtures))
    assert rejects == [] and len(page.markets) == 6
    assert all(isinstance(w, m._MarketWire) for w in page.markets)


def test_variants_cost_at_most_their_field(kalshi_fixtures: Path) -> None:
    body = _markets_page(kalshi_fixtures)
    first, second, third = body["markets"][:3]
    first.update(yes_bid_dollars="", volume_fp=1234.5, floor_strike="13.1", brand_new_field={"a": [1]})
    second.update(close_time="", yes_ask_dollars="not a price", open_interest_fp="")
    third.update(cap_strike="high", created_time="yesterday-ish")
    page, rejects = _decode(m._MarketsResp, body)
    assert rejects == [] and len(page.markets) == 6
    a, b, c = (m.Market._from_wire(w) for w in page.markets[:3])
    assert a.yes_bid is None and a.volume == 1234.5 and a.floor_strike == 13.1
    assert b.close_time is None and b.yes_ask is None and b.open_interest is None
    assert b.yes_bid == dollars_to_cents(second["yes_bid_dollars"])  # the rest of the market is intact
    assert c.cap_strike is None and c.created_time is None and c.ticker == third["ticker"]


def test_an_unreadable_market_is_rejected_alone_with_its_bytes(kalshi_fixtures: Path) -> None:
    body = _markets_page(kalshi_fixtures)
    body["markets"][2]["ticker"] = None  # an identifier: cannot be guessed
    body["markets"].insert(4, 17)  # not even an object
    page, rejects = _decode(m._MarketsResp, body)
    assert [w.ticker for w in page.markets] == [x["ticker"] for i, x in enumerate(body["markets"]) if i not in (2, 4)]
    assert len(rejects) == 2
    (raw_a, why_a), (raw_b, why_b) = rejects
    assert json.loads(raw_a) == body["markets"][2] and why_a.startswith("bad market") and "ticker" in why_a
    assert raw_b == b"17" and why_b.startswith("bad market")


def test_events_with_nested_markets_keep_every_good_market_and_event(kalshi_fixtures: Path) -> None:
    body = json.loads((kalshi_fixtures / "rest_get_event_with_nested_markets.json").read_text())
    event = body["event"]
    nested = event.get("markets") or body.get("markets")
    assert nested, "fixture has nested markets"
    bad = dict(nested[0], event_ticker=["not", "a", "ticker"])
    event["markets"] = [bad, *nested[1:]]
    page = {"events": [event, {"event_ticker": None}, dict(event, event_ticker="KXHIGHCHI-26FEB12",
                                                             mutually_exclusive="true")], "cursor": ""}
    decoded, rejects = _decode(m._EventsResp, page)
    events = [m.Event._from_wire(e) for e in decoded.events]
    assert [e.event_ticker for e in events] == [event["event_ticker"], "KXHIGHCHI-26FEB12"]
    assert events[1].mutually_exclusive is True
    assert [len(e.markets) for e in events] == [len(nested) - 1] * 2
    # the bad market once per event that carried it, and the event without a ticker
    assert sorted(why.split(":")[0].split()[1] for _, why in rejects) == ["event", "market", "market"]


def test_without_a_sink_an_unreadable_item_is_logged_and_left_out(kalshi_fixtures: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    body = _markets_page(kalshi_fixtures)
    body["markets"][0]["ticker"] = None
    page = msgspec.json.decode(json.dumps(body).encode(), type=m._MarketsResp)
    assert len(page.markets) == 5
    assert "left out an unreadable REST item" in caplog.text


def test_order_book_levels_sent_as_numbers_read_like_their_strings(kalshi_fixtures: Path) -> None:
    body = json.loads((kalshi_fixtures / "rest_get_market_orderbook.json").read_text())
    levels = body["orderbook_fp"]["yes_dollars"]
    as_numbers = json.loads(json.dumps(body))
    as_numbers["orderbook_fp"]["yes_dollars"] = [[float(p), int(float(q))] if float(q).is_integer() else [float(p), float(q)]
                                                 for p, q in levels]
    strict = msgspec.json.decode(json.dumps(body).encode(), type=m._OrderbookResp)
    varied = msgspec.json.decode(json.dumps(as_numbers).encode(), type=m._OrderbookResp)
    assert m._levels(varied.orderbook_fp.yes_dollars) == m._levels(strict.orderbook_fp.yes_dollars)
    assert len(m._levels(strict.orderbook_fp.yes_dollars)) == len(levels) > 0
