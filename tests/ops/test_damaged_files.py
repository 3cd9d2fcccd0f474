"""Damaged part and day files in a folder the collector filled: `status`, `query`, `replay` and `plot`
skip each with one warning naming it, `status` lists them, `quarantine --apply` moves them aside."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from pathlib import Path

import pytest
from ops_helpers import EVENT, S3, Collected, snapshot_row

from kalshi_collector.cli import main as cli_main
from kalshi_collector.query import run_sql
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.fs import ObjectStoreFS, open_data_dir


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


@pytest.fixture()
def damaged(collected: Collected, tmp_path: Path) -> tuple[Path, list[Path]]:
    """A copy of the collected folder with a garbled market_snapshots day file and a truncated
    trades_live part and orderbook_deltas part."""
    data = tmp_path / "data"
    shutil.copytree(collected.data_dir, data, ignore=shutil.ignore_patterns("_journal"))
    day_file = data / "market_snapshots" / "2026-02-11.parquet"
    trade_part = sorted((data / "trades_live" / "2026-02-12").glob("part-*.parquet"))[0]
    delta_part = sorted((data / "orderbook_deltas" / "2026-02-12").glob("part-*.parquet"))[-1]
    garble(day_file)
    truncate(trade_part)
    truncate(delta_part)
    return data, [day_file, trade_part, delta_part]


def args(collected: Collected, data: Path, command: str, *rest: str) -> list[str]:
    return [command, "--config", str(collected.config_path), "--data-dir", str(data), *rest]


def warnings_naming(caplog, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(path) in r.getMessage()]


def logged_warnings(stderr: str, path: Path) -> list[str]:
    """The command's log lines (stderr) warning about ``path``."""
    return [line for line in stderr.splitlines() if "WARNING" in line and f"damaged file {path} " in line]


def test_status_lists_the_damaged_files_and_counts_the_rest(collected: Collected, damaged, capsys) -> None:
    data, bad = damaged
    assert cli_main(args(collected, data, "status")) == 0
    out = capsys.readouterr()
    assert "Damaged files (3:" in out.out and "quarantine --apply" in out.out
    for path in bad:
        assert str(path) in out.out
        assert len(logged_warnings(out.err, path)) == 1, out.err
    assert "Traceback" not in out.err


def test_query_skips_damaged_files_even_for_the_table_they_hold(collected: Collected, damaged, caplog) -> None:
    data, (day_file, trade_part, delta_part) = damaged
    storage = ParquetStorage(data)
    expected = len(ParquetStorage(data).read_parquets("trades_live"))
    with caplog.at_level(logging.WARNING):
        assert run_sql(storage, "SELECT count(*) AS n FROM trades_live").column("n")[0].as_py() == expected
        assert run_sql(storage, "SELECT count(*) AS n FROM book_events").column("n")[0].as_py() > 0
    assert len(warnings_naming(caplog, trade_part)) == 1
    assert str(trade_part) in storage.damage.files and str(delta_part) in storage.damage.files


def test_replay_and_plot_read_around_the_damage(collected: Collected, damaged, tmp_path: Path, capsys) -> None:
    data, (day_file, _, delta_part) = damaged
    market = collected.tickers[0]
    code = cli_main(args(collected, data, "replay", "--market", market, "--at", "2026-02-12T00:04:00Z"))
    assert code in (0, 1)  # a book, or "no snapshot before": never a traceback
    assert len(logged_warnings(capsys.readouterr().err, delta_part)) == 1
    png = tmp_path / "plot.png"
    assert cli_main(args(collected, data, "plot", EVENT, "--offline", "-o", str(png))) == 0
    assert png.stat().st_size > 1000
    assert len(logged_warnings(capsys.readouterr().err, day_file)) == 1


def test_quarantine_lists_then_moves_the_damaged_files_aside(collected: Collected, damaged, capsys) -> None:
    data, bad = damaged
    assert cli_main(args(collected, data, "quarantine")) == 1  # a dry run: lists, moves nothing
    listed = capsys.readouterr().out
    assert all(str(path) in listed for path in bad) and all(path.exists() for path in bad)
    assert cli_main(args(collected, data, "quarantine", "--apply")) == 0
    for path in bad:
        assert not path.exists()
        assert (data / "_damaged" / path.relative_to(data)).read_bytes()  # kept, same relative path
    capsys.readouterr()
    assert cli_main(args(collected, data, "quarantine")) == 0
    assert "no damaged files" in capsys.readouterr().out
    assert cli_main(args(collected, data, "status")) == 0
    assert "Damaged files" not in capsys.readouterr().out



def test_quarantine_in_a_bucket(s3: S3, tmp_path: Path, capsys) -> None:
    url = s3.url("quarantine")
    with LiveStore(url, journal_sync_interval=None, journal_dir=tmp_path / "journal") as store:
        for i in range(2):
            store.append("market_snapshots", snapshot_row(dt.date(2026, 2, 11), 60.0 * i, i))
            store.flush()
    fs, root = open_data_dir(url)
    assert isinstance(fs, ObjectStoreFS)

    def keys() -> list[str]:
        return sorted(str(k).removeprefix(f"{root}/") for k in fs.fs.find(str(root)))

    part = [k for k in keys() if "/part-" in k][0]
    fs.fs.pipe_file(f"{root}/{part}", b"PAR1 garbage, not a parquet file")
    assert len(ParquetStorage(url).read_parquets("market")) == 1
    config = tmp_path / "config.yaml"
    config.write_text("kalshi: {}\n")
    assert cli_main(["quarantine", "--config", str(config), "--data-dir", url]) == 1
    assert cli_main(["quarantine", "--config", str(config), "--data-dir", url, "--apply"]) == 0
    assert f"_damaged/{part}" in keys() and part not in keys()
    assert f"moved: {root}/{part}" in capsys.readouterr().out
    assert cli_main(["quarantine", "--config", str(config), "--data-dir", url]) == 0
    assert len(ParquetStorage(url).read_parquets("market")) == 1
