"""``kalshi-collector query "SQL"``: SQL over every table of the data folder, through DuckDB.

Each dataset of the catalog (:mod:`kalshi_collector.storage.catalog`: ``market_snapshots``,
``orderbook_snapshots``, ``orderbook_deltas``, ``trades_live``, ``book_events``, ``candlesticks``,
``trades``, ``asos_1min``, ``metar``, ``daily_climate``) is a view of the same name, as in
docs/schemas.md (plus ``trades_all``: live and backfilled trades in one set of columns,
docs/research.md), over exactly the files :meth:`ParquetStorage.files` lists: day files
and today's parts, never a part already merged into a day file, so no row is counted twice. A table
with no files yet is an empty view with the right columns, so a query can name it anyway.

Local folders are read by DuckDB's own parquet reader; an object store (``s3://...``) through a
pyarrow dataset on the same fsspec filesystem the collector writes with (no DuckDB extension to
download, the same credentials). Times are shown in UTC.

A damaged file is left out with one warning naming it (:mod:`kalshi_collector.storage.damage`):
one whose footer cannot be read before the views are made, one DuckDB names in an error while
reading (then the query runs again without it). DuckDB does not check page checksums, so a file
garbled inside its data pages can read as wrong values here: ``kalshi-collector quarantine``
reads every file with checksums and moves such files aside.

Read-only, twice over: only ``SELECT`` (``WITH``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``) and
``EXPLAIN`` statements are run (``COPY``, ``ATTACH``, ``INSTALL``, ``CREATE``, ``SET`` ... are
refused with one line), and once the views exist the connection is closed off with DuckDB's own
settings: ``allowed_paths`` = the views' files, ``enable_external_access = false`` (no other file
can be read or written, no extension installed: ``read_csv('/etc/passwd')`` fails) and
``lock_configuration = true`` (no query can undo that). Results leave only through
``--format``/``--output``, written by this command.

    kalshi-collector query "SELECT market_ticker, avg(yes_ask - yes_bid) FROM market_snapshots GROUP BY 1"
    kalshi-collector query --format csv "SELECT * FROM trades_live" > trades.csv
    kalshi-collector query --format parquet --output spreads.parquet "SELECT ..."
    kalshi-collector query                      # lists the views and their columns
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa

from kalshi_collector.cliargs import non_negative_int
from kalshi_collector.datafolder import add_data_dir_argument, open_data
from kalshi_collector.storage import DATASETS, ParquetStorage
from kalshi_collector.storage.atomic import atomic_write_parquet
from kalshi_collector.storage.catalog import Dataset
from kalshi_collector.storage.damage import DAMAGE_ERRORS, is_damage
from kalshi_collector.storage.fs import ObjectStoreFS
from kalshi_collector.storage.layout import LiveDaily

__all__ = ["add_arguments", "run", "VIEWS", "connect", "run_sql"]

VIEWS: dict[str, str] = {name: name for name in DATASETS}
"""View name -> ``ParquetStorage`` kind: one view per dataset of the catalog, named as it."""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(ds: Dataset, source: str) -> str:
    """The view's query: every row, or for a live table with a key (``trades_live``) the first
    received row of each key, as the reader gives it (:mod:`kalshi_collector.storage.dedupe`)."""
    if not ds.key or not isinstance(ds.layout, LiveDaily):
        return f"SELECT * FROM {source}"
    nulls = " OR ".join(f"{c} IS NULL" for c in ds.key)
    order = ", ".join(ds.sort_keys)
    return (f"SELECT * FROM {source} QUALIFY {nulls} OR "
            f"row_number() OVER (PARTITION BY {', '.join(ds.key)} ORDER BY {order}) = 1")


def _readable(storage: ParquetStorage, paths: list[PurePath], exclude: set[str]) -> list[PurePath]:
    """``paths`` without the excluded ones and those whose footer cannot be read (recorded, warned)."""
    keep = []
    for path in paths:
        if str(path) in exclude:
            continue
        try:
            storage.fs.parquet_metadata(path)
        except DAMAGE_ERRORS as exc:
            if not is_damage(exc):
                raise
            storage.damage.record(path, exc)
            continue
        keep.append(path)
    return keep


def connect(storage: ParquetStorage, exclude: set[str] = frozenset(),  # type: ignore[assignment]
            *, lock_down: bool = True) -> Any:
    """A read-only DuckDB connection with one view per table of ``storage`` (see the module
    docstring); files in ``exclude`` (paths as strings) are left out. ``lock_down=False``: an
    ordinary connection over the same views (the research API's, in the user's own notebook)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    remote = isinstance(storage.fs, ObjectStoreFS)
    allowed: list[str] = []
    for view, kind in VIEWS.items():
        paths = _readable(storage, storage.files(kind), exclude)
        allowed += [] if remote else [str(p) for p in paths]
        if paths and remote:
            import pyarrow.dataset as ds

            fs = storage.fs
            assert isinstance(fs, ObjectStoreFS)
            dataset = ds.dataset([p.as_posix() for p in paths], filesystem=fs.fs, format="parquet")
            con.register(f"_files_{view}", dataset)
            con.execute(f"CREATE VIEW {view} AS {_select(DATASETS[kind], f'_files_{view}')}")
        elif paths:
            listed = ", ".join(_sql_string(str(p)) for p in paths)
            source = f"read_parquet([{listed}], union_by_name = true)"
            con.execute(f"CREATE VIEW {view} AS {_select(DATASETS[kind], source)}")
        else:
            con.register(f"_empty_{view}", DATASETS[kind].schema.empty_table())
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM _empty_{view}")
    from kalshi_collector.research.trades import trades_view_sql

    con.execute(trades_view_sql())  # trades_all: live and backfilled trades in one set of columns
    if lock_down:
        _lock_down(con, allowed)
    return con


def _lock_down(con: Any, allowed: list[str]) -> None:
    """No file access beyond the views' own files, and no setting can undo that."""
    con.execute(f"SET allowed_paths = [{', '.join(_sql_string(p) for p in allowed)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


_READ_ONLY_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})


def check_read_only(sql: str) -> None:
    """Refuse anything but SELECT/EXPLAIN statements, with one line naming the first refused."""
    import duckdb

    from kalshi_collector.errors import UsageError

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(str(exc).strip().splitlines()[0]) from None
    for statement in statements:
        kind = statement.type.name
        if kind not in _READ_ONLY_STATEMENTS:
            words = " ".join(statement.query.split()[:3])
            raise UsageError(f"query is read-only: {kind} statements are refused ({words!r} ...); "
                             "use SELECT, and --format/--output to save a result")


def _as_table(relation: Any) -> pa.Table:
    to_table = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return to_table()


def run_sql(storage: ParquetStorage, sql: str) -> pa.Table:
    """Run one query over the views; a bad query raises :class:`kalshi_collector.errors.UsageError`."""
    import duckdb

    from kalshi_collector.errors import UsageError

    check_read_only(sql)
    exclude: set[str] = set()
    for attempt in range(_ATTEMPTS):
        con = connect(storage, exclude)
        try:
            relation = con.sql(sql)
            if relation is None:  # a statement without a result (SET, CREATE ...)
                return pa.table({})
            return _as_table(relation)
        except (duckdb.Error, FileNotFoundError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            named = _damaged_file_named(storage, first, exclude)
            if named is not None and attempt < _ATTEMPTS - 1:
                storage.damage.record(named, exc)  # run again without it
                exclude.add(str(named))
                continue
            if isinstance(exc, duckdb.IOException | FileNotFoundError) and attempt < 2:
                continue  # a compaction merged and deleted parts after they were listed: list again
            if isinstance(exc, duckdb.IOException | FileNotFoundError):
                raise UsageError(f"cannot read the data: {first}") from None
            if isinstance(exc, duckdb.PermissionException):
                raise UsageError(f"query is read-only: {first}") from None
            views = ", ".join(sorted(_view_names(con)))
            raise UsageError(f"{first} (views: {views})") from None
        finally:
            con.close()
    raise AssertionError("unreachable")


_ATTEMPTS = 8  # each damaged file DuckDB names costs one more try


def _damaged_file_named(storage: ParquetStorage, message: str, exclude: set[str]) -> PurePath | None:
    """The data file an error message names, if it is one of the views' files and still present."""
    for kind in VIEWS.values():
        for path in storage.files(kind):
            if str(path) in message and str(path) not in exclude and storage.fs.isfile(path):
                return path
    return None


def _view_names(con: Any) -> list[str]:
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    return [row[0] for row in rows if not row[0].startswith("_")]


def describe(storage: ParquetStorage) -> str:
    """Every view with its files and columns: what a user can query."""
    con = connect(storage)
    try:
        lines = []
        for view in VIEWS:
            if view not in _view_names(con):
                continue
            files = len(storage.files(VIEWS[view]))
            columns = con.execute(f"DESCRIBE {view}").fetchall()
            cols = ", ".join(f"{name} {type_}" for name, type_, *_ in columns)
            lines.append(f"{view} ({files} file{'s' if files != 1 else ''}): {cols}")
        columns = con.execute("DESCRIBE trades_all").fetchall()
        cols = ", ".join(f"{name} {type_}" for name, type_, *_ in columns)
        lines.append(f"trades_all (trades_live + trades, one set of columns; docs/research.md): {cols}")
        return "\n".join(lines) + "\n"
    finally:
        con.close()


def format_table(table: pa.Table, max_rows: int) -> str:
    """A result for a terminal: aligned columns, the first ``max_rows`` rows, a count at the end."""
    if table.num_columns == 0:
        return "(no result)\n"
    shown = table.slice(0, max_rows).to_pandas()
    text = shown.to_string(index=False, na_rep="NULL", max_colwidth=60)
    more = table.num_rows - len(shown)
    tail = f"({table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    tail += f"; first {len(shown)} shown, --format csv for all)" if more > 0 else ")"
    return f"{text}\n{tail}\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", nargs="?", help="the query (views: " + ", ".join(VIEWS) + "); none: list the views")
    add_data_dir_argument(parser)
    parser.add_argument("--format", choices=("table", "csv", "parquet"), default="table",
                        help="table (default) for a terminal, csv, or parquet (needs --output)")
    parser.add_argument("--output", "-o", metavar="PATH", help="write the result here instead of stdout")
    parser.add_argument("--max-rows", type=non_negative_int, default=100, metavar="N", help="rows shown by --format table (default 100)")


def run(args: argparse.Namespace) -> int:
    from kalshi_collector.errors import UsageError

    try:
        import duckdb  # noqa: F401
    except ImportError:
        raise UsageError("query needs DuckDB: pip install 'kalshi-collector[duckdb]'") from None
    storage = open_data(args).storage
    if not args.sql:
        print(describe(storage), end="")
        return 0
    if args.format == "parquet" and not args.output:
        raise UsageError("--format parquet writes a file: add --output PATH")
    result = run_sql(storage, args.sql)
    if args.format == "parquet":
        atomic_write_parquet(Path(args.output), result)
        print(f"{result.num_rows} rows -> {args.output}", file=sys.stderr)
    elif args.format == "csv":
        import pyarrow.csv as pcsv

        if args.output:
            pcsv.write_csv(result, args.output)
        else:
            pcsv.write_csv(result, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    else:
        text = format_table(result, args.max_rows)
        if args.output:
            Path(args.output).write_text(text)
        else:
            print(text, end="")
    return 0
