"""Discovery's lifecycle rules: which ``market_lifecycle_v2`` / ``event_lifecycle`` news nudges a
fresh listing (the listing itself runs against the simulator in test_collector_discovery)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.live.discovery import Discovery, TrackedMarket
from tests.live.frame_helpers import M


def _body(fixtures: Path, name: str) -> object:
    msg = wm.decode((fixtures / f"{name}.json").read_bytes())
    assert isinstance(msg, wm.MarketLifecycle | wm.EventLifecycle)
    return msg.msg


def _discovery(events: list[str], series: list[str]) -> Discovery:
    d = Discovery(KalshiRestClient("http://127.0.0.1:9"), events, series)  # never asked here
    d.found = {M: TrackedMarket(M, "KXHIGHCHI-26FEB11", "34° to 35°", "active")}
    return d


@pytest.mark.parametrize(
    ("name", "events", "series", "nudged"),
    [
        ("ws_market_lifecycle_v2_determined", [], [], True),  # a tracked market ended
        ("ws_market_lifecycle_v2_settled", [], [], True),
        ("ws_market_lifecycle_v2_metadata_updated", [], [], False),
        ("ws_market_lifecycle_v2_created", [], ["KXHIGHCHI"], True),  # a market of a followed series
        ("ws_market_lifecycle_v2_created", ["KXHIGHCHI-26FEB12"], [], True),  # of a pinned event
        ("ws_market_lifecycle_v2_created", [], ["KXHIGHNY"], False),
        ("ws_event_lifecycle", [], ["KXHIGHCHI"], True),
        ("ws_event_lifecycle", ["KXHIGHCHI-26FEB13"], [], False),  # only series follow new events
    ],
)
def test_lifecycle_news_nudges_a_listing(kalshi_fixtures: Path, name: str, events: list[str], series: list[str],
                                         nudged: bool) -> None:
    d = _discovery(events, series)
    body = _body(kalshi_fixtures, name)
    if isinstance(body, wm.EventLifecycleBody):
        d.on_event_lifecycle(body)
    else:
        assert isinstance(body, wm.MarketLifecycleBody)
        d.on_market_lifecycle(body)
    assert d.nudged.is_set() is nudged


def test_news_about_a_market_not_tracked_is_ignored(kalshi_fixtures: Path) -> None:
    d = _discovery([], ["KXHIGHCHI"])
    d.found = {}
    body = _body(kalshi_fixtures, "ws_market_lifecycle_v2_determined")
    assert isinstance(body, wm.MarketLifecycleBody)
    d.on_market_lifecycle(body)
    assert not d.nudged.is_set()


def test_following_the_exchange_nudges_on_any_created_market(kalshi_fixtures: Path) -> None:
    d = Discovery(KalshiRestClient("http://127.0.0.1:9"), [], [], follow_all=True)
    d.on_market_lifecycle(_body(kalshi_fixtures, "ws_market_lifecycle_v2_created"))
    assert d.nudged.is_set() and d.follows("ANYTHING-26FEB11")


async def test_a_failed_exchange_listing_keeps_the_markets_found_before() -> None:
    async with KalshiRestClient("http://127.0.0.1:9", max_retries=0, requests_per_second=0) as rest:
        d = Discovery(rest, [], [], categories=["Crypto"])
        d.found = {M: TrackedMarket(M, "KXHIGHCHI-26FEB11", "34° to 35°", "active")}
        assert set(await d.discover()) == {M}
