"""``kalshi-collector collect``: run the live collector until SIGINT/SIGTERM (or ``--duration``).

This is where the collector and its monitor meet: :func:`run_monitored` builds the
:class:`~kalshi_collector.live.metrics.Monitor` over ``Collector.view`` and hands it to
``Collector.run`` as a service, so neither module imports the other.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from kalshi_collector.config import Config, load_config
from kalshi_collector.live.collector import Collector
from kalshi_collector.live.metrics import Monitor

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds (default: run until stopped)")


async def run_monitored(collector: Collector, duration: float | None = None) -> Monitor:
    """Run ``collector`` with /healthz, /metrics and the systemd watchdog beside it."""
    monitor = Monitor.for_config(collector.view, collector.config, clock=collector.clock)
    await collector.run(duration, services=[monitor])
    return monitor


async def run_collector(config: Config, duration: float | None = None) -> None:
    collector = Collector(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, collector, sig)
    try:
        await run_monitored(collector, duration)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _stop(collector: Collector, sig: signal.Signals) -> None:
    log.info("%s received: flushing and stopping", sig.name)
    collector.stop()


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.require_credentials("the live collector (WebSocket)")
    if not config.events and not config.event_series and not config.collection.follows_exchange:
        log.warning("no `events`, `event_series`, collection.follow_all or collection.follow_categories "
                    "configured: there is nothing to collect")
    asyncio.run(run_collector(config, args.duration))
    return 0
