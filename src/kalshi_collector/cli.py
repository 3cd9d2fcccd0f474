"""The one command-line entry point: ``kalshi-collector <command> ...``.

Each command lives in its own module and registers itself through :data:`COMMANDS`: a module
exposes ``add_arguments(parser)`` and ``run(args) -> int``. This file only wires them together,
sets up logging and turns the errors a user can fix (bad config, bad key file, bad arguments)
into one clear line and exit code 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from kalshi_collector import __version__
from kalshi_collector.config import ConfigError
from kalshi_collector.errors import StartupFailed, UsageError

# command name -> (module path, one-line help). Modules are imported lazily so that
# `kalshi-collector --help` stays fast and optional extras are only needed by their command.
COMMANDS: dict[str, tuple[str, str]] = {
    "collect": ("kalshi_collector.live.command", "run the live collector daemon (WebSocket -> parquet)"),
    "backfill": ("kalshi_collector.backfill", "fetch candlesticks and trades over REST for a date range"),
    "weather": ("kalshi_collector.weather.command", "fetch ASOS 1-minute, METAR and daily climate reports"),
    "settlement": ("kalshi_collector.weather.settlement_command", "show how temperature events settle"),
    "migrate": ("kalshi_collector.migrate.command", "bring the original collector's files into this data folder"),
    "replay": ("kalshi_collector.live.replay_command", "rebuild a market's order book at a moment from the tape"),
    "rebuild": ("kalshi_collector.live.rebuild_command", "regenerate the derived live tables from the raw tape"),
    "sim": ("kalshi_collector.sim.command", "run the simulated Kalshi exchange on loopback"),
    "status": ("kalshi_collector.status", "say what the data folder holds and what is missing"),
    "query": ("kalshi_collector.query", "run SQL over every table (DuckDB, optional extra)"),
    "quarantine": ("kalshi_collector.quarantine", "list damaged data files; --apply moves them to _damaged/"),
    "plot": ("kalshi_collector.plot", "draw an event's brackets over time (matplotlib, optional extra)"),
}

log = logging.getLogger("kalshi_collector")

__all__ = ["main", "build_parser", "COMMANDS", "UsageError", "setup_logging"]


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("aiohttp.access", "asyncio", "botocore", "s3fs", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", default="config.yaml", help="config file (default: config.yaml)")
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="DEBUG, INFO, WARNING or ERROR (default: INFO)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (``kalshi-collector replay: argument --depth: ...``)
    and exit 2, like every other error a user can fix; subcommand parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (--help shows the options)\n")


def build_parser(load_modules: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kalshi-collector",
        description="Record Kalshi market data (order books, trades, candlesticks, weather) to parquet.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_path, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p)
        if load_modules is None or name in load_modules:
            try:
                module = importlib.import_module(module_path)
            except ModuleNotFoundError as exc:
                if not exc.name or not exc.name.startswith("kalshi_collector"):
                    raise
                p.set_defaults(_missing=module_path)
                continue
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    # Only import the module of the command being run (plus nothing for --help).
    parser = build_parser(load_modules=[command] if command in COMMANDS else [])
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if getattr(args, "_missing", None):
        print(f"kalshi-collector {args.command}: not available in this build ({args._missing})", file=sys.stderr)
        return 2
    setup_logging(args.log_level)
    try:
        return int(args._run(args) or 0)
    except (ConfigError, UsageError) as exc:
        print(f"kalshi-collector {args.command}: {exc}", file=sys.stderr)
        return 2
    except StartupFailed as exc:
        print(f"kalshi-collector {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
