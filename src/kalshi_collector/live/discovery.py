"""Which markets to record: pinned events, every open event of each followed series, and - when
following the exchange - every open event of the exchange (``collection.follow_all``) or of
chosen categories (``collection.follow_categories``).

Re-run every few minutes (and nudged by ``market_lifecycle_v2``) so that tomorrow's daily event is
picked up as soon as it opens and settled ones are dropped. A pinned event that does not exist is
logged and skipped: one typo in the config must not stop the recording of everything else.

The exchange is listed with ``GET /events?status=open&with_nested_markets=true`` (200 events a
page, each with its markets and its category), which at 20,000 markets is ~20 requests rather
than one per series, read lean (``kalshi/listing.py``: five fields a market, a slice of events at a
time with a loop turn between slices), so a rediscovery of the whole exchange never holds up the
read loop for more than about a millisecond at a time.

An event or market item of a listing that cannot be decoded is handed to ``on_reject`` (the
collector's ``rejects`` table, source ``rest:event`` or ``rest:events``) and the rest of the listing kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import msgspec

from kalshi_collector.kalshi.listing import ListedMarket
from kalshi_collector.kalshi.messages import EventLifecycleBody, MarketLifecycleBody
from kalshi_collector.kalshi.models import Market, rejects_to
from kalshi_collector.kalshi.rest import ApiError, KalshiRestClient, NotFound

__all__ = ["TrackedMarket", "Discovery", "LIVE_STATUSES"]

log = logging.getLogger(__name__)

# Market statuses (REST, API.md 4) for which a book can still change. `closed` markets have
# stopped trading; `determined`/`finalized` are settled.
LIVE_STATUSES = frozenset({"initialized", "active", "inactive", "open", "unopened", "paused"})

# market_lifecycle_v2 events after which a tracked market may have to be dropped (or its dates moved).
_ENDINGS = frozenset({"determined", "settled", "deactivated", "close_date_updated"})


class TrackedMarket(msgspec.Struct, frozen=True, gc=False):
    """A followed market: what subscribing to it and labelling its snapshots needs. Never tracked
    by the garbage collector (it holds only strings) and compared in C: a rediscovery compares
    20,000 of them with the previous set."""

    ticker: str
    event_ticker: str
    subtitle: str
    status: str


RestReject = Callable[[str, bytes, str], None]
"""``(source, raw item, reason)``: where an event or market item that cannot be decoded goes."""


def _log_reject(source: str, raw: bytes, reason: str) -> None:
    log.warning("%s: left out an unreadable item: %s", source, reason)


class Discovery:
    def __init__(self, rest: KalshiRestClient, events: list[str], series: list[str],
                 on_reject: RestReject = _log_reject, *, follow_all: bool = False,
                 categories: list[str] | None = None) -> None:
        self.rest = rest
        self.on_reject = on_reject
        self.events = list(events)
        self.series = list(series)
        self.follow_all = follow_all
        self.categories = frozenset(categories or ())
        self.missing_events: set[str] = set()
        self.found: dict[str, TrackedMarket] = {}  # the last successful discovery
        # set by lifecycle news that calls for listing again now (the collector's discovery task waits on it)
        self.nudged = asyncio.Event()

    async def discover(self) -> dict[str, TrackedMarket]:
        """Every market to record now, by ticker. Raises only if *nothing* could be listed."""
        found: dict[str, TrackedMarket] = {}
        failures = 0
        for event_ticker in self.events:
            try:
                with rejects_to(lambda raw, why: self.on_reject("rest:event", raw, why)):
                    event = await self.rest.get_event(event_ticker, with_nested_markets=True)
            except NotFound:
                if event_ticker not in self.missing_events:
                    log.error("configured event %s does not exist on the exchange; skipping it", event_ticker)
                self.missing_events.add(event_ticker)
                continue
            except ApiError as exc:
                failures += 1
                log.warning("could not list markets of event %s: %s", event_ticker, exc)
                continue
            self.missing_events.discard(event_ticker)
            self._add(found, event.markets)
        for series in self.series:
            try:
                with rejects_to(lambda raw, why: self.on_reject("rest:events", raw, why)):
                    events = await self.rest.list_events(series_ticker=series, status="open",
                                                         with_nested_markets=True)
            except ApiError as exc:
                failures += 1
                log.warning("could not list open events of series %s: %s", series, exc)
                continue
            if not events:
                log.info("series %s has no open event right now", series)
            for event in events:
                self._add(found, event.markets)
        if self.follow_all or self.categories:
            failures += await self._exchange(found)
        if failures and not found:
            raise ApiError(0, "discovery", f"{failures} listing(s) failed and no market could be found")
        self.found = found
        return found

    async def _exchange(self, found: dict[str, TrackedMarket]) -> int:
        """Every open event of the exchange (or of the chosen categories) into ``found``; the
        number of failed listings (0 or 1). A listing cut short keeps every market the previous
        discovery found as well: thousands of subscriptions must not churn on one failed page."""
        try:
            with rejects_to(lambda raw, why: self.on_reject("rest:events", raw, why)):
                async for events in self.rest.iter_event_listings(status="open"):
                    for event in events:
                        if self.follow_all or event.category in self.categories:
                            self._add(found, event.markets)
        except ApiError as exc:
            log.warning("could not list the exchange's open events (keeping the %d markets found before): %s",
                        len(self.found), exc)
            for ticker, market in self.found.items():
                found.setdefault(ticker, market)
            return 1
        return 0

    def follows(self, event_ticker: str) -> bool:
        """True for a pinned event or an event of a followed series; when following the exchange,
        every event (a created market of a category not followed costs one listing, no more)."""
        if self.follow_all or self.categories:
            return True
        return event_ticker in self.events or any(event_ticker.startswith(s + "-") for s in self.series)

    def on_market_lifecycle(self, body: MarketLifecycleBody) -> None:
        """A tracked market ended (or moved its dates), or a followed event opened one: list again."""
        if body.event_type in _ENDINGS:
            wanted = body.market_ticker in self.found
        elif body.event_type == "created":
            meta = body.additional_metadata
            wanted = bool(meta and meta.event_ticker and self.follows(meta.event_ticker))
        else:
            wanted = False
        if wanted:
            self.nudged.set()

    def on_event_lifecycle(self, body: EventLifecycleBody) -> None:
        """A new event of a followed series: list again."""
        if body.series_ticker in self.series or self.follow_all or self.categories:
            self.nudged.set()

    @staticmethod
    def _add(found: dict[str, TrackedMarket], markets: Iterable[Market | ListedMarket]) -> None:
        for mk in markets:
            if mk.status and mk.status not in LIVE_STATUSES:
                continue
            found[mk.ticker] = TrackedMarket(mk.ticker, mk.event_ticker, mk.display_subtitle, mk.status)
