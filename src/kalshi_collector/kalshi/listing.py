"""The exchange's open events as following them needs: which markets, of which event, in what status.

Following the whole exchange lists every open event with its markets again and again (every
``collection.discovery_interval_seconds`` and after lifecycle news): at 20,000 markets that is
17 pages of 2 MB. Read into the full records (``models.Event``: 25 fields per market, numbers
converted exactly) one page held the read loop for 17-20 ms, and a listing of the exchange made
20,000 objects the garbage collector then walked. This reading keeps only the five fields a
followed market needs (msgspec skips the others without building them), makes objects the garbage
collector never tracks, and decodes a page a slice of events at a time, so that the collector's
read loop gets a turn between slices (:func:`event_slices`).

Tolerance is the listings' usual one (``models``): each event and each nested market is read on
its own, strictly, then tolerantly, and an item neither can read goes to the task's reject sink
(``models.rejects_to``) with its bytes; the rest of the page is kept. The body itself is kept
whole by the client's ``on_body`` hook (the raw tape), so nothing the lean reading skips is lost.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from kalshi_collector.kalshi.models import _Items

__all__ = ["ListedEvent", "ListedMarket", "RawEventsPage", "event_slices"]

SLICE_EVENTS = 40
"""Events read in one go: about 250 markets, well under a millisecond."""


class ListedMarket(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A market as a listing names it: what following it and labelling its snapshots needs."""

    ticker: str
    event_ticker: str
    status: str = ""
    subtitle: str | None = None
    yes_sub_title: str | None = None

    @property
    def display_subtitle(self) -> str:
        """Kalshi's ``yes_sub_title`` (``subtitle`` is deprecated), as ``models.Market`` has it."""
        return self.yes_sub_title or self.subtitle or ""


class _ListedEventWire(msgspec.Struct, kw_only=True):
    event_ticker: str
    category: str | None = None
    markets: list[msgspec.Raw] | None = None


class ListedEvent(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """An open event's ticker, category and the markets of it that could be read."""

    event_ticker: str
    category: str | None
    markets: tuple[ListedMarket, ...]


class RawEventsPage(msgspec.Struct, kw_only=True):
    """One page of ``GET /events``, its events still raw JSON (read by :func:`event_slices`)."""

    events: list[msgspec.Raw] = msgspec.field(default_factory=list)
    cursor: str = ""


_EVENTS = _Items(_ListedEventWire, "event")
_MARKETS = _Items(ListedMarket, "market")
decode_page = msgspec.json.Decoder(RawEventsPage).decode


def event_slices(page: RawEventsPage, size: int = SLICE_EVENTS) -> Iterator[list[ListedEvent]]:
    """The page's events read ``size`` at a time (the caller gives the loop a turn between slices)."""
    for start in range(0, len(page.events), size):
        wires = _EVENTS.decode(page.events[start:start + size])
        yield [ListedEvent(event_ticker=w.event_ticker, category=w.category,
                           markets=tuple(_MARKETS.decode(w.markets or []))) for w in wires]
