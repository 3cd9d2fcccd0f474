"""``rebuild``: the raw tape of a real collector run under faults replays into the same derived rows,
and a fixed decoder recovers rows the old one lost."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from kalshi_collector import cli
from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.rebuild_io import DERIVED, rebuild
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage
from tests.live.simrun import collector_config

pytestmark = pytest.mark.slow


async def _record(tmp_path: Path, faults: FaultPlan, seconds: float, schedule=()) -> tuple[Path, Collector]:
    async with SimExchange(SimConfig(seed=23, faults=faults, message_rate=300, state_dir=tmp_path / "sim")) as sim:
        cfg = collector_config(sim, tmp_path / "data", rest_check_interval_seconds=0.5)
        collector = Collector(cfg, options=CollectorOptions(stats_interval=5, resync_retry_seconds=1.0))

        async def inject() -> None:
            for after, kind in schedule:
                await asyncio.sleep(after)
                sim.inject(kind)

        injector = asyncio.create_task(inject())
        await collector.run(duration=seconds)
        injector.cancel()
    return tmp_path / "data", collector


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype(object).where(df.notna(), None)
    return df.sort_values(list(df.columns), key=lambda c: c.astype(str), kind="stable").reset_index(drop=True)


def _days(data: Path) -> tuple[dt.date, dt.date]:
    ts = ParquetStorage(data).read_parquets("raw_ws")["recv_ts"]
    return ts.min().date(), ts.max().date()


def assert_rebuild_equals_live(data: Path, out_dir: Path, live: ParquetStorage, *, records: int) -> None:
    """Rebuild every day of ``data`` into ``out_dir``: one run, every record, and each derived table
    equal to what the live run wrote (the WebSocket's rejects: REST items are not in raw_ws)."""
    start, end = _days(data)
    report = rebuild(data, out_dir, start, end)
    assert report.runs == 1 and report.records == records
    out = ParquetStorage(out_dir)
    for table in DERIVED:
        ours, theirs = out.read_parquets(table), live.read_parquets(table)
        if table == "rejects":
            theirs = theirs[theirs["source"] == "ws"]
        ours, theirs = _sorted(ours), _sorted(theirs)
        assert len(theirs) > 0, table
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, obj=table)


async def test_rebuild_of_a_faulty_run_gives_the_rows_the_live_run_wrote(tmp_path: Path) -> None:
    faults = FaultPlan(gap_every=300, duplicate_every=700, reorder_every=900, malformed_every=500)
    data, collector = await _record(tmp_path, faults, 12, schedule=[(4, "drop"), (3, "drop")])
    live = ParquetStorage(data)
    raw = live.read_parquets("raw_ws")
    assert {"in", "out", "open", "close", "snapshot", "markets", "crosscheck"} <= set(raw["kind"])
    assert raw["n"].is_monotonic_increasing or raw.sort_values("n")["n"].diff().dropna().eq(1).all()
    assert collector.counters.malformed > 0 and collector.counters.disconnects >= 2
    assert (live.read_parquets("raw_rest")["source"] == "discovery").any()
    assert_rebuild_equals_live(data, tmp_path / "out", live, records=len(raw))
    events = live.read_parquets("book_events")["action"]
    assert {"gap", "recovered", "disconnect", "resync_requested"} <= set(events)


def _strict_decoder(reject: str):
    """An 'old' decoder with a bug: it cannot read frames containing ``reject``."""
    def decode(frame: str | bytes, repairs=None):
        text = frame.decode() if isinstance(frame, bytes) else frame
        if reject in text:
            raise wm.MessageError(f"old decoder: cannot read {reject}")
        return wm.decode(frame, repairs)
    return decode


async def test_a_fixed_decoder_recovers_the_rows_an_old_one_rejected(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = await _record(tmp_path, FaultPlan(), 6)
    start, end = _days(data)
    old = rebuild(data, tmp_path / "old", start, end, decode=_strict_decoder('"type":"trade"'))
    fixed = rebuild(data, tmp_path / "fixed", start, end)
    assert old.malformed_frames > 0 and old.rows["trades_live"] == 0
    assert fixed.rows["trades_live"] == old.malformed_frames > 0
    live = ParquetStorage(data).read_parquets("trades_live")
    pd.testing.assert_frame_equal(_sorted(ParquetStorage(tmp_path / "fixed").read_parquets("trades_live")),
                                  _sorted(live), check_dtype=False)
    # the command line does the same (and refuses to write over its own output)
    args = ["rebuild", "--data", str(data), "--out", str(tmp_path / "cli"), "--start", str(start), "--end", str(end)]
    assert cli.main(args) == 0
    assert f"trades_live {len(live)}" in capsys.readouterr().out
    assert cli.main(args) == 2
    assert "already holds" in capsys.readouterr().err


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert cli.main(["rebuild", "--data", str(data), "--out", str(tmp_path / "o"), "--date", "2026-02-11",
                     "--start", "2026-02-11"]) == 2
    assert "give either --date or --start/--end, not both" in capsys.readouterr().err
    assert cli.main(["rebuild", "--data", str(data), "--out", str(tmp_path / "o"), "--date", "11/02/2026"]) == 2
    assert "--date '11/02/2026': expected a date such as 2026-02-11" in capsys.readouterr().err
    assert cli.main(["rebuild", "--data", str(data), "--out", str(data), "--date", "2026-02-11"]) == 2
    assert "--out must be another folder than --data" in capsys.readouterr().err
