"""The pure planning core: coverage arithmetic, windows, tier routing, request packing."""

from __future__ import annotations

from datetime import date

import pytest

from kalshi_collector.backfill import plan as P
from kalshi_collector.backfill.intervals import normalize, split, subtract, total, union

DAY = 86_400


def test_interval_algebra() -> None:
    assert normalize([(5, 7), (1, 3), (3, 4), (6, 9), (10, 10)]) == [(1, 4), (5, 9)]
    assert subtract([(0, 100)], [(10, 20), (15, 30), (90, 200)]) == [(0, 10), (30, 90)]
    assert subtract([(0, 10)], []) == [(0, 10)]
    assert subtract([(0, 10)], [(0, 10)]) == []
    assert union([(0, 5)], [(5, 8)]) == [(0, 8)]
    assert total([(0, 5), (3, 8)]) == 8
    # cuts land on multiples of the step whatever the start, so two runs cut alike
    assert split((5, 25), 10) == [(5, 10), (10, 20), (20, 25)]
    with pytest.raises(ValueError):
        split((0, 1), 0)


def test_window_is_utc_midnights_and_end_inclusive() -> None:
    w = P.Window.from_dates(date(2026, 2, 10), date(2026, 2, 11))
    assert w.start == 1770681600  # 2026-02-10T00:00:00Z
    assert w.end - w.start == 2 * DAY


def test_windows_stop_before_now_and_in_progress_periods() -> None:
    w = P.Window.from_dates(date(2026, 2, 10), date(2026, 2, 11))
    now = w.start + DAY + 3_723.5  # 01:02:03.5 on the second day
    assert P.trade_window(w, now) == (w.start, w.start + DAY + 3_723 - P.TRADE_SETTLE_SECONDS)
    assert P.candle_window(w, now, 60) == (w.start, w.start + DAY + 3_600)
    assert P.candle_window(w, now, 1440) == (w.start, w.start + DAY)
    assert P.candle_window(w, w.end + 10 * DAY, 1) == (w.start, w.end)
    assert P.trade_window(w, w.start - 100) == (w.start, w.start)  # nothing yet: empty, not negative


def _market(open_ts: int | None, close_ts: int | None, tier: P.Tier = "live", settled: int | None = None) -> P.MarketInfo:
    return P.MarketInfo("KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11", tier, "finalized", open_ts, close_ts, settled)


def test_trade_units_trim_to_trading_life_and_slice() -> None:
    w = P.Window.from_dates(date(2026, 2, 1), date(2026, 2, 28))
    m = _market(w.start + 3 * DAY, w.start + 4 * DAY)
    units = P.trade_units(m, [(w.start, w.end)])
    # the whole window is credited, but only the market's life is asked for
    assert normalize(u.cover for u in units) == [(w.start, w.end)]
    fetched = [u.fetch for u in units if u.fetch]
    assert fetched == [(m.open_ts - P.LIFETIME_SLACK_SECONDS, m.close_ts + P.LIFETIME_SLACK_SECONDS)]
    # unknown life: everything is asked, in slices
    unknown = P.trade_units(_market(None, None), [(w.start, w.end)])
    assert all(u.fetch == u.cover for u in unknown) and len(unknown) > 1
    assert all(u.cover[1] - u.cover[0] <= P.TRADE_SLICE_SECONDS for u in unknown)


def test_trade_legs_route_by_cutoff() -> None:
    assert P.trade_legs((100, 200), None) == [("live", (100, 200))]
    assert P.trade_legs((100, 200), 150) == [("historical", (100, 150)), ("live", (150, 200))]
    assert P.trade_legs((100, 200), 100) == [("live", (100, 200))]
    assert P.trade_legs((100, 200), 500) == [("historical", (100, 200))]


def test_route_tier_follows_listing_then_settlement_vs_cutoff() -> None:
    assert P.route_tier(_market(0, 10, "historical"), None) == "historical"
    assert P.route_tier(_market(0, 10, "live", settled=50), 100) == "historical"
    assert P.route_tier(_market(0, 10, "live", settled=150), 100) == "live"
    assert P.route_tier(_market(0, 10, "live"), 100) == "live"


def test_candle_pieces_and_batches_respect_caps() -> None:
    w = P.Window.from_dates(date(2026, 2, 1), date(2026, 2, 20))  # 20 days of 1-minute candles
    markets = [
        P.MarketInfo(f"E{d}-M{i}", f"E{d}", "live", "finalized", w.start + d * DAY, w.start + d * DAY + 36 * 3600)
        for d in range(18) for i in range(6)
    ]
    pieces = [p for m in markets for p in P.candle_pieces(m, [(w.start, w.end)], 1, max_candles=P.SINGLE_MAX_CANDLES)]
    # every piece fits a single-market request
    assert all((p.cover[1] - p.cover[0]) // 60 <= P.SINGLE_MAX_CANDLES for p in pieces)
    batches = P.batch_live_pieces(pieces, 1)
    for b in batches:
        assert len(b.pieces) <= P.BATCH_MAX_TICKERS
        assert len(set(b.tickers)) == len(b.tickers)
        assert P._estimate(b.pieces, (b.start, b.end), 60) <= P.BATCH_MAX_CANDLES
    # every piece that can hold candles is asked exactly once
    asked = sorted((p.ticker, p.cover) for b in batches for p in b.pieces)
    assert asked == sorted((p.ticker, p.cover) for p in pieces if p.fetch is not None)
    # hourly candles of the same markets: one request carries up to 100 markets
    hourly = [p for m in markets for p in P.candle_pieces(m, [(w.start, w.end)], 60, max_candles=P.SINGLE_MAX_CANDLES)]
    assert len(P.batch_live_pieces(hourly, 60)) == 2


def test_candle_request_bounds_select_by_period_end() -> None:
    # period starts [0h, 3h) = candles ending at 1h, 2h, 3h
    assert P.candle_request_bounds(0, 3 * 3600, 60) == (3600, 3 * 3600)


def test_market_overlap_with_window() -> None:
    w = P.Window.from_dates(date(2026, 2, 10), date(2026, 2, 10))
    assert _market(w.start - 2 * DAY, w.start + 10).overlaps(w)
    assert not _market(w.start - 2 * DAY, w.start - DAY).overlaps(w)
    assert _market(None, None).overlaps(w)


def test_market_work_is_what_the_checkpoint_lacks() -> None:
    w = P.Window.from_dates(date(2026, 2, 10), date(2026, 2, 11))
    m = _market(w.start + 3600, w.start + DAY - 2 * 3600)  # candles can exist up to one period after close
    whole = (w.start, w.end)
    fresh = P.market_work(m, trades_covered=[], candles_covered=[], trade_win=whole, candle_win=whole, period_minutes=60)
    assert normalize(u.cover for u in fresh.trades) == [whole]
    assert normalize(p.cover for p in fresh.candles) == [whole]
    assert fresh.units == len(fresh.trades) + len(fresh.candles) and fresh.asks
    half = P.market_work(m, trades_covered=[whole], candles_covered=[(w.start, w.start + DAY)], trade_win=whole,
                         candle_win=whole, period_minutes=60)
    assert half.trades == () and [p.cover for p in half.candles] == [(w.start + DAY, w.end)]
    # the market's life ended before the missing day: the day is credited without a request
    assert not half.asks
    done = P.market_work(m, trades_covered=[whole], candles_covered=[whole], trade_win=whole, candle_win=whole,
                         period_minutes=60)
    assert done.units == 0


def _piece(ticker: str, cover: tuple[int, int], limit: tuple[int, int] | None = None) -> P.CandlePiece:
    return P.CandlePiece(ticker, cover, limit)


def test_candle_requests_batch_the_live_tier_and_ask_the_archive_per_market() -> None:
    pieces = [_piece("A", (0, DAY)), _piece("B", (0, DAY)), _piece("H", (0, DAY)),
              _piece("GONE", (0, DAY), limit=(5 * DAY, 6 * DAY))]
    tiers: dict[str, P.Tier] = {"A": "live", "B": "live", "H": "historical", "GONE": "live"}
    requests = P.candle_requests(pieces, tiers, 60)
    assert [(r.tier, r.tickers) for r in requests] == [("live", ["A", "B"]), ("historical", ["H"])]
    assert requests[0].hull == (0, DAY)


def test_a_refused_request_halves_by_markets_then_by_time() -> None:
    batch = P.CandleRequest("live", (_piece("A", (0, DAY)), _piece("B", (0, DAY)), _piece("C", (0, DAY))))
    by_markets = P.halve_candle_request(batch, 60)
    assert by_markets is not None
    assert [r.tickers for r in by_markets.requests] == [["A"], ["B", "C"]]
    assert by_markets.pieces == batch.pieces and by_markets.empty == ()

    one = P.CandleRequest("historical", (_piece("A", (0, 10 * 3600), limit=(0, 3 * 3600)),))
    by_time = P.halve_candle_request(one, 60)
    assert by_time is not None
    assert [p.cover for p in by_time.pieces] == [(0, 5 * 3600), (5 * 3600, 10 * 3600)]
    # the second half lies outside the market's life: credited, not asked
    assert [(r.tier, r.hull) for r in by_time.requests] == [("historical", (0, 3 * 3600))]
    assert [p.cover for p in by_time.empty] == [(5 * 3600, 10 * 3600)]

    # cuts stay on period boundaries, and one period cannot be cut
    odd = P.halve_candle_request(P.CandleRequest("live", (_piece("A", (0, 3 * 3600)),)), 60)
    assert odd is not None and [p.cover for p in odd.pieces] == [(0, 3600), (3600, 3 * 3600)]
    assert P.halve_candle_request(P.CandleRequest("live", (_piece("A", (0, 3600)),)), 60) is None
