"""``kalshi-collector collect``: run the live collector until SIGINT/SIGTERM (or ``--duration``).

This is where the collector and its monitor meet: :func:`run_monitored` builds the
:class:`~kalshi_collector.live.metrics.Monitor` over ``Collector.view`` and hands it to
``Collector.run`` as a service, so neither module imports the other.

Exit status: 0 after a clean stop; 1 when rows could not be written to part files by the end (a
full disk): the store's one line says how many, which journal folder holds them and what to do
(free space, start again: recovery writes them). systemd sees a failed unit.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from kalshi_collector.cliargs import positive_float
from kalshi_collector.config import Config, load_config
from kalshi_collector.live.collector import Collector
from kalshi_collector.live.metrics import Monitor
from kalshi_collector.preflight import Preflight, preflight
from kalshi_collector.storage.closing import StopReport

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=positive_float, metavar="SECONDS", help="stop after this many seconds (default: run until stopped)")


async def run_monitored(collector: Collector, duration: float | None = None) -> Monitor:
    """Run ``collector`` with /healthz, /metrics and the systemd watchdog beside it."""
    monitor = Monitor.for_config(collector.view, collector.config, clock=collector.clock)
    await collector.run(duration, services=[monitor])
    return monitor


EXIT_ROWS_LEFT = 1  # rows are in the journal, not in part files: fix the disk and start again


async def run_collector(config: Config, duration: float | None = None, *,
                        collector: Collector | None = None) -> StopReport | None:
    """Run until a signal or ``duration``; return what the store left outside part files."""
    collector = collector or Collector(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, collector, sig)
    try:
        await run_monitored(collector, duration)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return collector.stop_report


def exit_status(report: StopReport | None) -> int:
    """0 after a clean stop; :data:`EXIT_ROWS_LEFT` when rows wait in the journal (already logged
    by the store as one line: where they are, what to do)."""
    return 0 if report is None or report.clean else EXIT_ROWS_LEFT


def _stop(collector: Collector, sig: signal.Signals) -> None:
    log.info("%s received: flushing and stopping", sig.name)
    collector.stop()


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.require_credentials("the live collector (WebSocket)")
    if not config.events and not config.event_series and not config.collection.follows_exchange:
        log.warning("no `events`, `event_series`, collection.follow_all or collection.follow_categories "
                    "configured: there is nothing to collect")
    asyncio.run(preflight(config, Preflight(websocket=True, journal=True)))  # StartupFailed: one line, exit 1/2
    return exit_status(asyncio.run(run_collector(config, args.duration)))
