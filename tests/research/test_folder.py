"""open_data: every table by name in pandas, Arrow, polars and DuckDB; one trades table."""

from __future__ import annotations

import pandas as pd
import pytest

import kalshi_collector
from kalshi_collector.errors import UsageError
from kalshi_collector.research import TRADE_COLUMNS, open_data
from kalshi_collector.storage import DATASETS
from tests.research import sample


def test_tables_by_name_with_a_date_range(sample_dir) -> None:
    data = kalshi_collector.open_data(sample_dir)
    assert data.tables == tuple(DATASETS)
    tape = data.table("orderbook_deltas")
    assert len(tape) == len(sample.TAPE) and str(tape["recv_ts"].dt.tz) == "UTC"
    assert len(data.table("orderbook_deltas", "2026-02-12", "2026-02-12")) == 7  # today's parts included
    assert len(data["deltas"]) == len(tape)  # read_parquets' aliases work
    assert data.arrow("market_snapshots").num_rows == 3
    with pytest.raises(ValueError, match="unknown kind 'nope'"):
        data.table("nope")


def test_a_missing_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        open_data(tmp_path / "nothing")


def test_polars_reads_the_same_rows(sample_dir) -> None:
    pl = pytest.importorskip("polars")
    frame = open_data(sample_dir).polars("orderbook_deltas", "2026-02-11", "2026-02-12")
    assert isinstance(frame, pl.DataFrame) and frame.height == len(sample.TAPE)


def test_duckdb_has_a_view_per_table_and_trades_all(sample_dir, tmp_path) -> None:
    pytest.importorskip("duckdb")
    data = open_data(sample_dir)
    con = data.duckdb()
    try:
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert set(DATASETS) | {"trades_all"} <= views
        assert con.execute("SELECT count(*) FROM orderbook_deltas").fetchone()[0] == len(sample.TAPE)
        out = tmp_path / "trades.parquet"  # a notebook's own connection: not locked down like query's
        con.execute(f"COPY (SELECT * FROM trades_all) TO '{out}' (FORMAT parquet)")
        assert con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0] == 3
    finally:
        con.close()
    assert data.sql("SELECT count(*) AS n FROM book_events")["n"].iloc[0] == 2


def test_trades_one_set_of_columns_a_shared_trade_once(sample_dir) -> None:
    trades = open_data(sample_dir).trades()
    assert list(trades.columns) == [c.name for c in TRADE_COLUMNS] + ["source"]
    assert list(trades["trade_id"]) == ["t-0", "t-1", "t-2"]
    assert list(trades["source"]) == ["backfill", "live", "both"]
    both = trades.iloc[2]
    assert both["recv_ts"] == pd.Timestamp(sample.at(sample.D2, 0, 11))  # the live receipt
    assert both["event_ticker"] == sample.EVENT and both["taker_outcome_side"] == "no"  # the backfilled row
    assert (both["yes_price"], both["no_price"], both["count"]) == (31.0, 69.0, 1.5)
    live = trades.iloc[1]
    assert pd.isna(live["event_ticker"]) and live["ts"] == pd.Timestamp(sample.at(sample.D2, 0, 6)) - pd.Timedelta(
        milliseconds=30)
    assert pd.isna(trades.iloc[0]["recv_ts"]) and trades.iloc[0]["yes_price"] == 40.0
    assert list(open_data(sample_dir).trades(market=sample.B)["trade_id"]) == ["t-0"]
    assert list(open_data(sample_dir).trades("2026-02-12", "2026-02-12")["trade_id"]) == ["t-1", "t-2"]


def test_the_duckdb_view_equals_the_pandas_table(sample_dir) -> None:
    pytest.importorskip("duckdb")
    data = open_data(sample_dir)
    ours = data.trades()
    theirs = data.sql("SELECT * FROM trades_all")
    assert list(theirs.columns) == list(ours.columns)
    for name in ours.columns:
        a, b = ours[name].tolist(), theirs[name].tolist()
        assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b], name


def test_trades_of_an_empty_folder(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    trades = open_data(tmp_path / "data").trades()
    assert trades.empty and list(trades.columns) == [c.name for c in TRADE_COLUMNS] + ["source"]
