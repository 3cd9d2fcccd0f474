"""``make demo``: the live collector against the built-in simulated exchange, then what it stored.

Starts the simulator on loopback, runs the real collector against it for about 20 seconds on a
fast schedule while a few faults are injected (a sequence gap, a duplicate, a garbage frame, a
dropped connection), stops it the way SIGTERM would, and prints what landed on disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from kalshi_collector.cliargs import positive_float
from kalshi_collector.config import config_from_dict
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import FaultPlan, SimConfig, SimExchange
from kalshi_collector.storage import ParquetStorage

FAULTS = [(4.0, "gap"), (7.0, "duplicate"), (9.0, "malformed"), (12.0, "drop"), (15.0, "gap")]


async def run_demo(data_dir: Path, seconds: float) -> None:
    sim_cfg = SimConfig(seed=7, series=("KXHIGHCHI", "KXHIGHNY"), message_rate=300,
                        state_dir=data_dir / "_sim", faults=FaultPlan())
    async with SimExchange(sim_cfg) as sim:
        print(f"simulated exchange on {sim.rest_url} (WebSocket {sim.ws_url})")
        settings = sim.collector_settings(
            data_dir, flush_interval_seconds=5, interval_seconds=2, spike_threshold_cents=3,
            spike_cooldown_seconds=1, stall_timeout_seconds=5, rest_check_interval_seconds=2,
        )
        config = config_from_dict(settings, env={})
        collector = Collector(config, options=CollectorOptions(stats_interval=5))

        async def inject() -> None:
            start = time.monotonic()
            for at, kind in FAULTS:
                await asyncio.sleep(max(0.0, start + at - time.monotonic()))
                print(f"  [{at:4.1f} s] injecting a fault: {kind}")
                sim.inject(kind)

        print(f"collecting for {seconds:.0f} s into {data_dir} ...")
        injector = asyncio.create_task(inject())
        await collector.run(duration=seconds)
        injector.cancel()
        print(f"\ncollector: {collector.counters.messages:,} messages, {collector.valid_at_stop}/"
              f"{len(collector.markets)} books valid when it stopped")


def report(data_dir: Path) -> None:
    store = ParquetStorage(data_dir)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 20)
    print("\nrows stored per table:")
    tables = {}
    for kind in ("market", "orderbook", "orderbook_deltas", "trades_live", "book_events"):
        tables[kind] = df = store.read_parquets(kind)
        print(f"  {kind:<18} {len(df):>8,}")
    market = tables["market"]
    if not market.empty:
        last = market[market["snapshot_ts"] == market["snapshot_ts"].max()]
        print("\nlatest market snapshot (prices in cents, sizes in contracts):")
        cols = ["market_ticker", "subtitle", "yes_bid", "yes_ask", "last_price", "volume", "trigger", "book_valid"]
        print(last[cols].head(8).to_string(index=False))
        triggers = market.drop_duplicates("snapshot_ts")["trigger"].value_counts().to_dict()
        print(f"\nsnapshot cycles: {triggers}")
    book = tables["orderbook"]
    if not book.empty:
        ts = book["snapshot_ts"].max()
        one = book[(book["snapshot_ts"] == ts)]
        ticker = one["market_ticker"].iloc[0]
        levels = one[one["market_ticker"] == ticker]
        print(f"\norder book of {ticker} at {ts:%H:%M:%S} (best 4 bids per side; a NO bid at p is a YES ask at 100-p):")
        for side in ("yes", "no"):
            top = levels[levels["side"] == side].nlargest(4, "price_cents")
            print(f"  {side.upper():>3} bids: " + ", ".join(f"{q:g} @ {p:g}c" for p, q in zip(top["price_cents"], top["quantity"], strict=True)))
    ev = tables["book_events"]
    if not ev.empty:
        breaks = ev[ev["action"].isin(["gap", "duplicate", "out_of_order", "disconnect", "rest_mismatch"])]
        rec = ev[ev["action"] == "recovered"]
        print(f"\nintegrity ledger (book_events): {len(breaks)} breaks found, {len(rec)} book recoveries")
        for row in breaks.itertuples():
            fixed = rec[(rec["ts"] <= row.ts) & (rec["recovered_ts"] >= row.ts)]
            took = (fixed["recovered_ts"].max() - row.ts).total_seconds() * 1000 if len(fixed) else None
            how = f"recovered {len(fixed)} books in {took:.0f} ms" if took is not None else "not recovered before stop"
            print(f"  {row.ts:%H:%M:%S.%f}"[:-3] + f"  {row.action:<12} {row.detail or '':<42} {how}")
    print("\nread it yourself:")
    for line in read_it_yourself(data_dir):
        print(f"  {line}")


def read_it_yourself(data_dir: Path) -> list[str]:
    """Commands that read the demo's data from any folder: this interpreter (the virtual
    environment's, which has the package), not whatever ``python`` the shell finds first."""
    folder = data_dir.resolve()
    python = shlex.quote(sys.executable)
    code = (f"from kalshi_collector.storage import ParquetStorage; "
            f"print(ParquetStorage({json.dumps(str(folder))}).read_parquets(\"market\"))")
    plain = f"import pandas as pd; print(pd.read_parquet({json.dumps(str(folder / 'market_snapshots'))}))"
    return [f"{python} -c {shlex.quote(code)}", f"{python} -c {shlex.quote(plain)}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="demo-data", type=Path)
    parser.add_argument("--seconds", default=20.0, type=positive_float)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kalshi_collector.live.collector").setLevel(logging.INFO)
    if args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    asyncio.run(run_demo(args.data_dir, args.seconds))
    report(args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
