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

    kalshi-collector query "SELECT market_ticker, avg(yes_ask - yes_bid) FROM market_snapshots GROUP BY 1"
    kalshi-collector query --format csv "SELECT * FROM trades_live" > trades.csv
    kalshi-collector query --format parquet --output spreads.parquet "SELECT ..."
    kalshi-collector query                      # lists the views and their columns
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from kalshi_collector.datafolder import add_data_dir_argument, open_data
from kalshi_collector.storage import DATASETS, ParquetStorage
from kalshi_collector.storage.atomic import atomic_write_parquet
from kalshi_collector.storage.fs import ObjectStoreFS

__all__ = ["add_arguments", "run", "VIEWS", "connect", "run_sql"]

VIEWS: dict[str, str] = {name: name for name in DATASETS}
"""View name -> ``ParquetStorage`` kind: one view per dataset of the catalog, named as it."""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(storage: ParquetStorage) -> Any:
    """A DuckDB connection with one view per table of ``storage`` (see the module docstring)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    remote = isinstance(storage.fs, ObjectStoreFS)
    for view, kind in VIEWS.items():
        paths = storage.files(kind)
        if paths and remote:
            import pyarrow.dataset as ds

            fs = storage.fs
            assert isinstance(fs, ObjectStoreFS)
            dataset = ds.dataset([p.as_posix() for p in paths], filesystem=fs.fs, format="parquet")
            con.register(f"_files_{view}", dataset)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM _files_{view}")
        elif paths:
            listed = ", ".join(_sql_string(str(p)) for p in paths)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listed}], union_by_name = true)")
        else:
            con.register(f"_empty_{view}", DATASETS[kind].schema.empty_table())
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM _empty_{view}")
    from kalshi_collector.research.trades import trades_view_sql

    con.execute(trades_view_sql())  # trades_all: live and backfilled trades in one set of columns
    return con


def _as_table(relation: Any) -> pa.Table:
    to_table = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return to_table()


def run_sql(storage: ParquetStorage, sql: str) -> pa.Table:
    """Run one query over the views; a bad query raises :class:`kalshi_collector.errors.UsageError`."""
    import duckdb

    from kalshi_collector.errors import UsageError

    for attempt in range(3):
        con = connect(storage)
        try:
            relation = con.sql(sql)
            if relation is None:  # a statement without a result (SET, CREATE ...)
                return pa.table({})
            return _as_table(relation)
        except (duckdb.IOException, FileNotFoundError) as exc:
            # a compaction merged and deleted parts after they were listed: list the files again
            if attempt == 2:
                raise UsageError(f"cannot read the data: {str(exc).strip().splitlines()[0]}") from None
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            views = ", ".join(sorted(_view_names(con)))
            raise UsageError(f"{first} (views: {views})") from None
        finally:
            con.close()
    raise AssertionError("unreachable")


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
    parser.add_argument("--max-rows", type=int, default=100, metavar="N", help="rows shown by --format table (default 100)")


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
