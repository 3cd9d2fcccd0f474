"""REST response shapes (SDK 3.34 field names) built from the model's integer state.

Only the fields the current API sends: prices as ``*_dollars`` strings, counts as ``*_fp``
strings, no legacy integer fields (removed from Kalshi's responses on 2026-03-12).
"""

from __future__ import annotations

from typing import Any

from kalshi_collector.sim.catalog import SeriesSpec
from kalshi_collector.sim.model import DAY_MS, Event, Market
from kalshi_collector.sim.wirefmt import dollars, fp, iso_seconds, iso_us

__all__ = ["market_json", "event_json", "series_json", "trade_json", "orderbook_json", "error_body",
           "PRICE_RANGES", "STATUS_FILTERS"]

PRICE_RANGES = [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]

# REST ``status`` query values -> the market statuses they select (API.md section 4)
STATUS_FILTERS: dict[str, frozenset[str]] = {
    "unopened": frozenset({"initialized"}),
    "open": frozenset({"active"}),
    "paused": frozenset({"inactive"}),
    "closed": frozenset({"closed", "determined", "disputed", "amended"}),
    "settled": frozenset({"finalized"}),
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """Kalshi's observed 4xx envelope: ``{"error": {"code": ..., "message": ...}}``."""
    return {"error": {"code": code, "message": message}}


def _settlement_sources(spec: SeriesSpec) -> list[dict[str, str]]:
    return [{"name": "National Weather Service", "url": f"https://www.weather.gov/{spec.wfo}/"}]


def market_json(m: Market, now_ms: int) -> dict[str, Any]:
    yb, ybs, ya, yas = m.quote()
    nb = m.best_no()
    settled = m.status == "finalized"
    d: dict[str, Any] = {
        "ticker": m.ticker,
        "event_ticker": m.event.ticker,
        "market_type": "binary",
        "title": m.title,
        "subtitle": m.yes_sub_title,
        "yes_sub_title": m.yes_sub_title,
        "no_sub_title": m.yes_sub_title,
        "created_time": iso_us(m.created_ms),
        "updated_time": iso_us(m.updated_ms),
        "open_time": iso_seconds(m.open_ms),
        "close_time": iso_seconds(m.close_ms),
        "expected_expiration_time": iso_seconds(m.expected_expiration_ms),
        "expiration_time": iso_seconds(m.latest_expiration_ms),
        "latest_expiration_time": iso_seconds(m.latest_expiration_ms),
        "settlement_timer_seconds": 1800,
        "status": m.status,
        "yes_bid_dollars": dollars(yb),
        "yes_bid_size_fp": fp(ybs),
        "yes_ask_dollars": dollars(ya),
        "yes_ask_size_fp": fp(yas),
        "no_bid_dollars": dollars(nb),
        "no_ask_dollars": dollars(100 - yb) if yb else "0.0000",
        "last_price_dollars": dollars(m.last_price),
        "volume_fp": fp(m.volume),
        "volume_24h_fp": fp(0 if settled else m.volume_since(now_ms - DAY_MS)),
        "result": m.result,
        "can_close_early": True,
        "open_interest_fp": fp(0 if settled else m.open_interest),
        "notional_value_dollars": "1.0000",
        "previous_yes_bid_dollars": dollars(m.prev_yes_bid),
        "previous_yes_ask_dollars": dollars(m.prev_yes_ask),
        "previous_price_dollars": dollars(m.prev_price),
        "settlement_bounds_type": "default",
        "expiration_value": str(m.event.outcome_f) if m.result else "",
        "strike_type": m.strike_type,
        "rules_primary": m.rules_primary,
        "rules_secondary": m.rules_secondary,
        "price_level_structure": "linear_cent",
        "price_ranges": PRICE_RANGES,
    }
    if m.floor_strike is not None:
        d["floor_strike"] = m.floor_strike
    if m.cap_strike is not None:
        d["cap_strike"] = m.cap_strike
    if m.result:
        d["settlement_value_dollars"] = "1.0000" if m.result == "yes" else "0.0000"
    if m.settlement_ms is not None:
        d["settlement_ts"] = iso_us(m.settlement_ms)
    if settled:
        d["occurrence_datetime"] = iso_seconds(m.close_ms - 24 * 3_600_000 + 60_000)
    return d


def event_json(e: Event, nested: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "event_ticker": e.ticker,
        "series_ticker": e.series.ticker,
        "sub_title": e.sub_title,
        "title": e.title,
        "collateral_return_type": "MECNET",
        "mutually_exclusive": True,
        "category": e.series.category,
        "strike_date": iso_seconds(e.strike_ms),
        "settlement_sources": _settlement_sources(e.series),
        "last_updated_ts": iso_us(e.last_updated_ms),
    }
    if nested is not None:
        d["markets"] = nested
    return d


def series_json(spec: SeriesSpec, volume: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "ticker": spec.ticker,
        "frequency": "daily",
        "title": f"Highest temperature in {spec.city}",
        "category": spec.category,
        "categories": [spec.category],
        "tags": list(spec.tags),
        "settlement_sources": _settlement_sources(spec),
        "contract_url": f"https://kalshi.com/markets/{spec.ticker.lower()}",
        "contract_terms_url": f"https://kalshi.com/markets/{spec.ticker.lower()}",
        "fee_type": "quadratic",
        "fee_multiplier": 1,
        "additional_prohibitions": [],
        "last_updated_ts": "2026-01-20T16:04:11.482913Z",
    }
    if volume is not None:
        d["volume_fp"] = fp(volume)
    return d


def trade_json(m: Market, i: int) -> dict[str, Any]:
    price = m.t_price[i]
    count = m.t_cum[i] - (m.t_cum[i - 1] if i else 0)
    side = "yes" if m.t_taker_yes[i] else "no"
    return {
        "trade_id": m.trade_id(i),
        "ticker": m.ticker,
        "count_fp": fp(count),
        "yes_price_dollars": dollars(price),
        "no_price_dollars": dollars(100 - price),
        "taker_side": side,
        "taker_outcome_side": side,
        "taker_book_side": "bid" if side == "yes" else "ask",
        "created_time": iso_us(m.t_ts[i]),
        "is_block_trade": bool(m.t_block[i]),
    }


def orderbook_json(yes: dict[int, int], no: dict[int, int], depth: int = 0) -> dict[str, Any]:
    """``{"yes_dollars": [[price, count], ...], "no_dollars": [...]}``, ascending, best last."""
    def side(book: dict[int, int]) -> list[list[str]]:
        levels = [[dollars(p), fp(book[p])] for p in sorted(book)]
        return levels[-depth:] if depth > 0 else levels

    return {"yes_dollars": side(yes), "no_dollars": side(no)}
