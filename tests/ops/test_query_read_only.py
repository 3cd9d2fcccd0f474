"""``query`` cannot write or read beyond the data: COPY/ATTACH/INSTALL/CREATE/SET are refused with
one line (exit 2), and DuckDB itself is closed off (no other file, settings locked)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ops_helpers import Collected

from kalshi_collector.cli import main as cli_main
from kalshi_collector.errors import UsageError
from kalshi_collector.query import connect, run_sql
from kalshi_collector.storage import ParquetStorage


@pytest.mark.parametrize("sql", [
    "COPY (SELECT * FROM trades_live) TO '{out}'",
    "COPY trades_live TO '{out}' (FORMAT parquet)",
    "ATTACH '{out}' AS other",
    "INSTALL httpfs",
    "CREATE TABLE t AS SELECT * FROM trades_live",
    "SET enable_external_access = true",
    "SELECT 1; COPY (SELECT 1) TO '{out}'",
])
def test_writing_statements_are_refused_with_one_line(collected: Collected, tmp_path: Path, capsys, sql: str) -> None:
    out = tmp_path / "stolen.csv"
    code = cli_main(["query", "--config", str(collected.config_path), sql.format(out=out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "query is read-only" in err, err
    assert not out.exists()


def test_the_connection_reads_only_the_views_files(collected: Collected, tmp_path: Path) -> None:
    storage = ParquetStorage(collected.data_dir)
    with pytest.raises(UsageError, match="read-only|Permission"):
        run_sql(storage, "SELECT * FROM read_csv('/etc/passwd')")
    con = connect(storage)
    try:
        for sql in (f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'", "SET allowed_paths = ['/etc/passwd']",
                    "SET enable_external_access = true"):
            with pytest.raises(Exception, match="disabled by configuration|locked"):
                con.execute(sql)
        assert con.execute("SELECT count(*) FROM trades_live").fetchone()[0] > 0
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists()
