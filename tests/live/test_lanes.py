"""LanePlan: markets spread over connections within the per-connection limit, kept where they are."""

from __future__ import annotations

import pytest

from kalshi_collector.live.lanes import LanePlan, batches


def test_markets_fill_lanes_up_to_the_limit_and_open_new_ones() -> None:
    plan = LanePlan(per_lane=3, max_lanes=4)
    changes = plan.assign([f"M{i}" for i in range(7)])
    assert [len(plan.markets(i)) for i in range(len(plan))] == [3, 3, 1]
    assert [(c.lane, len(c.added), c.removed) for c in changes] == [(0, 3, []), (1, 3, []), (2, 1, [])]


def test_a_market_stays_on_its_lane_and_new_ones_go_where_there_is_room() -> None:
    plan = LanePlan(per_lane=3, max_lanes=4)
    plan.assign([f"M{i}" for i in range(7)])
    lane_of_m6 = plan.lane_of("M6")
    changes = plan.assign(["M1", "M2", "M3", "M6", "N1", "N2"])  # M0, M4, M5 settled
    assert plan.lane_of("M6") == lane_of_m6 and plan.lane_of("M3") == 1
    removed = {t for c in changes for t in c.removed}
    assert removed == {"M0", "M4", "M5"}
    assert all(len(plan.markets(i)) <= 3 for i in range(len(plan)))
    assert sorted(t for i in range(len(plan)) for t in plan.markets(i)) == ["M1", "M2", "M3", "M6", "N1", "N2"]


def test_a_listing_as_a_mapping_is_taken_by_its_keys_and_an_unchanged_one_changes_nothing() -> None:
    plan = LanePlan(per_lane=3, max_lanes=4)
    listing = {f"M{i}": object() for i in range(7)}
    plan.assign(listing)
    assert plan.assign(dict(listing)) == [] and plan.assign(list(listing)) == []
    del listing["M5"], listing["M1"]
    changes = plan.assign(listing)
    assert [t for c in changes for t in c.removed] == ["M1", "M5"]  # in ticker order, whatever the lanes' order


def test_markets_beyond_every_lane_are_reported_not_dropped_silently() -> None:
    plan = LanePlan(per_lane=2, max_lanes=2)
    plan.assign(["A", "B", "C", "D", "E"])
    assert plan.unplaced == ["E"] and len(plan) == 2


def test_batches_and_bad_limits() -> None:
    assert list(batches(["a", "b", "c", "d", "e"], 2)) == [["a", "b"], ["c", "d"], ["e"]]
    with pytest.raises(ValueError):
        LanePlan(per_lane=0, max_lanes=1)
