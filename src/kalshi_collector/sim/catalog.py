"""The weather series the simulator lists: real Kalshi tickers, stations and climate normals.

Why real values: collectors and the weather side join on series tickers and station names, and
tests read more naturally when a Chicago February high is near 36 °F rather than a random
number. Normals are rounded monthly mean daily highs (°F) for the settlement station.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["SeriesSpec", "CATALOG", "DEFAULT_SERIES", "series_spec"]


@dataclass(frozen=True)
class SeriesSpec:
    ticker: str
    city: str  # used in titles: "Highest temperature in Chicago on ..."
    station_wording: str  # rules_primary wording: "at Chicago Midway, IL"
    station_name: str  # CLI location named in rules_secondary
    wfo: str  # NWS office (settlement source URL)
    lst_offset_hours: int  # standard-time UTC offset of the climate day, e.g. -6
    normals_f: tuple[int, ...]  # 12 monthly mean highs, January first
    category: str = "Climate and Weather"  # Kalshi's series category (GET /series?category=)
    tags: tuple[str, ...] = ("Daily temperature",)


CATALOG: dict[str, SeriesSpec] = {
    s.ticker: s
    for s in (
        SeriesSpec("KXHIGHCHI", "Chicago", "at Chicago Midway, IL", "Chicago Midway", "lot", -6,
                   (32, 36, 47, 59, 70, 80, 84, 82, 75, 62, 48, 36)),
        SeriesSpec("KXHIGHNY", "NYC", "in Central Park, New York", "Central Park", "okx", -5,
                   (39, 42, 50, 62, 72, 80, 85, 84, 76, 65, 54, 44)),
        SeriesSpec("KXHIGHMIA", "Miami", "at Miami International Airport", "Miami International Airport",
                   "mfl", -5, (76, 78, 80, 83, 87, 89, 91, 91, 89, 86, 82, 78)),
        SeriesSpec("KXHIGHAUS", "Austin", "in Austin Bergstrom", "Austin Bergstrom", "ewx", -6,
                   (62, 66, 73, 80, 86, 92, 96, 97, 91, 82, 71, 63)),
        SeriesSpec("KXHIGHDEN", "Denver", "in Denver, CO", "Denver", "bou", -7,
                   (45, 46, 54, 61, 71, 82, 89, 87, 79, 65, 52, 44)),
        SeriesSpec("KXHIGHLAX", "Los Angeles", "in Los Angeles Airport, CA", "Los Angeles Airport", "lox", -8,
                   (66, 66, 66, 68, 69, 72, 75, 76, 76, 74, 70, 66)),
        SeriesSpec("KXHIGHPHIL", "Philadelphia", "at Philadelphia International Airport",
                   "Philadelphia International Airport", "phi", -5,
                   (41, 44, 53, 65, 74, 83, 88, 86, 79, 67, 56, 45)),
    )
}

DEFAULT_SERIES: tuple[str, ...] = tuple(CATALOG)


def series_spec(ticker: str) -> SeriesSpec:
    """The catalog entry, or a stable made-up station for a ticker the catalog does not know.

    Unknown tickers are allowed so a test can ask for ``KXHIGHTEST`` without editing this file;
    their climate is derived from the ticker's hash so it is the same on every run.
    """
    known = CATALOG.get(ticker)
    if known is not None:
        return known
    digest = hashlib.sha256(ticker.encode()).digest()
    base = 40 + digest[0] % 35
    swing = 10 + digest[1] % 15
    normals = tuple(base + round(swing * s) for s in (-1, -0.8, -0.4, 0.1, 0.5, 0.9, 1, 0.95, 0.6, 0.1, -0.4, -0.85))
    name = ticker.removeprefix("KXHIGH").title() or ticker
    return SeriesSpec(ticker, name, f"at {name}", name, "lot", -5 - digest[2] % 4, normals)
