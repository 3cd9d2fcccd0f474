"""What the session fixtures of the operations tests run, against real local servers.

* ``monitored`` — two collectors against one simulator (wall clock), each serving /healthz and
  /metrics on loopback, scraped while they run; one of them has a data folder whose
  ``market_snapshots`` is a file, so its flushes fail. Then the simulator goes away. Also a unix
  datagram socket plays systemd's ``NOTIFY_SOCKET``.
* ``collected`` — a data folder filled by the real collector from a simulator on an accelerated
  clock (120x: 12 s of wall time = 24 min), run twice around UTC midnight with a 4-minute outage
  between, with sequence gaps injected; plus a day of weather for the event's station. status,
  query and plot read it.
* ``s3`` — moto's S3 server on 127.0.0.1 with an empty bucket; the AWS environment points at it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from kalshi_collector.config import config_from_dict
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.live.command import run_monitored
from kalshi_collector.live.counters import Counters
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.storage.atomic import atomic_write_parquet
from kalshi_collector.weather import asos_1min, daily_climate
from kalshi_collector.weather.common import table_from_rows
from kalshi_collector.weather.stations import climate_day_window

SERIES = "KXHIGHCHI"
EVENT = "KXHIGHCHI-26FEB11"
STATION = "KMDW"
CLIMATE_DATE = dt.date(2026, 2, 11)
START = dt.datetime(2026, 2, 11, 23, 53, 30, tzinfo=dt.UTC)
SPEED = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def collector_config(sim: SimExchange, data_dir: Path | str, *, port: int = 0, stop_wait: float = 60.0,
                     **collection: Any):
    return config_from_dict({
        "kalshi": {"api_key_id": sim.api_key_id, "private_key_path": str(sim.private_key_path),
                   "base_url": sim.rest_url, "ws_url": sim.ws_url, "requests_per_second": 0},
        "event_series": [SERIES],
        "collection": {"interval_seconds": 1, "stall_timeout_seconds": 5, "rest_check_interval_seconds": 1,
                       **collection},
        "storage": {"data_dir": str(data_dir), "flush_interval_seconds": 0.5, "stop_wait_for_space_seconds": stop_wait},
        "metrics": {"host": "127.0.0.1", "port": port},
    }, env={})


# ==================================================================================== monitored


@dataclass
class Scrape:
    status: int
    text: str


@dataclass
class Monitored:
    healthy: list[Scrape] = field(default_factory=list)  # /healthz of the good collector while it runs
    metrics: list[str] = field(default_factory=list)  # two /metrics scrapes of it, ~1 s apart
    broken: Scrape | None = None  # /healthz of the collector whose flushes fail
    broken_metrics: str = ""
    disconnected: Scrape | None = None  # /healthz after the simulator stopped
    notify: list[str] = field(default_factory=list)  # sd_notify datagrams received
    counters: Counters = field(default_factory=Counters)
    ports: tuple[int, int] = (0, 0)


async def _get(http: aiohttp.ClientSession, url: str) -> Scrape:
    async with http.get(url) as r:
        return Scrape(r.status, await r.text())


async def _until(check: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ok = check()
        if asyncio.iscoroutine(ok):
            ok = await ok
        if ok:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.1)


async def _monitored(tmp: Path, notify_path: Path) -> Monitored:
    out = Monitored()
    good_port, bad_port = free_port(), free_port()
    out.ports = (good_port, bad_port)
    broken_dir = tmp / "broken"
    broken_dir.mkdir()
    (broken_dir / "market_snapshots").write_text("a file where a folder belongs: every part write fails")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.setblocking(False)

    async def listen() -> None:  # what systemd does: read every datagram as it comes
        loop = asyncio.get_running_loop()
        while True:
            out.notify.append((await loop.sock_recv(notify, 4096)).decode())

    listener = asyncio.create_task(listen())
    sim = SimExchange(SimConfig(seed=5, series=(SERIES,), message_rate=150, history_days=2, cutoff_days=1,
                                history_trades_per_market=10, faults=FaultPlan(gap_every=150),
                                state_dir=tmp / "sim"))
    await sim.start()
    try:
        good = Collector(collector_config(sim, tmp / "good", port=good_port), options=CollectorOptions(stats_interval=3600))
        # its rows can never be written: a stop that waits for space would only wait (60 s by default)
        bad = Collector(collector_config(sim, broken_dir, port=bad_port, stop_wait=0.5), options=CollectorOptions(stats_interval=3600))
        runs = [asyncio.create_task(run_monitored(good, 30)), asyncio.create_task(run_monitored(bad, 30))]
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{good_port}"

            async def good_is_up() -> bool:
                try:
                    return (await _get(http, base + "/healthz")).status == 200
                except aiohttp.ClientError:
                    return False

            await _until(good_is_up, 10)
            await asyncio.sleep(1.0)  # a few flushes, snapshots and cross-checks
            out.healthy.append(await _get(http, base + "/healthz"))
            out.metrics.append((await _get(http, base + "/metrics")).text)
            await asyncio.sleep(1.0)
            out.metrics.append((await _get(http, base + "/metrics")).text)
            out.healthy.append(await _get(http, base + "/healthz"))
            out.broken = await _get(http, f"http://127.0.0.1:{bad_port}/healthz")
            out.broken_metrics = (await _get(http, f"http://127.0.0.1:{bad_port}/metrics")).text
            out.counters = good.counters.copy()
            await sim.stop()
            await _until(lambda: not good.stream.connected, 10)
            out.disconnected = await _get(http, base + "/healthz")
        good.stop()
        bad.stop()
        await asyncio.gather(*runs)
    finally:
        await sim.stop()
        await asyncio.sleep(0.1)
        listener.cancel()
        notify.close()
    return out





# ==================================================================================== collected


class FastClock:
    """Wall time since creation, sped up ``speed`` times, starting at ``start``."""

    def __init__(self, start: dt.datetime, speed: float) -> None:
        self.t0 = time.time()
        self.start = start.timestamp()
        self.speed = speed

    def __call__(self) -> float:
        return self.start + (time.time() - self.t0) * self.speed

    def ms(self) -> int:
        return int(self() * 1000)


@dataclass
class Collected:
    data_dir: Path
    config_path: Path
    outage: tuple[float, float]  # collector 1 stopped, collector 2 started (accelerated clock)
    counters: list[Counters]
    outcome_f: int
    tickers: list[str]


def write_weather(data_dir: Path, high_f: int) -> None:
    """A climate day at KMDW: 1-minute temperatures peaking at ``high_f``, and its final CLI report."""
    start, end = climate_day_window(STATION, CLIMATE_DATE)
    rows = []
    minute = start
    fetched = end + dt.timedelta(hours=30)
    while minute < end:
        hours = (minute - start).total_seconds() / 3600
        # coldest around 7 am local (hour 7), warmest around 3 pm (hour 15): a plain triangle wave
        frac = 1 - abs(hours - 15) / 8 if 7 <= hours <= 23 else 0.0
        rows.append({"station": STATION, "observed_at": minute, "climate_date": CLIMATE_DATE,
                     "temp_f": float(round(high_f - 12 + 12 * max(frac, 0.0))), "fetched_at": fetched,
                     "source": asos_1min.SOURCE})
        minute += dt.timedelta(minutes=1)
    atomic_write_parquet(data_dir / "weather" / "asos_1min" / f"{CLIMATE_DATE}.parquet",
                         table_from_rows(rows, asos_1min.SCHEMA))
    issued = end + dt.timedelta(hours=1, minutes=30)
    cli = [{"station": STATION, "climate_date": CLIMATE_DATE, "high_f": high_f - 1, "low_f": high_f - 12,
            "preliminary": True, "correction": False, "product_id": "202602112200-KLOT-CDUS43-CLIMDW",
            "issued_at": start + dt.timedelta(hours=16), "fetched_at": fetched, "source": "iem_cli_text"},
           {"station": STATION, "climate_date": CLIMATE_DATE, "high_f": high_f, "low_f": high_f - 12,
            "high_at": start + dt.timedelta(hours=15), "preliminary": False, "correction": False,
            "product_id": "202602120730-KLOT-CDUS43-CLIMDW", "issued_at": issued, "fetched_at": fetched,
            "source": "iem_cli_text"}]
    atomic_write_parquet(data_dir / "weather" / "daily_climate" / f"{CLIMATE_DATE}.parquet",
                         table_from_rows(cli, daily_climate.SCHEMA))


async def _stop_at(collector: Collector, clock: FastClock, when: float) -> None:
    while clock() < when:
        await asyncio.sleep(0.02)
    collector.stop()


async def _collect(tmp: Path) -> Collected:
    clock = FastClock(START, SPEED)
    data_dir = tmp / "data"
    faults = FaultPlan(gap_every=250, duplicate_every=900)
    sim = SimExchange(SimConfig(seed=11, series=(SERIES,), message_rate=120, history_days=2, cutoff_days=1,
                                history_trades_per_market=20, faults=faults, clock=clock.ms, auth_max_skew_s=None,
                                state_dir=tmp / "sim"))
    await sim.start()
    counters = []
    options = CollectorOptions(stats_interval=3600, resync_retry_seconds=3600, compact_check_interval=3600)
    try:
        # interval 60 s of accelerated time = 0.5 s of wall time
        config = collector_config(sim, data_dir, interval_seconds=60, stall_timeout_seconds=10,
                                  rest_check_interval_seconds=0, spike_cooldown_seconds=60)
        # Stop and restart at fixed accelerated times (23:59:00, then 00:03:00), whatever the start-up
        # took on a loaded machine: at 120x, one second of delay is two minutes of exchange time.
        stop_at = dt.datetime(2026, 2, 11, 23, 59, tzinfo=dt.UTC).timestamp()
        restart_at = dt.datetime(2026, 2, 12, 0, 3, tzinfo=dt.UTC).timestamp()
        first = Collector(config, options=options, clock=clock)
        await asyncio.gather(first.run(), _stop_at(first, clock, stop_at))  # however long start-up took
        counters.append(first.counters.copy())
        stopped = clock()
        await asyncio.sleep(max(0.0, (restart_at - clock()) / SPEED))  # ~4 minutes with nobody listening
        started = clock()
        second = Collector(config, options=options, clock=clock)
        await second.run(3.0)
        counters.append(second.counters.copy())
        outcome = sim.truth.outcome(EVENT)
        tickers = sorted(m["ticker"] for m in sim.truth.markets(EVENT))
    finally:
        await sim.stop()
    write_weather(data_dir, outcome)
    config_path = tmp / "config.yaml"
    config_path.write_text(f"kalshi: {{}}\nevent_series: [{SERIES}]\ncollection:\n  interval_seconds: 60\n"
                           f"storage:\n  data_dir: {data_dir}\n  flush_interval_seconds: 0.5\nmetrics:\n  port: 0\n")
    return Collected(data_dir, config_path, (stopped, started), counters, outcome, tickers)





# ==================================================================================== s3


@dataclass
class S3:
    endpoint: str
    bucket: str

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"





US = 1_000_000


def snapshot_row(day: dt.date, second: float, n: int) -> tuple:
    """A market_snapshots row (schema column order) ``second`` seconds into UTC ``day``."""
    ts = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * US + second * US)
    return (ts, "KXHIGHCHI-26FEB11", f"KXHIGHCHI-26FEB11-B{30 + n % 6}.5", "30° to 31°", 40.0 + n % 7, 44.0,
            42.0, 100.0 + n, 50.0, "periodic", 3.0, 4.0, True)
