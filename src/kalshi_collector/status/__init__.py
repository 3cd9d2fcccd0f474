"""``kalshi-collector status``: what the data folder holds, and what is missing.

After months unattended the first questions are: did it collect every day, at the cadence I asked
for, how often were books in doubt and for how long, is anything left uncompacted, and what do I
run to fill a hole. This command answers them from the files alone.

The work is split so the judgement is testable without I/O: :func:`scan` reads the folder into a
:class:`Scan` (plain data, :mod:`.scan`), :func:`build_report` turns it into a :class:`StatusReport`
(pure, with ``now`` injected: :mod:`.report`, one module per question: :mod:`.cadence`,
:mod:`.gaps`, :mod:`.holes`), :func:`render_text` / :func:`report_json` print it (:mod:`.render`);
:mod:`.command` is the command line.
"""

from __future__ import annotations

from kalshi_collector.status.command import add_arguments, run
from kalshi_collector.status.holes import backfill_command
from kalshi_collector.status.records import StatusReport
from kalshi_collector.status.render import render_text, report_json
from kalshi_collector.status.report import build_report
from kalshi_collector.status.scan import FileStats, Scan, scan

__all__ = [
    "add_arguments",
    "run",
    "FileStats",
    "Scan",
    "StatusReport",
    "scan",
    "build_report",
    "render_text",
    "report_json",
    "backfill_command",
]
