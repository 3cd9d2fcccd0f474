"""The settlement view (pure): which bracket a CLI value settles, and whether Kalshi agrees."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from kalshi_collector.weather import asos_1min, daily_climate, metar
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.settlement import settle_events, settles_yes
from kalshi_collector.weather.stations import STATIONS

MDW = STATIONS["KMDW"]
DAY = date(2026, 2, 11)
NOW = datetime(2026, 2, 12, 7, 30, tzinfo=UTC)


@pytest.fixture()
def markets(kalshi_fixtures: Path) -> list[dict]:
    """The six KXHIGHCHI-26FEB11 markets as Kalshi sends them: T30 (<30), B30.5 .. B36.5, T37 (>37)."""
    return json.loads((kalshi_fixtures / "rest_get_event_with_nested_markets.json").read_text())["event"]["markets"]


def cli_rows(*versions: tuple[str, bool, int | None, int | None], station: str = "KMDW") -> pd.DataFrame:
    """CLI versions as (product id, preliminary, high, low)."""
    rows = []
    for product_id, preliminary, high, low in versions:
        rows.append({
            "station": station, "climate_date": DAY, "high_f": high, "low_f": low, "preliminary": preliminary,
            "correction": False, "product_id": product_id,
            "issued_at": datetime.strptime(product_id[:12], "%Y%m%d%H%M").replace(tzinfo=UTC),
            "fetched_at": NOW, "source": "iem_cli_text",
        })
    return table_from_rows(rows, daily_climate.SCHEMA).to_pandas()


FINAL = "202602120635-KLOT-CDUS43-CLIMDW"
PRELIM = "202602112235-KLOT-CDUS43-CLIMDW"


def test_strike_rules_follow_the_api_contract() -> None:
    # B34.5: floor 34, cap 35, "34° to 35°"; T37 greater floor 37 "38° or above"; T30 less cap 30 "29° or below".
    assert settles_yes("between", 34, 35, 34) and settles_yes("between", 34, 35, 35)
    assert not settles_yes("between", 34, 35, 33) and not settles_yes("between", 34, 35, 36)
    assert settles_yes("greater", 37, None, 38) and not settles_yes("greater", 37, None, 37)
    assert settles_yes("less", None, 30, 29) and not settles_yes("less", None, 30, 30)
    assert settles_yes("greater_or_equal", 38, None, 38) and settles_yes("less_or_equal", None, 29, 29)
    assert settles_yes("functional", None, None, 30) is None and settles_yes("between", None, 35, 34) is None


@pytest.mark.parametrize(
    ("high", "winner"),
    [
        (34, "KXHIGHCHI-26FEB11-B34.5"),  # lower boundary of the 34-35 bracket
        (35, "KXHIGHCHI-26FEB11-B34.5"),  # upper boundary of the same bracket
        (36, "KXHIGHCHI-26FEB11-B36.5"),
        (37, "KXHIGHCHI-26FEB11-B36.5"),  # the greater-tail's floor itself is not above it
        (38, "KXHIGHCHI-26FEB11-T37"),  # "38° or above"
        (61, "KXHIGHCHI-26FEB11-T37"),
        (30, "KXHIGHCHI-26FEB11-B30.5"),  # the less-tail's cap itself is not below it
        (29, "KXHIGHCHI-26FEB11-T30"),  # "29° or below"
        (-5, "KXHIGHCHI-26FEB11-T30"),
    ],
)
def test_cli_high_picks_the_bracket(markets: list[dict], high: int, winner: str) -> None:
    [view] = settle_events(markets, daily_climate=cli_rows((FINAL, False, high, 20)))
    assert view.settles_yes == winner and view.cli_value == high and not view.cli_preliminary
    assert [o.ticker for o in view.markets if o.expected == "yes"] == [winner]
    assert not view.disagreement and view.kalshi_yes is None  # markets still active


def test_every_whole_degree_settles_exactly_one_market(markets: list[dict]) -> None:
    for value in range(10, 60):
        [view] = settle_events(markets, daily_climate=cli_rows((FINAL, False, value, 0)))
        assert sum(o.expected == "yes" for o in view.markets) == 1, value


def test_kalshi_result_beside_ours_and_disagreement_flag(markets: list[dict]) -> None:
    settled = [dict(m, status="finalized", result="yes" if m["ticker"].endswith("T37") else "no") for m in markets]
    [agree] = settle_events(settled, daily_climate=cli_rows((FINAL, False, 38, 24)))
    assert agree.kalshi_yes == agree.settles_yes == "KXHIGHCHI-26FEB11-T37" and not agree.disagreement

    wrong = [dict(m, status="finalized", result="yes" if m["ticker"].endswith("B36.5") else "no") for m in markets]
    [view] = settle_events(wrong, daily_climate=cli_rows((FINAL, False, 38, 24)))
    assert view.disagreement and view.kalshi_yes == "KXHIGHCHI-26FEB11-B36.5"
    assert sorted(o.ticker for o in view.markets if o.disagrees) == [
        "KXHIGHCHI-26FEB11-B36.5", "KXHIGHCHI-26FEB11-T37"]


def test_versions_preliminary_and_revisions(markets: list[dict]) -> None:
    [prelim_only] = settle_events(markets, daily_climate=cli_rows((PRELIM, True, 37, 24)))
    assert prelim_only.cli_value == 37 and prelim_only.cli_preliminary and "preliminary" in prelim_only.note

    [final_wins] = settle_events(markets, daily_climate=cli_rows((PRELIM, True, 37, 24), (FINAL, False, 38, 24)))
    assert (final_wins.cli_value, final_wins.cli_product_id, final_wins.cli_versions) == (38, FINAL, 2)

    correction = "202602121500-KLOT-CDUS43-CLIMDW-CCA"
    [revised] = settle_events(markets, daily_climate=cli_rows((FINAL, False, 38, 24), (correction, False, 39, 24)))
    assert (revised.cli_value, revised.cli_first_final_value) == (39, 38) and "revised" in revised.note

    [nothing] = settle_events(markets, daily_climate=None)
    assert nothing.cli_value is None and nothing.settles_yes is None and "no CLI" in nothing.note
    assert all(o.expected is None for o in nothing.markets)


def test_observations_only_count_inside_the_climate_day(markets: list[dict], weather_fixtures: Path) -> None:
    one_min = asos_1min.parse_asos1min_csv(
        (weather_fixtures / "iem_asos1min_MDW_20260211_2030-2100Z_1min.csv").read_text(), MDW, fetched_at=NOW)
    # A hotter reading just before the window (05:59Z = 23:59 CST on the 10th) must not count.
    outside = dict(one_min[0], observed_at=datetime(2026, 2, 11, 5, 59, tzinfo=UTC), temp_f=50.0)
    frame = table_from_rows([outside, *one_min], asos_1min.SCHEMA).to_pandas()
    metars = metar.parse_awc_json(
        (weather_fixtures / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes(), MDW, fetched_at=NOW)
    [view] = settle_events(markets, daily_climate=cli_rows((FINAL, False, 38, 24)), asos_1min=frame,
                           metar=table_from_rows(metars, metar.SCHEMA))
    assert (view.asos_1min_value, view.asos_1min_at) == (38.0, datetime(2026, 2, 11, 20, 40, tzinfo=UTC))
    assert view.metar_value == 35.0 and view.metar_at == datetime(2026, 2, 11, 23, 53, tzinfo=UTC)
    assert view.metar_6h_value == 38.0  # the 6-hour and 24-hour max groups saw the peak
    assert (view.window_start, view.window_end) == (datetime(2026, 2, 11, 6, tzinfo=UTC),
                                                    datetime(2026, 2, 12, 6, tzinfo=UTC))


def test_low_series_uses_the_minimum(weather_fixtures: Path) -> None:
    lows = [
        {"ticker": "KXLOWTCHI-26FEB11-T22", "event_ticker": "KXLOWTCHI-26FEB11", "strike_type": "less",
         "cap_strike": 22, "status": "active", "result": ""},
        {"ticker": "KXLOWTCHI-26FEB11-B22.5", "event_ticker": "KXLOWTCHI-26FEB11", "strike_type": "between",
         "floor_strike": 22, "cap_strike": 23, "status": "active", "result": ""},
        {"ticker": "KXLOWTCHI-26FEB11-B24.5", "event_ticker": "KXLOWTCHI-26FEB11", "strike_type": "between",
         "floor_strike": 24, "cap_strike": 25, "status": "active", "result": ""},
        {"ticker": "KXLOWTCHI-26FEB11-T25", "event_ticker": "KXLOWTCHI-26FEB11", "strike_type": "greater",
         "floor_strike": 25, "status": "active", "result": ""},
    ]
    hourly = asos_1min.parse_asos1min_csv(
        (weather_fixtures / "iem_asos1min_MDW_20260211_hourly.csv").read_text(), MDW, fetched_at=NOW)
    [view] = settle_events(lows, daily_climate=cli_rows((FINAL, False, 38, 24)),
                           asos_1min=table_from_rows(hourly, asos_1min.SCHEMA))
    assert (view.kind, view.station, view.cli_value) == ("low", "KMDW", 24)
    assert view.settles_yes == "KXLOWTCHI-26FEB11-B24.5"
    assert view.asos_1min_value == 24.0 and view.asos_1min_at == datetime(2026, 2, 11, 13, tzinfo=UTC)


def test_markets_as_typed_records_and_events_that_are_not_temperature() -> None:
    class Market:  # the REST client's records expose the same names as attributes
        def __init__(self, **kw: object) -> None:
            self.__dict__.update(kw)

    ms = [Market(ticker="KXHIGHNY-26FEB11-B40.5", event_ticker="KXHIGHNY-26FEB11", strike_type="between",
                 floor_strike=40.0, cap_strike=41.0, yes_sub_title="40° to 41°", status="active", result=""),
          Market(ticker="KXBTCD-25AUG0517-T1", event_ticker="KXBTCD-25AUG0517", strike_type="greater",
                 floor_strike=1.0, cap_strike=None, yes_sub_title="", status="active", result="")]
    ny, btc = settle_events(ms, daily_climate=cli_rows(("202602120616-KOKX-CDUS41-CLINYC", False, 41, 30),
                                                     station="KNYC"))
    assert (ny.station, ny.settles_yes) == ("KNYC", "KXHIGHNY-26FEB11-B40.5")
    assert btc.station is None and "not a temperature series" in btc.note


def test_events_the_registry_cannot_place_keep_kalshis_result() -> None:
    others = [
        {"ticker": "KXBTC-26FEB11-B1", "event_ticker": "KXBTC-26FEB11", "strike_type": "between",
         "floor_strike": 1, "cap_strike": 2, "status": "finalized", "result": "yes"},
        {"ticker": "KXHIGHCHI-WEEKLY-T40", "event_ticker": "KXHIGHCHI-WEEKLY", "strike_type": "greater",
         "floor_strike": 40, "status": "active", "result": ""},
    ]
    btc, weekly = settle_events(others, daily_climate=cli_rows((FINAL, False, 38, 24)))
    assert (btc.series, btc.kind, btc.station, btc.cli_value) == ("KXBTC", None, None, None)
    assert btc.kalshi_yes == "KXBTC-26FEB11-B1" and btc.settles_yes is None and not btc.disagreement
    assert "not a temperature series" in btc.note and btc.markets[0].expected is None
    assert (weekly.kind, weekly.station, weekly.climate_date, weekly.window_start) == ("high", "KMDW", None, None)
    assert weekly.note == "not a daily event ticker" and weekly.cli_versions == 0
