"""Shared pieces of the backfill tests: a simulator with a frozen clock (two simulators with the
same seed then hold the same history, so a faulty run can be compared with a clean one file by
file), the date window, a spying client, and readers of the result."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_collector.backfill import BackfillRequest
from kalshi_collector.backfill.intervals import subtract
from kalshi_collector.backfill.plan import Window, candle_window, trade_window
from kalshi_collector.backfill.store import MarketCheckpoint
from kalshi_collector.kalshi.rest import KalshiRestClient
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage

# Frozen exchange clock: the history the simulator builds depends on it (quantised to the hour).
FROZEN_MS = time.time_ns() // 1_000_000
SERIES = ("KXHIGHCHI", "KXHIGHNY")
HISTORY_DAYS = 7
CUTOFF_DAYS = 3


def sim_config(faults: FaultPlan | None = None, **kw: Any) -> SimConfig:
    return SimConfig(
        seed=11,
        series=SERIES,
        brackets_per_event=4,
        history_days=HISTORY_DAYS,
        cutoff_days=CUTOFF_DAYS,
        history_trades_per_market=150,
        message_rate=0,
        clock=lambda: FROZEN_MS,
        faults=faults or FaultPlan(),
        **kw,
    )


def sim_today(sim: SimExchange) -> date:
    return sim.model.today


def window_request(sim: SimExchange, *, period: int = 60, **kw: Any) -> BackfillRequest:
    """Six past days, the historical cutoff (today - 3) in the middle: both tiers, and markets
    whose trades straddle the trades cutoff. CHI by series, NY by explicit events."""
    today = sim_today(sim)
    start, end = today - timedelta(days=6), today - timedelta(days=1)
    ny_events = tuple(e["event_ticker"] for e in sim.truth.events() if e["series_ticker"] == "KXHIGHNY")
    ny_in_range = tuple(e for e in ny_events if start - timedelta(days=1) <= _event_day(e) <= end + timedelta(days=1))
    args: dict[str, Any] = {"series": ("KXHIGHCHI",), "events": ny_in_range}
    args.update(kw)
    return BackfillRequest(start=start, end=end, period_minutes=period, **args)


def _event_day(event_ticker: str) -> date:
    from datetime import datetime

    return datetime.strptime(event_ticker.rsplit("-", 1)[1], "%y%b%d").date()


def client(sim: SimExchange, cls: type[KalshiRestClient] = KalshiRestClient, **kw: Any) -> KalshiRestClient:
    """A fast-retrying client (tests must not sleep for seconds on injected faults)."""
    opts: dict[str, Any] = {"requests_per_second": 0, "max_backoff": 0.02, "max_retries": 12}
    opts.update(kw)
    return cls(sim.rest_url, **opts)


class RecordingClient(KalshiRestClient):
    """The real client, noting every request it makes (path and query)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls: list[tuple[str, dict[str, str]]] = []

    async def get(self, path, params=None, **decoding):  # type: ignore[no-untyped-def]
        items = params.items() if isinstance(params, dict) else (params or [])
        self.calls.append((path, {k: str(v) for k, v in items if v is not None}))
        return await super().get(path, params, **decoding)

    def mentions(self, ticker: str) -> list[tuple[str, dict[str, str]]]:
        return [
            (p, q) for p, q in self.calls
            if ticker in p.split("/") or q.get("ticker") == ticker or ticker in q.get("market_tickers", "").split(",")
        ]


# ----------------------------------------------------------------------------------- result views


def event_files(data_dir: Path) -> dict[str, pa.Table]:
    """Every per-event file, by relative path."""
    root = Path(data_dir) / "historical"
    return {
        str(p.relative_to(root)): pq.read_table(p)
        for kind in ("trades", "candlesticks")
        for p in sorted((root / kind).glob("*.parquet"))
    }


def assert_same_files(a: Path, b: Path) -> None:
    fa, fb = event_files(a), event_files(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        assert fa[name].equals(fb[name]), f"{name} differs"


def leftovers(data_dir: Path) -> list[str]:
    """Staged parts and temp files that a finished run must not leave behind."""
    root = Path(data_dir) / "historical"
    return [str(p) for p in root.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or p.parent.name == "parts")]


def complete_markets(data_dir: Path, request: BackfillRequest, now: float) -> set[str]:
    """Markets whose checkpoint already covers the whole request."""
    w = Window.from_dates(request.start, request.end)
    tw, cw = trade_window(w, now), candle_window(w, now, request.period_minutes)
    import msgspec

    out = set()
    for path in (Path(data_dir) / "historical" / "_backfill").glob("*/*.json"):
        if path.name == "manifest.json":
            continue
        cp = msgspec.json.decode(path.read_bytes(), type=MarketCheckpoint)
        if not subtract([tw], cp.trades) and not subtract([cw], cp.candle_cover(request.period_minutes)):
            out.add(cp.market_ticker)
    return out


def cents(text: str | None) -> float | None:
    return None if text is None else float(Decimal(text) * 100)


def read(data_dir: Path, kind: str) -> pa.Table:
    return ParquetStorage(data_dir).read_arrow(kind)


async def start_backfill_cli(config: Path, *args: str) -> asyncio.subprocess.Process:
    """The real ``kalshi-collector backfill`` in a child process (no KALSHI_* from our environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kalshi_collector.cli", "backfill", "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )


async def kill_after_checkpoints(proc: asyncio.subprocess.Process, work: Path, count: int = 4,
                                 timeout: float = 30.0) -> None:
    """SIGKILL the backfill once ``count`` market checkpoints exist under its work folder."""
    deadline = time.monotonic() + timeout
    while len([p for p in work.glob("*/*.json") if p.name != "manifest.json"]) < count:
        assert proc.returncode is None, (await proc.communicate())[1].decode()[-2000:]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
