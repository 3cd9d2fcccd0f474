"""``kalshi-collector sim``: run the simulated exchange as its own process.

Benchmarks run it this way so the exchange and the collector do not share one CPU-bound event
loop. On start it prints one ``name: value`` line per fact a client needs (REST URL, WS URL, key
id, private key path), flushed at once so a parent process can read them from the pipe, then
serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import date
from pathlib import Path

from kalshi_collector.cliargs import non_negative_float, non_negative_int, port, positive_float, positive_int
from kalshi_collector.errors import UsageError
from kalshi_collector.sim.catalog import DEFAULT_SERIES
from kalshi_collector.sim.exchange import SimConfig, SimExchange
from kalshi_collector.sim.faults import FaultPlan
from kalshi_collector.sim.wshub import WsLimits

__all__ = ["add_arguments", "run", "config_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=port, default=0, help="port (default: 0 = any free port, printed on start)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--api-key-id", metavar="ID", help="register this key id (needs --public-key)")
    parser.add_argument("--public-key", metavar="PEM_PATH", help="PEM public (or private) key for --api-key-id")
    parser.add_argument("--state-dir", metavar="DIR", help="where a generated key pair is written (default: temp dir)")
    parser.add_argument("--series", nargs="+", metavar="S", default=list(DEFAULT_SERIES),
                        help="series tickers (default: the seven original daily-high cities)")
    parser.add_argument("--brackets", type=positive_int, default=6, help="markets per event (default: 6)")
    parser.add_argument("--history-days", type=non_negative_int, default=10, help="past settled days (default: 10)")
    parser.add_argument("--cutoff-days", type=non_negative_int, default=5, help="historical cutoff, days before today (default: 5)")
    parser.add_argument("--history-trades", type=non_negative_int, default=200, help="trades per past market (default: 200)")
    parser.add_argument("--rate", type=non_negative_float, default=200.0, metavar="MSGS_PER_S",
                        help="live order-flow events per second; 0: REST only, no live flow (default: 200)")
    parser.add_argument("--rest-rate-limit", type=positive_float, default=None, metavar="R",
                        help="REST requests/s per key (default: no limit)")
    parser.add_argument("--faults", default="", metavar="SPEC", help='e.g. "gap_every=500,drop_every=5000"')
    parser.add_argument("--flow-tick", type=positive_float, default=5.0, metavar="MS",
                        help="milliseconds between order-flow steps: each sends what fell due since the last, "
                             "so a consumer's latency has this floor (default: 5)")
    parser.add_argument("--ping-interval", type=positive_float, default=10.0, help="seconds between WS pings (default: 10)")
    parser.add_argument("--today", metavar="YYYY-MM-DD", help="exchange date for tickers (default: today, UTC)")
    parser.add_argument("--require-auth", action="store_true", help="refuse unsigned REST requests too")
    scale = parser.add_argument_group("scale (the whole exchange)")
    scale.add_argument("--markets", type=int, default=0, metavar="N",
                       help="add made-up series across categories until about N markets are open (default: 0)")
    scale.add_argument("--busy-markets", type=int, default=0, metavar="N",
                       help="markets that get --busy-share of the order flow (default: 0 = flow spread evenly)")
    scale.add_argument("--busy-share", type=float, default=0.9, help="share of the flow on busy markets (default: 0.9)")
    scale.add_argument("--burst-rate", type=float, default=0.0, metavar="MSGS_PER_S",
                       help="order-flow events/s during bursts (default: 0 = no bursts)")
    scale.add_argument("--burst-every", type=float, default=10.0, metavar="S", help="seconds between bursts (default: 10)")
    scale.add_argument("--burst-seconds", type=float, default=1.0, metavar="S", help="length of a burst (default: 1)")
    scale.add_argument("--ws-max-markets-per-sub", type=int, default=None, metavar="N",
                       help="refuse a subscription growing past N markets with error 26 (default: no limit)")
    scale.add_argument("--ws-commands-per-second", type=float, default=None, metavar="R",
                       help="refuse commands beyond R/s per connection with error 27 (default: no limit)")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    try:
        faults = FaultPlan.parse(args.faults or "")
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--faults: {exc}") from None
    if (args.api_key_id is None) != (args.public_key is None):
        raise UsageError("--api-key-id and --public-key go together")
    if args.public_key is not None and not Path(args.public_key).is_file():
        raise UsageError(f"--public-key: no such file: {args.public_key}")
    today = None
    if args.today:
        try:
            today = date.fromisoformat(args.today)
        except ValueError:
            raise UsageError(f"--today: not a date: {args.today}") from None
    if args.brackets < 2:
        raise UsageError("--brackets must be at least 2")
    if args.markets < 0 or args.busy_markets < 0 or not 0 <= args.busy_share <= 1:
        raise UsageError("--markets and --busy-markets must be >= 0, --busy-share between 0 and 1")
    return SimConfig(
        seed=args.seed, series=tuple(args.series), brackets_per_event=args.brackets,
        history_days=args.history_days, cutoff_days=args.cutoff_days,
        history_trades_per_market=args.history_trades, message_rate=args.rate,
        rest_rate_limit=args.rest_rate_limit, ping_interval=args.ping_interval, today=today, faults=faults,
        api_key_id=args.api_key_id, public_key_path=args.public_key, state_dir=args.state_dir,
        require_auth=args.require_auth, universe_markets=args.markets, busy_markets=args.busy_markets,
        busy_share=args.busy_share, burst_rate=args.burst_rate, burst_every_s=args.burst_every,
        burst_seconds=args.burst_seconds, flow_tick_s=args.flow_tick / 1000,
        ws_limits=WsLimits(max_markets_per_subscription=args.ws_max_markets_per_sub,
                           commands_per_second=args.ws_commands_per_second),
    )


async def _serve(config: SimConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimExchange(config, host=host, port=port) as sim:
        lines = [
            f"REST URL: {sim.rest_url}",
            f"WS URL: {sim.ws_url}",
            f"API key id: {sim.api_key_id}",
            f"private key: {sim.private_key_path}" if sim.private_key_path else
            f"public key: {config.public_key_path}",
        ]
        print("\n".join(lines), flush=True)
        await stop.wait()
    print("simulated exchange stopped", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    try:
        asyncio.run(_serve(config, args.host, args.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0
