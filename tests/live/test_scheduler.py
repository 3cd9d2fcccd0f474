"""Snapshot schedule (intervals, time-of-day overrides in their own zones, DST days, midnight wraps,
grid alignment) and the spike detector (cumulative moves, cooldown, None sides), with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kalshi_collector.config import IntervalOverride
from kalshi_collector.live.scheduler import SnapshotScheduler, SpikeDetector


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(start: str, end: str, interval: float, tz: str = "America/New_York") -> IntervalOverride:
    return IntervalOverride(start=start, end=end, timezone=tz, interval_seconds=interval)


NY_SESSION = window("09:30", "16:00", 5)


# --- interval_at ----------------------------------------------------------------------------------


def test_baseline_without_overrides() -> None:
    assert SnapshotScheduler(60).interval_at(utc("2026-02-11T14:30:00")) == 60


@pytest.mark.parametrize(
    ("moment", "interval"),
    [
        # winter (EST, UTC-5): 09:30 New York is 14:30Z
        ("2026-02-11T14:29:59", 60),
        ("2026-02-11T14:30:00", 5),
        ("2026-02-11T20:59:59", 5),
        ("2026-02-11T21:00:00", 60),
        # summer (EDT, UTC-4): 09:30 New York is 13:30Z
        ("2026-07-15T13:29:59", 60),
        ("2026-07-15T13:30:00", 5),
        ("2026-07-15T19:59:59", 5),
        ("2026-07-15T20:00:00", 60),
        # the spring-forward day: clocks jump 02:00 -> 03:00 EST -> EDT, so the session is EDT
        ("2026-03-08T13:29:59", 60),
        ("2026-03-08T13:30:00", 5),
        ("2026-03-08T14:30:00", 5),
        ("2026-03-08T20:00:00", 60),
        # the fall-back day: 02:00 EDT -> 01:00 EST, so the session is EST
        ("2026-11-01T13:30:00", 60),
        ("2026-11-01T14:29:59", 60),
        ("2026-11-01T14:30:00", 5),
        ("2026-11-01T21:00:00", 60),
    ],
)
def test_override_is_evaluated_in_its_own_zone(moment: str, interval: float) -> None:
    assert SnapshotScheduler(60, [NY_SESSION]).interval_at(utc(moment)) == interval


def test_window_over_the_fall_back_hour_lasts_three_real_hours() -> None:
    # 01:00-03:00 New York on 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    sched = SnapshotScheduler(60, [window("01:00", "03:00", 1)])
    assert sched.interval_at(utc("2026-11-01T04:59:59")) == 60
    assert sched.interval_at(utc("2026-11-01T05:00:00")) == 1  # 01:00 EDT
    assert sched.interval_at(utc("2026-11-01T06:30:00")) == 1  # 01:30 EST, the second time round
    assert sched.interval_at(utc("2026-11-01T07:59:59")) == 1  # 02:59 EST
    assert sched.interval_at(utc("2026-11-01T08:00:00")) == 60  # 03:00 EST


def test_window_over_the_spring_forward_gap_lasts_one_real_hour() -> None:
    # 02:00-04:00 New York on 2026-03-08: 02:00-03:00 does not exist.
    sched = SnapshotScheduler(60, [window("02:00", "04:00", 1)])
    assert sched.interval_at(utc("2026-03-08T06:59:59")) == 60  # 01:59:59 EST
    assert sched.interval_at(utc("2026-03-08T07:00:00")) == 1  # 03:00 EDT
    assert sched.interval_at(utc("2026-03-08T07:59:59")) == 1
    assert sched.interval_at(utc("2026-03-08T08:00:00")) == 60  # 04:00 EDT


def test_window_wrapping_midnight() -> None:
    sched = SnapshotScheduler(60, [window("22:00", "02:00", 10, tz="America/Chicago")])
    # winter Chicago is UTC-6: 22:00 local = 04:00Z next day, 02:00 local = 08:00Z
    assert sched.interval_at(utc("2026-02-12T03:59:59")) == 60
    assert sched.interval_at(utc("2026-02-12T04:00:00")) == 10
    assert sched.interval_at(utc("2026-02-12T06:00:00")) == 10  # local midnight
    assert sched.interval_at(utc("2026-02-12T07:59:59")) == 10
    assert sched.interval_at(utc("2026-02-12T08:00:00")) == 60


def test_first_matching_override_wins_and_equal_bounds_mean_all_day() -> None:
    narrow = window("10:00", "11:00", 1)
    wide = window("09:00", "17:00", 5)
    sched = SnapshotScheduler(60, [narrow, wide])
    assert sched.interval_at(utc("2026-02-11T15:30:00")) == 1  # 10:30 EST: both match, first wins
    assert sched.interval_at(utc("2026-02-11T14:30:00")) == 5  # 09:30 EST: only the wide one
    assert SnapshotScheduler(60, [wide, narrow]).interval_at(utc("2026-02-11T15:30:00")) == 5
    all_day = SnapshotScheduler(60, [window("00:00", "00:00", 30, tz="UTC")])
    assert all_day.interval_at(utc("2026-02-11T03:17:00")) == 30


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SnapshotScheduler(60).interval_at(datetime(2026, 2, 11, 14, 30))
    with pytest.raises(ValueError):
        SnapshotScheduler(0)


# --- due times ----------------------------------------------------------------------------------


def test_first_snapshot_is_due_at_once_then_on_the_grid() -> None:
    sched = SnapshotScheduler(60)
    start = utc("2026-02-11T14:00:17")
    assert sched.is_due(start)
    assert sched.next_due(None, start) == start
    sched.record(start)
    assert not sched.is_due(utc("2026-02-11T14:00:59.999"))
    # aligned to whole minutes: the late first snapshot does not shift the grid
    assert sched.next_due(sched.last_snapshot, start) == utc("2026-02-11T14:01:00")
    assert sched.is_due(utc("2026-02-11T14:01:00"))
    assert sched.seconds_until_due(utc("2026-02-11T14:00:30")) == pytest.approx(30)
    assert sched.seconds_until_due(utc("2026-02-11T14:05:00")) == 0  # overdue: due now


def test_entering_a_faster_window_snapshots_at_its_start() -> None:
    sched = SnapshotScheduler(3600, [NY_SESSION])
    last = utc("2026-02-11T14:00:00")
    assert sched.next_due(last, utc("2026-02-11T14:10:00")) == utc("2026-02-11T14:30:00")
    # same window on the summer side of the DST change starts an hour earlier in UTC
    assert sched.next_due(utc("2026-03-08T13:00:00"), utc("2026-03-08T13:10:00")) == utc("2026-03-08T13:30:00")
    assert sched.next_due(utc("2026-11-01T14:00:00"), utc("2026-11-01T14:10:00")) == utc("2026-11-01T14:30:00")


def test_leaving_a_window_waits_for_the_slower_grid() -> None:
    sched = SnapshotScheduler(7200, [NY_SESSION])  # baseline grid: even UTC hours
    last = utc("2026-02-11T20:59:55")  # last 5-second snapshot of the session
    assert sched.next_due(last, utc("2026-02-11T20:59:57")) == utc("2026-02-11T22:00:00")
    sched.record(last)
    assert not sched.is_due(utc("2026-02-11T21:00:00"))
    assert sched.is_due(utc("2026-02-11T22:00:00"))


@pytest.mark.parametrize("day", ["2026-03-08", "2026-11-01"])
def test_next_due_agrees_with_is_due_second_by_second(day: str) -> None:
    """Brute force around the session start and end of both DST days: next_due(last, now) is the
    first second at or after ``now`` at which is_due holds."""
    sched = SnapshotScheduler(600, [NY_SESSION, window("01:00", "03:00", 90)])
    for hour in ("05:40", "13:20", "14:20", "19:50", "20:50"):
        start = utc(f"{day}T{hour}:00")
        last = start - timedelta(seconds=7)
        sched.record(last)
        due = sched.next_due(last, start)
        moment = start
        while moment < due:
            assert not sched.is_due(moment), moment
            moment += timedelta(seconds=1)
        assert sched.is_due(due), due


# --- spikes -----------------------------------------------------------------------------------------


def test_cumulative_moves_since_the_last_snapshot_trigger() -> None:
    spikes = SpikeDetector(threshold_cents=3, cooldown_seconds=2)
    spikes.record_snapshot({"A": (30.0, 33.0, 31.0)}, now=0.0)
    assert not spikes.observe("A", 31.0, 33.0, 31.0, now=1.0)
    assert not spikes.observe("A", 32.0, 33.0, 31.0, now=2.0)
    assert spikes.observe("A", 33.0, 34.0, 31.0, now=3.0)  # 1 + 1 + 1 cents
    assert spikes.pending == {"A"}
    assert spikes.should_snapshot(3.0)


@pytest.mark.parametrize(
    "quote",
    [(27.0, 33.0, 31.0), (33.0, 33.0, 31.0), (30.0, 36.0, 31.0), (30.0, 30.0, 31.0), (30.0, 33.0, 28.0), (30.0, 33.0, 34.0)],
)
def test_each_field_in_both_directions(quote: tuple[float, float, float]) -> None:
    spikes = SpikeDetector(3, 2)
    spikes.record_snapshot({"A": (30.0, 33.0, 31.0)}, now=0.0)
    assert spikes.observe("A", *quote, now=1.0)


def test_small_moves_and_sub_penny_differences() -> None:
    spikes = SpikeDetector(3, 2)
    spikes.record_snapshot({"A": (26.1, 33.0, 31.0)}, now=0.0)
    assert not spikes.observe("A", 29.0, 31.0, 28.5, now=1.0)  # 2.9, 2, 2.5
    assert spikes.observe("A", 29.1, 33.0, 31.0, now=2.0)  # 29.1 - 26.1 is 3 (give or take a float)


def test_cooldown_defers_but_does_not_lose_a_spike() -> None:
    spikes = SpikeDetector(3, cooldown_seconds=2)
    spikes.record_snapshot({"A": (30.0, 33.0, 31.0), "B": (50.0, 52.0, 51.0)}, now=0.0)
    assert spikes.observe("A", 34.0, 35.0, 31.0, now=10.0)
    assert spikes.should_snapshot(10.0)
    spikes.record_snapshot({"A": (34.0, 35.0, 31.0), "B": (50.0, 52.0, 51.0)}, now=10.0)
    assert not spikes.should_snapshot(10.0)
    # B moves half a second later: pending, but inside the cooldown
    assert spikes.observe("B", 55.0, 56.0, 51.0, now=10.5)
    assert not spikes.should_snapshot(10.5)
    assert spikes.seconds_until_allowed(10.5) == pytest.approx(1.5)
    assert not spikes.should_snapshot(11.99)
    assert spikes.should_snapshot(12.0)  # fires when the cooldown ends, with no new message


def test_moves_during_cooldown_accumulate_against_the_snapshot() -> None:
    spikes = SpikeDetector(3, 5)
    spikes.record_snapshot({"A": (30.0, 33.0, 31.0)}, now=0.0)
    spikes.observe("A", 33.0, 33.0, 31.0, now=0.1)
    spikes.record_snapshot({"A": (33.0, 33.0, 31.0)}, now=0.1)  # spike snapshot: cooldown starts
    for i, bid in enumerate((34.0, 35.0, 36.0)):  # one cent at a time during the cooldown
        spikes.observe("A", bid, 37.0, 31.0, now=1.0 + i)
    assert spikes.pending == {"A"}
    assert not spikes.watching("A") and spikes.watching("B")  # A's quote need not be worked out again
    assert not spikes.should_snapshot(4.0)
    assert spikes.should_snapshot(5.1)


def test_periodic_snapshots_reset_references_without_starting_the_cooldown() -> None:
    spikes = SpikeDetector(3, 2)
    spikes.record_snapshot({"A": (30.0, 33.0, 31.0)}, now=0.0)  # periodic, nothing pending
    assert spikes.observe("A", 33.0, 36.0, 31.0, now=0.5)
    assert spikes.should_snapshot(0.5)  # no spike snapshot yet: no cooldown
    spikes.record_snapshot({"A": (33.0, 36.0, 31.0)}, now=60.0)  # a periodic snapshot captured it
    assert spikes.pending == frozenset()
    assert not spikes.observe("A", 34.0, 36.0, 31.0, now=60.5)  # measured from 33 now


def test_empty_sides_count_as_moves() -> None:
    spikes = SpikeDetector(3, 2)
    spikes.record_snapshot({"A": (30.0, None, None), "B": (None, None, None)}, now=0.0)
    assert not spikes.observe("B", None, None, None, now=1.0)  # None vs None: nothing moved
    assert not spikes.observe("A", 30.0, None, None, now=1.0)
    assert spikes.observe("A", None, None, None, now=2.0)  # the YES bids vanished
    spikes.record_snapshot({"A": (None, None, None)}, now=2.0)
    assert spikes.observe("A", None, 70.0, None, now=5.0)  # an ask appeared


def test_a_contract_never_snapshotted_takes_its_first_quote_as_reference() -> None:
    spikes = SpikeDetector(3, 2)
    assert not spikes.observe("NEW", 10.0, 12.0, None, now=0.0)
    assert not spikes.observe("NEW", 12.0, 12.0, None, now=0.1)
    assert spikes.observe("NEW", 13.0, 14.0, None, now=0.2)
    spikes.forget("NEW")
    assert spikes.pending == frozenset()
    assert not spikes.should_snapshot(10.0)


def test_threshold_zero_disables_spikes() -> None:
    spikes = SpikeDetector(0, 2)
    assert not spikes.enabled and not spikes.watching("A")
    spikes.record_snapshot({"A": (30.0, 33.0, 31.0)}, now=0.0)
    assert not spikes.observe("A", 90.0, 95.0, 91.0, now=1.0)
    assert not spikes.should_snapshot(100.0)
    with pytest.raises(ValueError):
        SpikeDetector(-1, 2)
