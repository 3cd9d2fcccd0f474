"""The judging parts of ``status`` on small hand-made tables: cadence, gaps, holes, table days."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from kalshi_collector.status.cadence import SnapshotTimes, snapshot_cadence
from kalshi_collector.status.gaps import book_gaps
from kalshi_collector.status.holes import find_holes
from kalshi_collector.status.report import table_days
from kalshi_collector.status.scan import FileStats
from kalshi_collector.storage.catalog import BOOK_EVENTS, MARKET_SNAPSHOTS

T0 = dt.datetime(2026, 2, 11, 12, tzinfo=dt.UTC)
US = 1_000_000


def at(seconds: float) -> int:
    return int((T0.timestamp() + seconds) * US)


def snapshots(times: list[int], triggers: list[str], events: list[str | None]) -> pa.Table:
    ts = pa.array(times, pa.int64()).cast(MARKET_SNAPSHOTS.schema.field("snapshot_ts").type)
    return pa.table({"snapshot_ts": ts, "trigger": triggers, "event_ticker": events})


def test_cadence_counts_periodic_and_spike_snapshots_per_day() -> None:
    times = [at(0), at(60), at(120), at(130), at(180)]
    snaps = SnapshotTimes.of(snapshots(times, ["periodic", "periodic", "periodic", "spike", "periodic"],
                                       ["E1", None, "E1", "E1", "E2"]))
    assert snaps.times == times and snaps.events_at[at(180)] == {"E2"} and at(60) not in snaps.events_at
    (day,) = snapshot_cadence(snaps, 60.0, has_overrides=False)
    assert (day.day, day.periodic, day.spikes, day.median_seconds, day.ok) == ("2026-02-11", 4, 1, 60.0, True)
    assert snapshot_cadence(snaps, 30.0, has_overrides=False)[0].ok is False
    assert snapshot_cadence(snaps, 30.0, has_overrides=True)[0].ok is None  # mixed intervals: no verdict
    assert snapshot_cadence(SnapshotTimes.of(None), 60.0, has_overrides=False) == []


def test_holes_name_the_events_on_both_edges_and_an_ongoing_one_is_flagged() -> None:
    snaps = SnapshotTimes.of(snapshots([at(0), at(600), at(660)], ["periodic"] * 3, ["E1-A", "E2-B", "E2-B"]))
    holes = find_holes(snaps, now=T0 + dt.timedelta(seconds=2000), outage_seconds=300, flush_interval_seconds=60,
                       series=["KXHIGHNY"], config_path=None)
    assert [(h.seconds, h.ongoing) for h in holes] == [(600.0, False), (1340.0, True)]
    assert holes[0].events == ["E1-A", "E2-B"]
    assert holes[0].command == "kalshi-collector backfill --start 2026-02-11 --end 2026-02-11 --events E1-A E2-B"
    # within outage + flush interval of the last snapshot: not yet a hole
    assert len(find_holes(snaps, now=T0 + dt.timedelta(seconds=1000), outage_seconds=300,
                          flush_interval_seconds=60, series=[], config_path=None)) == 1


def test_a_hole_longer_than_a_day_asks_for_whole_series() -> None:
    snaps = SnapshotTimes.of(snapshots([at(0), at(2 * 86400)], ["periodic"] * 2, ["KXHIGHCHI-26FEB11", None]))
    (hole,) = find_holes(snaps, now=T0 + dt.timedelta(days=2), outage_seconds=300, flush_interval_seconds=60,
                         series=[], config_path="/etc/kc.yaml")
    assert hole.command == ("kalshi-collector backfill --start 2026-02-11 --end 2026-02-13 "
                            "--series KXHIGHCHI --config /etc/kc.yaml")


def test_gaps_take_their_cause_from_the_trigger_at_the_same_time() -> None:
    rows = [
        (at(0), "M1", 1, 5, 7, "gap", None, None),
        (at(0), "M1", 1, None, None, "recovered", None, at(3)),
        (at(10), None, 2, None, None, "disconnect", None, None),
        (at(10), "M2", 2, None, None, "recovered", None, at(40)),
        (at(20), "M3", 2, None, None, "recovered", None, None),  # not recovered yet: no duration
    ]
    table = pa.Table.from_pylist([dict(zip(BOOK_EVENTS.schema.names, r, strict=True)) for r in rows],
                                 schema=BOOK_EVENTS.schema)
    gaps = book_gaps(table)
    assert [(g.market_ticker, g.cause, g.seconds) for g in gaps.gaps] == [("M2", "disconnect", 30.0),
                                                                            ("M1", "gap", 3.0)]
    (day,) = gaps.days
    assert (day.gaps, day.max_seconds, day.book_seconds, day.causes) == (2, 30.0, 33.0, {"disconnect": 1, "gap": 1})
    assert gaps.actions == {"2026-02-11": {"gap": 1, "recovered": 3, "disconnect": 1}}
    assert book_gaps(None).gaps == []


def test_table_days_follow_catalog_order_and_report_finished_days_left_in_parts() -> None:
    day, today = dt.date(2026, 2, 11), dt.date(2026, 2, 12)

    def stats(table: str, on: dt.date, name: str, is_part: bool) -> FileStats:
        return FileStats(table, on, name, is_part, 10, at(0), at(60), frozenset({"M1"}))

    files = [stats("book_events", day, "p1", True), stats("market_snapshots", day, "d", False),
             stats("market_snapshots", day, "p2", True), stats("market_snapshots", today, "p3", True)]
    tables, uncompacted = table_days(files, today=today)
    assert [(t.table, t.day, t.rows, t.day_file, t.parts) for t in tables] == [
        ("market_snapshots", "2026-02-11", 20, True, 1),
        ("market_snapshots", "2026-02-12", 10, False, 1),
        ("book_events", "2026-02-11", 10, False, 1),
    ]
    assert [(u.table, u.day) for u in uncompacted] == [("market_snapshots", "2026-02-11"), ("book_events", "2026-02-11")]
