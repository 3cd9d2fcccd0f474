"""The command line as a user meets it: help, and one clear line with exit code 2 for every mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run(
        [sys.executable, "-m", "kalshi_collector.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=60,
    )


def test_help_lists_every_command() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for command in ("collect", "backfill", "weather", "settlement", "replay", "sim", "status", "query", "plot",
                    "quarantine"):
        assert command in r.stdout
    sub = cli("collect", "--help")
    assert "--config" in sub.stdout and "--log-level" in sub.stdout and "--duration" in sub.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "config file not found"),
        ("kalshi: {}\ncollection: [oops\n", "not valid YAML at line"),
        ("kalshi: {}\ncolection: {}\n", "did you mean `collection`"),
        ("kalshi: {}\ncollection: {interval_seconds: soon}\n", "`collection.interval_seconds` = 'soon'"),
        ("kalshi: {base_url: 'htp:/nowhere'}\n", "`kalshi.base_url`"),
        ("kalshi: {}\nevents: [KXHIGHCHI-26FEB11]\n", "needs API credentials"),
        ("kalshi: {api_key_id: abc, private_key_path: missing.pem}\nevents: [KXHIGHCHI-26FEB11]\n", "private key file not found"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, text: str | None, expected: str) -> None:
    cfg = tmp_path / "config.yaml"
    if text is not None:
        cfg.write_text(text)
    r = cli("collect", "--config", str(cfg), "--duration", "1")
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bad_key_file_is_one_line(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("not a key")
    (tmp_path / "config.yaml").write_text(f"kalshi: {{api_key_id: abc, private_key_path: {key}}}\nevents: [X-1]\n")
    r = cli("collect", "--config", str(tmp_path / "config.yaml"))
    assert r.returncode == 2 and "not a PEM file" in r.stderr and "Traceback" not in r.stderr


def test_bad_argument_exits_2() -> None:
    r = cli("collect", "--log-level", "LOUD")
    assert r.returncode == 2 and "invalid choice" in r.stderr
