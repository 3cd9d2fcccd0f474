"""``kalshi-collector status``: what the data folder holds, and what is missing.

After months unattended the first questions are: did it collect every day, at the cadence I asked
for, how often were books in doubt and for how long, is anything left uncompacted, and what do I
run to fill a hole. This command answers them from the files alone (footers first: row counts and
time ranges come from parquet statistics without reading data; only ``market_ticker``, the snapshot
times and ``book_events`` are read).

The work is split so the judgement is testable without I/O: :func:`scan` reads the folder into a
:class:`Scan` (plain data), :func:`build_report` turns it into a :class:`StatusReport` (pure, with
``now`` injected), :func:`render_text` / :func:`report_json` print it.

A *hole* is a stretch of time with no market snapshot for longer than ``--outage-seconds`` (the
collector was down or cut off): book depth during it is lost for good, but trades and candlesticks
can be fetched afterwards, so every hole comes with the exact ``kalshi-collector backfill`` command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.config import Config, load_config
from kalshi_collector.storage import TABLES, ParquetStorage
from kalshi_collector.storage.fs import is_object_store_url
from kalshi_collector.storage.layout import PARTS, parse_day

__all__ = [
    "add_arguments",
    "run",
    "add_data_dir_argument",
    "open_data",
    "FileStats",
    "Scan",
    "StatusReport",
    "scan",
    "build_report",
    "render_text",
    "report_json",
    "backfill_command",
]

UTC = dt.UTC
_US = 1_000_000
_TRIGGERS = frozenset({"gap", "duplicate", "out_of_order", "disconnect", "rest_mismatch", "crossed",
                       "negative", "bad_value"})
_PER_EVENT = {"candlesticks": "historical/candlesticks", "trades": "historical/trades"}
_PER_DAY = {"asos_1min": "weather/asos_1min", "metar": "weather/metar", "daily_climate": "weather/daily_climate"}


# ==================================================================================== data folder


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR_OR_URL",
        help="data folder or object-store URL (s3://bucket/prefix); default: storage.data_dir of --config",
    )


def open_data(args: argparse.Namespace) -> tuple[ParquetStorage, Config | None, str | None]:
    """The storage to read, the config (if one is at hand) and the config path given.

    ``--data-dir`` works without a config; otherwise the config is required and names the folder.
    """
    from kalshi_collector.errors import UsageError

    config: Config | None = None
    config_path: str | None = None
    data_dir = getattr(args, "data_dir", None)
    if data_dir is None or Path(args.config).expanduser().exists():
        config = load_config(args.config)
        config_path = str(Path(args.config).expanduser().resolve())
    data_dir = data_dir or (config.storage.data_dir if config else None)
    assert data_dir is not None
    if not is_object_store_url(data_dir) and not Path(data_dir).is_dir():
        raise UsageError(f"data folder {data_dir} does not exist (nothing collected yet, or a wrong --data-dir)")
    return ParquetStorage(data_dir), config, config_path


# ==================================================================================== scan (I/O)


@dataclass(frozen=True)
class FileStats:
    """One parquet file of a live table, from its footer (and its market_ticker column)."""

    table: str
    day: dt.date
    name: str
    is_part: bool
    rows: int
    first_us: int | None
    last_us: int | None
    markets: frozenset[str]


@dataclass
class Scan:
    """Everything :func:`build_report` needs, read from the folder; no judgement yet."""

    data_dir: str
    files: list[FileStats] = field(default_factory=list)
    snapshots: pa.Table | None = None  # market_snapshots: snapshot_ts, trigger, event_ticker
    book_events: pa.Table | None = None
    other: dict[str, dict[str, Any]] = field(default_factory=dict)  # historical/weather summaries


def _time_span(meta: Any) -> tuple[int | None, int | None]:
    """Smallest and largest value of the file's first column (its time column) from row-group stats."""
    lo: int | None = None
    hi: int | None = None
    for i in range(meta.num_row_groups):
        col = meta.row_group(i).column(0)
        stats = col.statistics
        if stats is None or not stats.has_min_max:
            return None, None
        a, b = _as_us(stats.min), _as_us(stats.max)
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    return lo, hi


def _as_us(value: Any) -> int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(round(value.timestamp() * _US))
    return int(value)


def scan(storage: ParquetStorage, start: dt.date | None = None, end: dt.date | None = None) -> Scan:
    """Read what the report needs: file footers, market tickers, snapshot times, book events."""
    fs = storage.fs
    out = Scan(data_dir=fs.url(storage.root))
    for table, spec in TABLES.items():
        for path in storage.files(table, start, end):
            is_part = path.parent.parent.name == PARTS
            day = parse_day(path.parent.name if is_part else path.name)
            if day is None:
                continue
            meta = fs.parquet_metadata(path)
            first, last = _time_span(meta)
            markets: frozenset[str] = frozenset()
            if "market_ticker" in spec.schema.names and meta.num_rows:
                col = fs.read_table(path, columns=["market_ticker"]).column(0)
                markets = frozenset(v for v in pc.unique(col).to_pylist() if v is not None)
            out.files.append(FileStats(table, day, path.name, is_part, meta.num_rows, first, last, markets))
    snaps = storage.read_arrow("market_snapshots", start, end)
    out.snapshots = snaps.select(["snapshot_ts", "trigger", "event_ticker"])
    out.book_events = storage.read_arrow("book_events", start, end)
    for kind, folder in {**_PER_EVENT, **_PER_DAY}.items():
        paths = storage.files(kind)
        if not paths:
            continue
        rows = 0
        lo: int | None = None
        hi: int | None = None
        for path in paths:
            meta = fs.parquet_metadata(path)
            rows += meta.num_rows
            a, b = _time_span(meta) if kind in _PER_EVENT else (None, None)
            lo = a if lo is None or (a is not None and a < lo) else lo
            hi = b if hi is None or (b is not None and b > hi) else hi
        names = sorted(PurePath(p).name.removesuffix(".parquet") for p in paths)
        out.other[folder] = {"files": len(paths), "rows": rows, "first": names[0], "last": names[-1],
                             "first_time_us": lo, "last_time_us": hi}
    return out


# ==================================================================================== report (pure)


@dataclass
class TableDay:
    table: str
    day: str
    rows: int
    markets: int
    first: str | None
    last: str | None
    day_file: bool
    parts: int


@dataclass
class Cadence:
    day: str
    configured_seconds: float | None
    periodic: int
    spikes: int
    median_seconds: float | None
    p95_seconds: float | None
    max_seconds: float | None
    ok: bool | None


@dataclass
class Gap:
    market_ticker: str | None
    cause: str
    start: str
    recovered: str
    seconds: float


@dataclass
class GapDay:
    day: str
    gaps: int
    median_seconds: float
    max_seconds: float
    book_seconds: float
    causes: dict[str, int]


@dataclass
class Hole:
    start: str
    end: str
    seconds: float
    ongoing: bool
    events: list[str]
    command: str


@dataclass
class Uncompacted:
    table: str
    day: str
    parts: int


@dataclass
class StatusReport:
    data_dir: str
    generated_at: str
    outage_seconds: float
    tables: list[TableDay]
    cadence: list[Cadence]
    gap_days: list[GapDay]
    longest_gaps: list[Gap]
    events: dict[str, dict[str, int]]  # day -> action -> count (every book_events action)
    holes: list[Hole]
    not_compacted: list[Uncompacted]
    other: dict[str, dict[str, Any]]
    notes: list[str]


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return dt.datetime.fromtimestamp(us / _US, UTC).isoformat().replace("+00:00", "Z")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def backfill_command(start: dt.date, end: dt.date, events: list[str], series: list[str],
                     config_path: str | None) -> str:
    """The ``kalshi-collector backfill`` command line that fetches trades and candles of a hole."""
    parts = ["kalshi-collector", "backfill", "--start", start.isoformat(), "--end", end.isoformat()]
    if events:
        parts += ["--events", *events]
    elif series:
        parts += ["--series", *series]
    if config_path:
        parts += ["--config", config_path]
    return " ".join(parts)


def build_report(
    data: Scan,
    *,
    now: dt.datetime,
    interval_seconds: float | None = None,
    has_overrides: bool = False,
    flush_interval_seconds: float = 300.0,
    outage_seconds: float | None = None,
    series: list[str] | tuple[str, ...] = (),
    config_path: str | None = None,
    top: int = 10,
) -> StatusReport:
    """Judge a :class:`Scan`: per table-day totals, cadence, gaps, holes, days left uncompacted."""
    today = now.astimezone(UTC).date()
    notes: list[str] = []
    outage = outage_seconds if outage_seconds is not None else max(3 * (interval_seconds or 60.0), 120.0)

    # -- tables per day
    groups: dict[tuple[str, dt.date], list[FileStats]] = defaultdict(list)
    for f in data.files:
        groups[(f.table, f.day)].append(f)
    tables: list[TableDay] = []
    not_compacted: list[Uncompacted] = []
    for (table, day), files in sorted(groups.items(), key=lambda kv: (list(TABLES).index(kv[0][0]), kv[0][1])):
        firsts = [f.first_us for f in files if f.first_us is not None]
        lasts = [f.last_us for f in files if f.last_us is not None]
        parts = sum(f.is_part for f in files)
        tables.append(TableDay(
            table=table, day=day.isoformat(), rows=sum(f.rows for f in files),
            markets=len(frozenset().union(*(f.markets for f in files))),
            first=_iso(min(firsts)) if firsts else None, last=_iso(max(lasts)) if lasts else None,
            day_file=any(not f.is_part for f in files), parts=parts,
        ))
        if parts and day < today:
            not_compacted.append(Uncompacted(table, day.isoformat(), parts))

    # -- snapshot cadence per day
    cadence: list[Cadence] = []
    snap_times: list[int] = []
    events_at: dict[int, set[str]] = defaultdict(set)
    if data.snapshots is not None and data.snapshots.num_rows:
        snaps = data.snapshots
        ts = pc.cast(snaps.column("snapshot_ts"), pa.int64()).to_pylist()
        triggers = snaps.column("trigger").to_pylist()
        for t, e in zip(ts, snaps.column("event_ticker").to_pylist(), strict=True):
            if e:
                events_at[t].add(e)
        per_day: dict[dt.date, dict[str, set[int]]] = defaultdict(lambda: {"periodic": set(), "spike": set()})
        for t, trig in zip(ts, triggers, strict=True):
            day = dt.datetime.fromtimestamp(t / _US, UTC).date()
            per_day[day]["spike" if trig == "spike" else "periodic"].add(t)
        snap_times = sorted(set(ts))
        for day, kinds in sorted(per_day.items()):
            periodic = sorted(kinds["periodic"])
            diffs = [(b - a) / _US for a, b in zip(periodic, periodic[1:], strict=False)]
            median = statistics.median(diffs) if diffs else None
            ok = None
            if median is not None and interval_seconds and not has_overrides:
                ok = median <= 1.5 * interval_seconds
            cadence.append(Cadence(
                day=day.isoformat(), configured_seconds=interval_seconds, periodic=len(periodic),
                spikes=len(kinds["spike"]), median_seconds=median,
                p95_seconds=_quantile(diffs, 0.95) if diffs else None, max_seconds=max(diffs) if diffs else None,
                ok=ok,
            ))
        if has_overrides:
            notes.append("interval_overrides are configured: the achieved median mixes their intervals")

    # -- gaps: every `recovered` row is one book's doubt, from `ts` to `recovered_ts`
    gap_days: list[GapDay] = []
    gaps: list[Gap] = []
    actions: dict[str, dict[str, int]] = {}
    ev = data.book_events
    if ev is not None and ev.num_rows:
        ts = pc.cast(ev.column("ts"), pa.int64()).to_pylist()
        act = ev.column("action").to_pylist()
        rec = pc.cast(ev.column("recovered_ts"), pa.int64()).to_pylist()
        tick = ev.column("market_ticker").to_pylist()
        cause_at: dict[int, str] = {}
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for t, a in zip(ts, act, strict=True):
            counts[dt.datetime.fromtimestamp(t / _US, UTC).date().isoformat()][a] += 1
            if a in _TRIGGERS:
                cause_at.setdefault(t, a)
        actions = {day: dict(c) for day, c in sorted(counts.items())}
        per_day_gaps: dict[str, list[Gap]] = defaultdict(list)
        for t, a, r, m in zip(ts, act, rec, tick, strict=True):
            if a != "recovered" or r is None:
                continue
            gap = Gap(market_ticker=m, cause=cause_at.get(t, "?"), start=_iso(t) or "", recovered=_iso(r) or "",
                      seconds=max(0.0, (r - t) / _US))
            gaps.append(gap)
            per_day_gaps[gap.start[:10]].append(gap)
        for day, items in sorted(per_day_gaps.items()):
            secs = [g.seconds for g in items]
            gap_days.append(GapDay(day=day, gaps=len(items), median_seconds=statistics.median(secs),
                                   max_seconds=max(secs), book_seconds=sum(secs),
                                   causes=dict(Counter(g.cause for g in items))))
    gaps.sort(key=lambda g: -g.seconds)

    # -- holes: no snapshot for longer than the outage limit
    holes: list[Hole] = []
    known_series = list(series)
    for a, b in zip(snap_times, snap_times[1:], strict=False):
        if (b - a) / _US > outage:
            holes.append(_hole(a, b, False, events_at, known_series, config_path))
    if snap_times:
        last = snap_times[-1]
        age = now.timestamp() - last / _US
        if age > outage + flush_interval_seconds:
            holes.append(_hole(last, int(now.timestamp() * _US), True, events_at, known_series, config_path))
    elif data.files:
        notes.append("no market_snapshots: holes cannot be told apart from quiet markets")

    return StatusReport(
        data_dir=data.data_dir, generated_at=_iso(int(now.timestamp() * _US)) or "", outage_seconds=outage,
        tables=tables, cadence=cadence, gap_days=gap_days, longest_gaps=gaps[:top], events=actions,
        holes=holes, not_compacted=not_compacted,
        other={k: {**v, "first_time": _iso(v.get("first_time_us")), "last_time": _iso(v.get("last_time_us"))}
               for k, v in data.other.items()},
        notes=notes,
    )


def _hole(a: int, b: int, ongoing: bool, events_at: dict[int, set[str]], series: list[str],
          config_path: str | None) -> Hole:
    """A hole from the last snapshot before it (``a``) to the first after it (``b``), with its command.

    The events are those seen on both edges: a hole shorter than a day cannot have held an event
    that was neither open before it nor still open after it. A longer one asks for whole series.
    """
    start = dt.datetime.fromtimestamp(a / _US, UTC)
    end = dt.datetime.fromtimestamp(b / _US, UTC)
    events = sorted(events_at.get(a, set()) | events_at.get(b, set()))
    hole_series = sorted({e.split("-", 1)[0] for e in events} | set(series))
    use_events = events if (end - start) <= dt.timedelta(days=1) else []
    command = backfill_command(start.date(), end.date(), use_events, hole_series, config_path)
    return Hole(start=_iso(a) or "", end=_iso(b) or "", seconds=(b - a) / _US, ongoing=ongoing,
                events=events, command=command)


# ==================================================================================== output


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
    if not report.tables and not report.other:
        out.append("nothing collected yet")
        return "\n".join(out) + "\n"
    if report.tables:
        out.append("Live tables (UTC days)")
        out.append(f"  {'table':<20} {'day':<10} {'rows':>11} {'markets':>7}  {'first':>8}  {'last':>8}  files")
        for t in report.tables:
            files = ("day file" if t.day_file else "") + (" + " if t.day_file and t.parts else "")
            files += f"{t.parts} part{'s' if t.parts != 1 else ''}" if t.parts else ""
            out.append(f"  {t.table:<20} {t.day:<10} {t.rows:>11,} {t.markets:>7}  {_clock(t.first):>8}  "
                       f"{_clock(t.last):>8}  {files}")
        out.append("")
    if report.cadence:
        conf = report.cadence[0].configured_seconds
        out.append(f"Snapshot cadence (configured: {_dur(conf) if conf else 'unknown, no config'})")
        out.append(f"  {'day':<10} {'periodic':>8} {'spikes':>6} {'median':>9} {'p95':>9} {'longest':>9}")
        for c in report.cadence:
            flag = "" if c.ok is None else ("  ok" if c.ok else "  SLOWER THAN CONFIGURED")
            out.append(f"  {c.day:<10} {c.periodic:>8} {c.spikes:>6} {_dur(c.median_seconds):>9} "
                       f"{_dur(c.p95_seconds):>9} {_dur(c.max_seconds):>9}{flag}")
        out.append("")
    out.append("Book gaps (book_events: a book in doubt until a fresh snapshot)")
    if report.gap_days:
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
    else:
        out.append("  none recorded")
    out.append("")
    out.append(f"Holes (no snapshot for more than {_dur(report.outage_seconds)})")
    if report.holes:
        for h in report.holes:
            tail = "  (collector not running? no data since)" if h.ongoing else ""
            out.append(f"  {h.start} -> {h.end}  {_dur(h.seconds)}{tail}")
            out.append(f"    {h.command}")
        out.append("  (backfill recovers trades and candlesticks; order-book depth in a hole is lost)")
    else:
        out.append("  none")
    out.append("")
    out.append("Not compacted (finished days still in part files)")
    if report.not_compacted:
        for u in report.not_compacted:
            out.append(f"  {u.table:<20} {u.day}  {u.parts} parts")
        out.append("  (the collector compacts finished days hourly; parts are read correctly meanwhile)")
    else:
        out.append("  none")
    if report.other:
        out.append("")
        out.append("Backfill and weather")
        for folder, info in report.other.items():
            span = f"{info['first']} .. {info['last']}" if info["files"] > 1 else info["first"]
            out.append(f"  {folder:<24} {info['files']:>5} files {info['rows']:>11,} rows   {span}")
    for note in report.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"


# ==================================================================================== command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_dir_argument(parser)
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first UTC day to look at (default: all)")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last UTC day to look at (default: all)")
    parser.add_argument("--outage-seconds", type=float, metavar="S",
                        help="no snapshot for this long is a hole (default: 3 snapshot intervals, at least 120)")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="longest gaps to list (default: 10)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout, for scripts")


def _date(flag: str, text: str | None) -> dt.date | None:
    from kalshi_collector.errors import UsageError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a date; expected YYYY-MM-DD") from None


def run(args: argparse.Namespace) -> int:
    storage, config, config_path = open_data(args)
    start, end = _date("--start", args.start), _date("--end", args.end)
    for attempt in range(3):
        try:
            data = scan(storage, start, end)
            break
        except FileNotFoundError:
            # compaction merged and deleted parts while we listed them: list again
            if attempt == 2:
                raise
    col = config.collection if config else None
    report = build_report(
        data,
        now=dt.datetime.now(UTC),
        interval_seconds=col.interval_seconds if col else None,
        has_overrides=bool(col and col.interval_overrides),
        flush_interval_seconds=config.storage.flush_interval_seconds if config else 300.0,
        outage_seconds=args.outage_seconds,
        series=list(config.event_series) if config else [],
        config_path=config_path,
        top=args.top,
    )
    print(report_json(report) if args.json else render_text(report), end="" if not args.json else "\n")
    return 0
