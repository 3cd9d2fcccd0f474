"""Printing a :class:`~kalshi_collector.status.records.StatusReport`: text for a terminal, or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from kalshi_collector.status.records import StatusReport

__all__ = ["render_text", "report_json"]


def report_json(report: StatusReport) -> str:
    return json.dumps(asdict(report), indent=2, sort_keys=False)


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _clock(iso: str | None) -> str:
    return "-" if iso is None else iso[11:19]


def render_text(report: StatusReport) -> str:
    """The report for a terminal: one section per question, widest facts first."""
    out: list[str] = [f"data: {report.data_dir}   (as of {report.generated_at})", ""]
    if not report.tables and not report.other and not report.damaged:
        out.append("nothing collected yet")
        return "\n".join(out) + "\n"
    for section in (_tables, _cadence, _gaps, _holes, _not_compacted, _other, _damaged):
        out.extend(section(report))
    for note in report.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"


def _tables(report: StatusReport) -> list[str]:
    if not report.tables:
        return []
    out = ["Live tables (UTC days)",
           f"  {'table':<20} {'day':<10} {'rows':>11} {'markets':>7}  {'first':>8}  {'last':>8}  files"]
    for t in report.tables:
        files = ("day file" if t.day_file else "") + (" + " if t.day_file and t.parts else "")
        files += f"{t.parts} part{'s' if t.parts != 1 else ''}" if t.parts else ""
        out.append(f"  {t.table:<20} {t.day:<10} {t.rows:>11,} {t.markets:>7}  {_clock(t.first):>8}  "
                   f"{_clock(t.last):>8}  {files}")
    return [*out, ""]


def _cadence(report: StatusReport) -> list[str]:
    if not report.cadence:
        return []
    conf = report.cadence[0].configured_seconds
    out = [f"Snapshot cadence (configured: {_dur(conf) if conf else 'unknown, no config'})",
           f"  {'day':<10} {'periodic':>8} {'spikes':>6} {'median':>9} {'p95':>9} {'longest':>9}"]
    for c in report.cadence:
        flag = "" if c.ok is None else ("  ok" if c.ok else "  SLOWER THAN CONFIGURED")
        out.append(f"  {c.day:<10} {c.periodic:>8} {c.spikes:>6} {_dur(c.median_seconds):>9} "
                   f"{_dur(c.p95_seconds):>9} {_dur(c.max_seconds):>9}{flag}")
    return [*out, ""]


def _gaps(report: StatusReport) -> list[str]:
    out = ["Book gaps (book_events: a book in doubt until a fresh snapshot)"]
    if not report.gap_days:
        return [*out, "  none recorded", ""]
    out.append(f"  {'day':<10} {'gaps':>6} {'median':>9} {'longest':>9} {'book-time':>10}  causes")
    for g in report.gap_days:
        causes = ", ".join(f"{k} {v}" for k, v in sorted(g.causes.items(), key=lambda kv: -kv[1]))
        out.append(f"  {g.day:<10} {g.gaps:>6} {_dur(g.median_seconds):>9} {_dur(g.max_seconds):>9} "
                   f"{_dur(g.book_seconds):>10}  {causes}")
    for day, counts in report.events.items():
        listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"  {day} all book_events: {listed}")
    out.append("  longest:")
    for gap in report.longest_gaps[:5]:
        out.append(f"    {gap.start}  {_dur(gap.seconds):>9}  {gap.market_ticker or '(all)'}  ({gap.cause})")
    return [*out, ""]


def _holes(report: StatusReport) -> list[str]:
    out = [f"Holes (no snapshot for more than {_dur(report.outage_seconds)})"]
    if not report.holes:
        return [*out, "  none", ""]
    for h in report.holes:
        tail = "  (collector not running? no data since)" if h.ongoing else ""
        out.append(f"  {h.start} -> {h.end}  {_dur(h.seconds)}{tail}")
        out.append(f"    {h.command}")
    out.append("  (backfill recovers trades and candlesticks; order-book depth in a hole is lost)")
    return [*out, ""]


def _not_compacted(report: StatusReport) -> list[str]:
    out = ["Not compacted (finished days still in part files)"]
    if not report.not_compacted:
        return [*out, "  none"]
    for u in report.not_compacted:
        out.append(f"  {u.table:<20} {u.day}  {u.parts} parts")
    out.append("  (the collector compacts finished days hourly; parts are read correctly meanwhile)")
    return out


def _other(report: StatusReport) -> list[str]:
    if not report.other:
        return []
    out = ["", "Backfill and weather"]
    for folder, info in report.other.items():
        span = f"{info['first']} .. {info['last']}" if info["files"] > 1 else info["first"]
        out.append(f"  {folder:<24} {info['files']:>5} files {info['rows']:>11,} rows   {span}")
    return out


def _damaged(report: StatusReport) -> list[str]:
    if not report.damaged:
        return []
    out = ["", f"Damaged files ({len(report.damaged)}: skipped by every reader, their rows are not counted above)"]
    for d in report.damaged:
        out.append(f"  {d.path}  ({d.reason})")
    out.append("  (`kalshi-collector quarantine --apply` moves them to _damaged/ keeping their paths; "
               "see docs/operations.md, Damaged files)")
    return out
