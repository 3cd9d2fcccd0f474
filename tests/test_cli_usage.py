"""Inverted ranges and negative counts or durations: one line naming the option, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_collector.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own exit, through the one-line error of cli._Parser
        code = int(exc.code or 0)
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return code, err


@pytest.mark.parametrize(("argv", "expected"), [
    (["collect", "--duration", "-5"], "argument --duration: expected a number > 0, got '-5'"),
    (["collect", "--duration", "0"], "argument --duration: expected a number > 0"),
    (["replay", "--market", "M", "--at", "2026-02-11T00:00:00Z", "--depth", "-3"],
     "argument --depth: expected a whole number >= 0, got '-3'"),
    (["status", "--top", "-1"], "argument --top: expected a whole number >= 0"),
    (["status", "--outage-seconds", "-60"], "argument --outage-seconds: expected a number > 0"),
    (["status", "--outage-seconds", "inf"], "argument --outage-seconds: expected a number > 0"),
    (["query", "--max-rows", "-2", "SELECT 1"], "argument --max-rows: expected a whole number >= 0"),
    (["sim", "--rate", "-1"], "argument --rate: expected a number >= 0"),  # 0: REST only (the backfill benches)
    (["sim", "--port", "70000"], "argument --port: expected a port number 0-65535"),
    (["sim", "--brackets", "0"], "argument --brackets: expected a whole number >= 1"),
])
def test_negative_counts_and_durations(capsys, argv: list[str], expected: str) -> None:
    code, err = run(capsys, *argv)
    assert code == 2 and expected in err and err.startswith(f"kalshi-collector {argv[0]}: "), err


@pytest.mark.parametrize("command", [["status"], ["plot", "KXHIGHCHI-26FEB11"]])
def test_start_after_end(tmp_path: Path, capsys, command: list[str]) -> None:
    code, err = run(capsys, *command, "--data-dir", str(tmp_path), "--start", "2026-02-12", "--end", "2026-02-11")
    assert code == 2 and "--start 2026-02-12 is after --end 2026-02-11" in err, err


def test_a_bad_date_names_its_flag(tmp_path: Path, capsys) -> None:
    code, err = run(capsys, "status", "--data-dir", str(tmp_path), "--end", "2026-13-01")
    assert code == 2 and "--end '2026-13-01' is not a date" in err
