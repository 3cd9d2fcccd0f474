"""``backfill`` and ``weather`` into ``storage.data_dir: s3://bucket/prefix`` (moto's S3 server on loopback).

The same files as a local run, readable through ``ParquetStorage``; the backfill's working state on
local disk only (nothing of it in the bucket), re-runs that fetch nothing, and a ``kill -9`` of the
real CLI that resumes to the same files as a clean run. The backfill runs against the simulator of
``tests/backfill``, the weather against the replay server of ``tests/weather``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from ops_helpers import S3

TESTS = Path(__file__).resolve().parents[1]
for helpers in (TESTS / "backfill", TESTS / "weather"):  # the simulator and replay helpers of those suites
    if str(helpers) not in sys.path:
        sys.path.append(str(helpers))

from bf_helpers import (  # noqa: E402
    RecordingClient,
    client,
    complete_markets,
    event_files,
    kill_after_checkpoints,
    sim_config,
    start_backfill_cli,
    window_request,
)
from weather_replay import FAST, FIXTURE_NOW, ReplayServer, Reply, serve_reference_fixtures  # noqa: E402

from kalshi_collector import cli  # noqa: E402
from kalshi_collector.backfill import backfill  # noqa: E402
from kalshi_collector.sim import SimExchange  # noqa: E402
from kalshi_collector.storage import ParquetStorage  # noqa: E402
from kalshi_collector.storage.fs import (  # noqa: E402
    ObjectStoreFS,
    default_journal_dir,
    default_state_dir,
    open_data_dir,
)
from kalshi_collector.weather import command as weather_command  # noqa: E402
from kalshi_collector.weather import settlement_command  # noqa: E402
from kalshi_collector.weather.observations import SOURCES, collect_weather  # noqa: E402
from kalshi_collector.weather.stations import STATIONS  # noqa: E402

DAY = date(2026, 2, 11)
MDW = STATIONS["KMDW"]


@pytest.fixture()
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Local state (the backfill's working folder) under tmp_path, for this process and its children."""
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def bucket_files(url: str) -> dict[str, object]:
    """Every object under ``url``, by key relative to it, read as a table when it is parquet."""
    fs, root = open_data_dir(url)
    assert isinstance(fs, ObjectStoreFS)
    out: dict[str, object] = {}
    for key in sorted(fs.fs.find(str(root))):
        name = str(key).removeprefix(f"{root}/")
        out[name] = fs.read_table(root / name) if name.endswith(".parquet") else fs.read_bytes(root / name)
    return out


def assert_bucket_equals_folder(url: str, local: Path) -> None:
    """The bucket holds exactly the local run's event files, with equal contents."""
    in_bucket = bucket_files(url)
    on_disk = event_files(local)  # "trades/E.parquet" -> table
    assert sorted(in_bucket) == sorted(f"historical/{name}" for name in on_disk)
    for name, table in on_disk.items():
        assert in_bucket[f"historical/{name}"].equals(table), f"{name} differs"


# ------------------------------------------------------------------------------------------ backfill


async def test_backfill_into_a_bucket_equals_a_local_run_and_a_rerun_fetches_nothing(
    s3: S3, tmp_path: Path
) -> None:
    url = s3.url("backfill")
    work = tmp_path / "work"
    async with SimExchange(sim_config()) as sim:
        request = window_request(sim)
        async with client(sim) as c:
            local = await backfill(c, tmp_path / "local", request)
        async with client(sim) as c:
            remote = await backfill(c, url, request, work_dir=work)
        assert remote.ok and (remote.trades, remote.candles) == (local.trades, local.candles) and remote.trades > 0

        assert_bucket_equals_folder(url, tmp_path / "local")  # and nothing else: no _backfill/ in the bucket
        assert list(work.glob("*/manifest.json")) and not list(work.rglob("parts/*.parquet"))
        storage, local_storage = ParquetStorage(url), ParquetStorage(tmp_path / "local")
        for kind in ("trades", "candlesticks"):
            got, want = storage.read_parquets(kind), local_storage.read_parquets(kind)
            assert len(got) == len(want) > 0
            pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))

        before = bucket_files(url)
        async with client(sim, RecordingClient) as c:
            again = await backfill(c, url, request, work_dir=work)
        assert c.calls and not [p for p, _ in c.calls if "trades" in p or "candlesticks" in p], c.calls
        assert again.ok and again.trades == again.candles == again.markets_fetched == 0
        after = bucket_files(url)
        assert sorted(after) == sorted(before) and all(after[k].equals(before[k]) for k in before)


async def test_kill_9_of_a_backfill_into_a_bucket_resumes_to_a_clean_runs_files(
    s3: S3, tmp_path: Path, state_home: Path
) -> None:
    url = s3.url("killed")
    work = default_state_dir(url, "backfill")
    assert work.is_relative_to(state_home) and work.name == default_journal_dir(url).name
    async with SimExchange(sim_config()) as sim:
        request = window_request(sim)
        async with client(sim) as c:
            await backfill(c, tmp_path / "clean", request)

        config = tmp_path / "config.yaml"
        config.write_text(
            f"kalshi:\n  base_url: {sim.rest_url}\n  requests_per_second: 15\n  max_retries: 3\n"
            f"events: []\nstorage:\n  data_dir: {url}\n"
        )
        args = ["--start", request.start.isoformat(), "--end", request.end.isoformat(),
                "--series", *request.series, "--events", *request.events, "--period", "60"]
        proc = await start_backfill_cli(config, *args)
        await kill_after_checkpoints(proc, work)

        # the checkpoints were local (the lock too): the bucket holds event files only
        assert all(k.startswith(("historical/trades/", "historical/candlesticks/")) for k in bucket_files(url))
        done = _complete_in(work, request)
        assert done
        async with client(sim, RecordingClient) as c:
            summary = await backfill(c, url, request)  # default work_dir: found again from the URL
        assert summary.ok
        assert all(not c.mentions(t) for t in done)
        assert_bucket_equals_folder(url, tmp_path / "clean")
        assert not [p for p in work.rglob("*") if p.is_file() and (p.parent.name == "parts" or p.suffix == ".tmp")]

        proc = await start_backfill_cli(config, *args)  # and the CLI again: nothing left to fetch
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        line = out.decode().strip().splitlines()[-1]
        assert line.startswith("backfill done: ") and " 0 candles, 0 trades," in line
        assert_bucket_equals_folder(url, tmp_path / "clean")


def _complete_in(work: Path, request) -> set[str]:  # type: ignore[no-untyped-def]
    """``complete_markets`` reads ``<data_dir>/historical/_backfill``: point it at the local state folder."""
    shim = work.parent / "shim"
    (shim / "historical").mkdir(parents=True, exist_ok=True)
    link = shim / "historical" / "_backfill"
    if not link.exists():
        link.symlink_to(work, target_is_directory=True)
    return complete_markets(shim, request, time.time())


# ------------------------------------------------------------------------------------------- weather


@pytest.fixture()
def replay(reference_dir: Path) -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    serve_reference_fixtures(server, reference_dir / "weather" / "fixtures", reference_dir / "kalshi" / "fixtures")
    try:
        yield server
    finally:
        server.stop()


async def _collect(replay: ReplayServer, url: str, *, now: datetime = FIXTURE_NOW, sources=tuple(SOURCES)):  # type: ignore[no-untyped-def]
    return await collect_weather([(MDW, DAY)], list(sources), data_dir=url, iem_url=replay.url, awc_url=replay.url,
                                 options=FAST, now=lambda: now)


async def test_weather_into_a_bucket_is_readable_and_a_rerun_adds_only_what_is_new(
    s3: S3, replay: ReplayServer, reference_dir: Path, tmp_path: Path
) -> None:
    url = s3.url("weather")
    # the evening of the 11th: only the preliminary climate report exists
    prelim = (reference_dir / "weather" / "fixtures" / "cli_CLIMDW_202602112235_prelim.txt").read_text()
    replay.add("/cgi-bin/afos/retrieve.py", Reply(body=f"\x01\n{prelim}\n\x03\n"), pil="CLIMDW")
    replay.add("/geojson/cli.py", Reply(status=404, body="not yet"), dt="2026-02-11")
    first = await _collect(replay, url, now=datetime(2026, 2, 11, 23, 0, tzinfo=UTC))
    assert sorted(first.urls) == [f"{url}/weather/{s}/2026-02-11.parquet" for s in ("asos_1min", "daily_climate", "metar")]
    keys = sorted(bucket_files(url))
    assert keys == ["weather/_fetch_log.json", *(f"weather/{s}/2026-02-11.parquet" for s in
                                                  ("asos_1min", "daily_climate", "metar"))]
    storage = ParquetStorage(url)
    before = {s: storage.read_parquets(s, DAY, DAY) for s in SOURCES}
    assert len(before["asos_1min"]) == 30 and len(before["metar"]) > 0
    assert list(before["daily_climate"]["preliminary"]) == [True]

    # after midnight LST the final report is out: the re-run adds it and rewrites nothing else
    replay.routes = replay.routes[:-2]
    second = await _collect(replay, url)
    assert second.ok, second.failures
    assert second.urls == [f"{url}/weather/daily_climate/2026-02-11.parquet"]
    after = {s: storage.read_parquets(s, DAY, DAY) for s in SOURCES}
    for source in ("asos_1min", "metar"):
        pd.testing.assert_frame_equal(after[source].reset_index(drop=True), before[source].reset_index(drop=True))
    cli_rows = after["daily_climate"].sort_values("issued_at")
    assert list(cli_rows["preliminary"]) == [True, False]
    pd.testing.assert_frame_equal(cli_rows.iloc[:1].reset_index(drop=True),
                                  before["daily_climate"].reset_index(drop=True))  # the older row as it was

    # days recorded as finished in the bucket's fetch log are not asked for again
    fetch_log = json.loads(bucket_files(url)["weather/_fetch_log.json"])  # type: ignore[arg-type]
    assert fetch_log["daily_climate/KMDW/2026-02-11"]["finished"] is False  # finals may still be corrected
    third = await _collect(replay, url, now=FIXTURE_NOW + timedelta(days=4))  # every source has settled
    assert third.ok and third.urls == [] and all(f.finished for f in third.fetched)
    replay.requests.clear()
    fourth = await _collect(replay, url, now=FIXTURE_NOW + timedelta(days=5))
    assert len(fourth.cached) == 3 and fourth.fetched == [] and replay.requests == []


def test_weather_and_settlement_commands_with_a_bucket_data_dir(
    s3: S3, replay: ReplayServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = s3.url("weather-cli")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"kalshi:\n  base_url: {replay.url}/trade-api/v2\n  max_retries: 0\n  request_timeout_seconds: 2\n"
        f"event_series: [KXHIGHCHI]\nstorage:\n  data_dir: {url}\n"
        f"weather:\n  iem_url: {replay.url}\n  awc_url: {replay.url}\n"
    )

    def parse(*argv: str):  # type: ignore[no-untyped-def]
        return cli.build_parser(load_modules=[argv[0]]).parse_args(list(argv))

    assert weather_command.execute(parse("weather", "--config", str(config)), options=FAST,
                                   now=lambda: FIXTURE_NOW) == 0
    out = capsys.readouterr().out
    assert f"  wrote {url}/weather/metar/2026-02-11.parquet" in out.splitlines()
    assert not (tmp_path / "s3:").exists() and not Path("s3:").exists()

    args = parse("settlement", "--config", str(config), "KXHIGHCHI-26FEB11", "--json")
    assert settlement_command.execute(args, options=FAST, now=lambda: FIXTURE_NOW) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["cli_value"], view["asos_1min_value"]) == (38, 38.0)  # read back from the bucket
