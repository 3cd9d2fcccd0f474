"""Which markets a backfill covers: the requested events and series, resolved on both tiers.

``--events``: ``GET /events/{t}``, plus ``/historical/markets?event_ticker`` when the window
reaches before the market cutoff. ``--series``: both tiers' market listings of the series,
grouped by event, keeping events with a market that could trade in the window. An event whose
markets are all finalized keeps its market list in a manifest and is not asked again.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.cutoff import HistoricalCutoff, epoch
from kalshi_collector.backfill.store import BackfillStore, EventManifest, is_final
from kalshi_collector.kalshi.models import Market
from kalshi_collector.kalshi.rest import KalshiRestClient, NotFound

__all__ = ["Resolver", "UnknownTickers", "market_info"]


class UnknownTickers(Exception):
    """Events or series the exchange does not know (a typo, usually)."""

    def __init__(self, events: Sequence[str], series: Sequence[str]) -> None:
        parts = []
        if events:
            parts.append(f"unknown event{'s' if len(events) > 1 else ''} {', '.join(sorted(events))}")
        if series:
            parts.append(f"unknown series {', '.join(sorted(series))}")
        super().__init__("; ".join(parts) + " (not found on the exchange; check the ticker)")
        self.events = tuple(events)
        self.series = tuple(series)


def market_info(market: Market, tier: P.Tier) -> P.MarketInfo:
    return P.MarketInfo(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        tier=tier,
        status=market.status,
        open_ts=epoch(market.open_time),
        close_ts=epoch(market.close_time),
        settled_ts=epoch(market.settlement_ts),
    )


class Resolver:
    """Resolves tickers to markets for one window, saving each event's manifest on the way."""

    def __init__(self, client: KalshiRestClient, store: BackfillStore, window: P.Window, cutoff: HistoricalCutoff) -> None:
        self._client = client
        self._store = store
        self._window = window
        self._cutoff = cutoff

    async def resolve(self, events: Iterable[str], series: Iterable[str]) -> dict[str, list[P.MarketInfo]]:
        """Markets by event ticker, sorted. Raises :class:`UnknownTickers` naming every ticker
        the exchange does not know (after asking about all of them)."""
        targets: dict[str, list[P.MarketInfo]] = {}
        unknown_events: list[str] = []
        unknown_series: list[str] = []

        async def one_event(ticker: str) -> None:
            try:
                targets[ticker] = await self._event_markets(ticker)
            except NotFound:
                unknown_events.append(ticker)

        async def one_series(ticker: str) -> None:
            try:
                for event, markets in (await self._series_markets(ticker)).items():
                    targets.setdefault(event, markets)
            except NotFound:
                unknown_series.append(ticker)

        await asyncio.gather(*(one_event(e) for e in dict.fromkeys(events)),
                             *(one_series(s) for s in dict.fromkeys(series)))
        if unknown_events or unknown_series:
            raise UnknownTickers(unknown_events, unknown_series)
        return dict(sorted(targets.items()))

    async def _needs_historical_listing(self) -> bool:
        settled_cut = (await self._cutoff.get()).market_settled_ts
        return settled_cut is not None and self._window.start < settled_cut

    async def _event_markets(self, event_ticker: str) -> list[P.MarketInfo]:
        cached = self._store.load_manifest(event_ticker)
        if cached is not None and cached.final:
            return cached.markets
        event = await self._client.get_event(event_ticker, with_nested_markets=True)
        found = {m.ticker: market_info(m, "live") for m in event.markets}
        if await self._needs_historical_listing():
            async for page in self._client.iter_historical_markets(event_ticker=event_ticker):
                found.update((m.ticker, market_info(m, "historical")) for m in page)
        markets = sorted(found.values(), key=lambda m: m.ticker)
        self._store.save_manifest(EventManifest(event_ticker=event_ticker, final=is_final(markets), markets=markets))
        return markets

    async def _series_markets(self, series_ticker: str) -> dict[str, list[P.MarketInfo]]:
        await self._client.get_series(series_ticker)
        found: dict[str, P.MarketInfo] = {}
        async for page in self._client.iter_markets(series_ticker=series_ticker):
            found.update((m.ticker, market_info(m, "live")) for m in page)
        if await self._needs_historical_listing():
            async for page in self._client.iter_historical_markets(series_ticker=series_ticker):
                found.update((m.ticker, market_info(m, "historical")) for m in page)
        by_event: dict[str, list[P.MarketInfo]] = defaultdict(list)
        for m in found.values():
            by_event[m.event_ticker].append(m)
        out: dict[str, list[P.MarketInfo]] = {}
        for event, markets in sorted(by_event.items()):
            if any(m.overlaps(self._window) for m in markets):
                markets.sort(key=lambda m: m.ticker)
                self._store.save_manifest(EventManifest(event_ticker=event, final=is_final(markets), markets=markets))
                out[event] = markets
        return out
