"""docs/research.md: its Python blocks run, in order, against the sample folder; its trades table
is the declared mapping."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from kalshi_collector.research.trades import mapping_table
from tests.research import sample

DOC = Path(__file__).resolve().parents[2] / "docs" / "research.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_worked_example_runs(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("duckdb")
    shutil.copytree(sample_dir, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 5
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)  # noqa: S102
    ns = namespace
    assert len(ns["tape"]) == len(sample.TAPE) and ns["ticker"] == sample.A
    assert list(ns["spreads"]["market_ticker"]) == [sample.A, sample.B]
    assert len(ns["quotes"]) == 61 and ns["quotes"]["valid"].sum() == 61 - 1  # the minute after the gap
    assert ns["later"].as_dict()["yes"][Decimal(31)] == Decimal(1)  # 00:10, just after the delta
    assert list(ns["trades"]["source"]) == ["backfill", "live", "both"]
    assert list(ns["volume"]["trades"]) == [2, 1]
    assert "NOT VALID" in capsys.readouterr().out


def test_the_trades_mapping_shown_is_the_declared_one() -> None:
    assert mapping_table() in DOC.read_text()
