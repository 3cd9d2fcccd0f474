"""The real command line: one-line usage errors, and a `kill -9` in the middle of a run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bf_helpers import (
    RecordingClient,
    assert_same_files,
    client,
    complete_markets,
    kill_after_checkpoints,
    leftovers,
    start_backfill_cli,
    window_request,
)

from kalshi_collector import cli
from kalshi_collector.backfill import backfill
from kalshi_collector.sim import SimExchange


def _config(tmp_path: Path, base_url: str = "http://127.0.0.1:9/trade-api/v2", *, rate: float = 0,
            events: tuple[str, ...] = ()) -> Path:
    path = tmp_path / "config.yaml"
    listed = "".join(f"\n  - {e}" for e in events) or " []"
    path.write_text(
        f"kalshi:\n  base_url: {base_url}\n  requests_per_second: {rate}\n  max_retries: 3\n"
        f"events:{listed}\nstorage:\n  data_dir: {tmp_path / 'data'}\n"
    )
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-02-30"], "--start '2026-02-30' is not a date; expected YYYY-MM-DD"),
        (["--start", "11/02/2026"], "--start '11/02/2026' is not a date"),
        (["--start", "2026-02-10", "--end", "2026-02-01"], "--end 2026-02-01 is before --start 2026-02-10"),
        (["--start", "2026-02-01", "--period", "5"], "--period 5 is not supported; Kalshi serves candlesticks of 1, 60, 1440 minutes"),
        (["--start", "2026-02-01", "--period", "hourly"], "--period hourly is not supported"),
        (["--start", "2999-01-01"], "--start 2999-01-01 is in the future"),
        (["--start", "2026-02-01", "--events", "kx high"], "--events 'kx high' is not a Kalshi ticker"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                             message: str) -> None:
    config = _config(tmp_path, events=("KXHIGHCHI-26FEB11",))
    assert cli.main(["backfill", "--config", str(config), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kalshi-collector backfill: ") and message in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "data").exists()


def test_nothing_to_backfill_without_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["backfill", "--config", str(_config(tmp_path)), "--start", "2026-02-01"]) == 2
    assert "nothing to backfill: pass --events or --series" in capsys.readouterr().err


def _dates(request) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--start", request.start.isoformat(), "--end", request.end.isoformat()]


async def test_unknown_event_is_a_usage_error(sim: SimExchange, tmp_path: Path) -> None:
    request = window_request(sim)
    proc = await start_backfill_cli(_config(tmp_path, sim.rest_url), *_dates(request), "--events", "KXHIGHCHI-26FEB31", *request.events)
    out, err = await proc.communicate()
    assert proc.returncode == 2, err
    assert err.decode().strip().splitlines()[-1] == (
        "kalshi-collector backfill: unknown event KXHIGHCHI-26FEB31 (not found on the exchange; check the ticker)"
    )
    assert not list((tmp_path / "data").rglob("*.parquet"))


async def test_kill_9_then_rerun_equals_a_clean_run(sim: SimExchange, tmp_path: Path) -> None:
    request = window_request(sim)
    async with client(sim) as c:
        await backfill(c, tmp_path / "clean", request)

    # the real CLI, rate-limited so that it is still working when it is killed
    config = _config(tmp_path, sim.rest_url, rate=15)
    args = [*_dates(request), "--series", *request.series, "--events", *request.events, "--period", "60"]
    proc = await start_backfill_cli(config, *args)
    work = tmp_path / "data" / "historical" / "_backfill"
    await kill_after_checkpoints(proc, work)

    done = complete_markets(tmp_path / "data", request, time.time())
    assert done
    # resume: no request for a market that was complete when the process died
    async with client(sim, RecordingClient) as c:
        summary = await backfill(c, tmp_path / "data", request)
    assert summary.ok
    assert all(not c.mentions(t) for t in done)
    assert_same_files(tmp_path / "clean", tmp_path / "data")
    assert leftovers(tmp_path / "data") == []

    # and the CLI again: nothing left to fetch, a summary line, exit 0
    proc = await start_backfill_cli(config, *args)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    line = out.decode().strip().splitlines()[-1]
    assert line.startswith("backfill done: ") and " 0 candles, 0 trades," in line and " 0 429s" in line
    assert_same_files(tmp_path / "clean", tmp_path / "data")
