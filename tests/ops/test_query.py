"""``kalshi-collector query``: DuckDB views over every table of a folder the collector filled."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ops_helpers import Collected

from kalshi_collector.cli import main as cli_main
from kalshi_collector.query import VIEWS, run_sql
from kalshi_collector.storage import TABLES, ParquetStorage
from kalshi_collector.storage.layout import MERGED_PARTS_KEY


def q(collected: Collected, *argv: str) -> list[str]:
    return ["query", "--config", str(collected.config_path), *argv]


def test_every_table_is_a_view_with_the_stored_rows(collected: Collected) -> None:
    storage = ParquetStorage(collected.data_dir)
    for view in TABLES:
        result = run_sql(storage, f"SELECT count(*) AS n FROM {view}")
        assert result.column("n")[0].as_py() == len(storage.read_parquets(view)), view
    assert run_sql(storage, "SELECT count(*) AS n FROM asos_1min").column("n")[0].as_py() == 1440
    assert run_sql(storage, "SELECT count(*) AS n FROM trades").column("n")[0].as_py() == 0  # no files: empty view
    joined = run_sql(storage, """
        SELECT s.market_ticker, count(DISTINCT t.trade_id) AS trades, avg(s.yes_ask - s.yes_bid) AS spread
        FROM market_snapshots s LEFT JOIN trades_live t USING (market_ticker)
        GROUP BY 1 ORDER BY 1""")
    assert joined.num_rows == 12 and joined.column("market_ticker")[0].as_py().startswith("KXHIGHCHI-26FEB11-")
    ts = run_sql(storage, "SELECT min(snapshot_ts) AS t FROM market_snapshots").column("t")
    assert str(ts.type) == "timestamp[us, tz=UTC]"


def test_csv_parquet_and_table_output(collected: Collected, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT market_ticker, yes_price, count FROM trades_live ORDER BY recv_ts, seq"
    expected = ParquetStorage(collected.data_dir).read_parquets("trades_live")
    assert cli_main(q(collected, "--format", "csv", sql)) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(expected)
    assert [float(r["yes_price"]) for r in rows] == list(expected["yes_price"])

    out = tmp_path / "out.parquet"
    assert cli_main(q(collected, "--format", "parquet", "--output", str(out), sql)) == 0
    back = pq.read_table(out)
    assert back.num_rows == len(expected) and back.column_names == ["market_ticker", "yes_price", "count"]

    assert cli_main(q(collected, "--max-rows", "5", sql)) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["market_ticker", "yes_price", "count"]
    assert len(text.splitlines()) == 1 + 5 + 1 and f"({len(expected)} rows; first 5 shown" in text


def test_no_sql_lists_the_views(collected: Collected, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(q(collected)) == 0
    listed = [line.split(" ")[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [*VIEWS, "trades_all"]  # every dataset, then the one derived view


def test_mistakes_are_one_line_and_exit_2(collected: Collected, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(q(collected, "SELECT * FROM orderbook")) == 2
    err = capsys.readouterr().err
    assert err.startswith("kalshi-collector query: Catalog Error") and "views: asos_1min, book_events" in err
    assert "_empty_" not in err and len(err.strip().splitlines()) == 1
    assert cli_main(q(collected, "--format", "parquet", "SELECT 1")) == 2
    assert "--output" in capsys.readouterr().err


def test_a_part_left_by_an_interrupted_compaction_is_not_counted_twice(collected: Collected, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(collected.data_dir, data)
    day_file = data / "market_snapshots" / "2026-02-11.parquet"
    merged = json.loads(pq.read_schema(day_file).metadata[MERGED_PARTS_KEY])
    leftover = data / "market_snapshots" / "2026-02-11" / merged[0]
    leftover.parent.mkdir(parents=True)
    shutil.copy(day_file, leftover)  # as if the compaction died before deleting its parts
    storage = ParquetStorage(data)
    n = run_sql(storage, "SELECT count(*) AS n FROM market_snapshots").column("n")[0].as_py()
    assert n == len(ParquetStorage(collected.data_dir).read_parquets("market"))
