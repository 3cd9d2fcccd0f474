"""``kalshi-collector status`` over a folder the real collector filled (``collected``)."""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
from ops_helpers import EVENT, Collected

from kalshi_collector.backfill.command import parse_request
from kalshi_collector.cli import build_parser
from kalshi_collector.cli import main as cli_main
from kalshi_collector.config import load_config
from kalshi_collector.status import build_report, render_text, scan
from kalshi_collector.storage import TABLES, ParquetStorage

D11, D12 = dt.date(2026, 2, 11), dt.date(2026, 2, 12)


def report_at(collected: Collected, now: dt.datetime, **kw):
    data = scan(ParquetStorage(collected.data_dir))
    return build_report(data, now=now, interval_seconds=60.0, flush_interval_seconds=0.5, series=["KXHIGHCHI"],
                        config_path=str(collected.config_path), **kw)


def last_snapshot(collected: Collected) -> dt.datetime:
    return ParquetStorage(collected.data_dir).read_parquets("market")["snapshot_ts"].max().to_pydatetime()


def test_per_table_and_day_rows_markets_and_times_match_the_data(collected: Collected) -> None:
    report = report_at(collected, last_snapshot(collected) + dt.timedelta(minutes=1))
    storage = ParquetStorage(collected.data_dir)
    by_key = {(t.table, t.day): t for t in report.tables}
    assert {day for _, day in by_key} == {"2026-02-11", "2026-02-12"}
    for table, spec in TABLES.items():
        for day in (D11, D12):
            frame = storage.read_parquets(table, day, day)
            entry = by_key.get((table, day.isoformat()))
            if entry is None:  # e.g. no rejects: a table without rows has no entry
                assert frame.empty, table
                continue
            assert entry.rows == len(frame)
            if "market_ticker" in frame:
                assert entry.markets == frame["market_ticker"].dropna().nunique()
            times = frame[spec.time_column]
            assert pd.Timestamp(entry.first) == times.min() and pd.Timestamp(entry.last) == times.max()
    # the first run's day was compacted by the second run; the second day is still parts
    assert by_key[("market_snapshots", "2026-02-11")].day_file and not by_key[("market_snapshots", "2026-02-11")].parts
    assert by_key[("market_snapshots", "2026-02-12")].parts >= 3


def test_snapshot_cadence_is_measured_against_the_configured_interval(collected: Collected) -> None:
    report = report_at(collected, last_snapshot(collected) + dt.timedelta(minutes=1))
    assert [c.day for c in report.cadence] == ["2026-02-11", "2026-02-12"]
    for c in report.cadence:
        assert c.configured_seconds == 60.0 and c.periodic >= 4
        assert 50 <= c.median_seconds <= 75 and c.ok is True  # type: ignore[operator]
    data = scan(ParquetStorage(collected.data_dir))
    strict = build_report(data, now=last_snapshot(collected), interval_seconds=20.0)
    assert all(c.ok is False for c in strict.cadence)
    assert "SLOWER THAN CONFIGURED" in render_text(strict)


def test_gaps_come_from_book_events_with_their_durations(collected: Collected) -> None:
    report = report_at(collected, last_snapshot(collected) + dt.timedelta(minutes=1))
    events = ParquetStorage(collected.data_dir).read_parquets("book_events")
    recovered = events[events["action"] == "recovered"]
    assert len(recovered) >= 12 and sum(g.gaps for g in report.gap_days) == len(recovered)
    longest = report.longest_gaps[0]
    expected = (recovered["recovered_ts"] - recovered["ts"]).dt.total_seconds().max()
    assert longest.seconds == pytest.approx(expected)
    assert longest.cause in {"gap", "duplicate", "out_of_order", "disconnect"}
    assert all(g.book_seconds >= g.max_seconds > 0 for g in report.gap_days)
    assert sum(sum(c.values()) for c in report.events.values()) == len(events)


def test_the_outage_is_a_hole_with_the_exact_backfill_command(collected: Collected) -> None:
    now = last_snapshot(collected) + dt.timedelta(minutes=1)
    report = report_at(collected, now)
    stopped, started = collected.outage
    # the clock runs 120x: a loaded machine can stretch a pause into an extra short hole; the
    # outage's hole is the one that covers it
    [hole] = [h for h in report.holes
              if pd.Timestamp(h.start).timestamp() <= stopped + 1 and pd.Timestamp(h.end).timestamp() >= started - 1]
    start, end = pd.Timestamp(hole.start).timestamp(), pd.Timestamp(hole.end).timestamp()
    assert start <= stopped + 1 and end >= started - 1 and 200 < hole.seconds < 600
    assert hole.events == ["KXHIGHCHI-26FEB11", "KXHIGHCHI-26FEB12"] and not hole.ongoing
    assert hole.command == ("kalshi-collector backfill --start 2026-02-11 --end 2026-02-12 "
                            f"--events KXHIGHCHI-26FEB11 KXHIGHCHI-26FEB12 --config {collected.config_path}")
    # the command is one the backfill command accepts, as written
    argv = shlex.split(hole.command)[1:]
    args = build_parser(load_modules=["backfill"]).parse_args(argv)
    request = parse_request(args, load_config(args.config), today=dt.date(2026, 2, 13))
    assert (request.start, request.end, request.events) == (D11, D12, ("KXHIGHCHI-26FEB11", "KXHIGHCHI-26FEB12"))
    # a collector that stopped for good leaves an open hole up to now; a long one asks for whole series
    later = report_at(collected, now + dt.timedelta(days=3))
    assert later.holes[-1].ongoing and "--series KXHIGHCHI" in later.holes[-1].command


def test_finished_days_left_in_parts_are_reported(collected: Collected) -> None:
    on_the_day = report_at(collected, last_snapshot(collected) + dt.timedelta(minutes=1))
    assert on_the_day.not_compacted == []  # today's parts are expected
    next_day = report_at(collected, dt.datetime(2026, 2, 13, 1, tzinfo=dt.UTC))
    with_rows = {t.table for t in next_day.tables if t.day == "2026-02-12" and t.rows}
    assert {(u.table, u.day) for u in next_day.not_compacted} == {(t, "2026-02-12") for t in with_rows}
    assert {"market_snapshots", "orderbook_deltas"} <= with_rows


def test_the_command_prints_text_and_json(collected: Collected, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["status", "--config", str(collected.config_path)]) == 0
    text = capsys.readouterr().out
    for heading in ("Live tables (UTC days)", "Snapshot cadence (configured: 60.0 s)", "Book gaps",
                    "Holes (no snapshot for more than 3.0 min)", "Not compacted", "Backfill and weather"):
        assert heading in text
    assert f"kalshi-collector backfill --start 2026-02-11 --end 2026-02-12 --events {EVENT}" in text
    assert cli_main(["status", "--config", str(collected.config_path), "--json", "--start", "2026-02-12"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {t["day"] for t in report["tables"]} == {"2026-02-12"}
    assert report["other"]["weather/asos_1min"]["rows"] == 1440


def test_an_empty_or_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    config = tmp_path / "none.yaml"
    assert cli_main(["status", "--data-dir", str(tmp_path / "empty"), "--config", str(config)]) == 0
    assert "nothing collected yet" in capsys.readouterr().out
    assert cli_main(["status", "--data-dir", str(tmp_path / "nope"), "--config", str(config)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["status", "--config", str(config)]) == 2
    assert "config file not found" in capsys.readouterr().err
