"""``make demo``'s closing "read it yourself" lines work as printed, from any folder and shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kalshi_collector.demo import read_it_yourself
from kalshi_collector.storage import LiveStore

T0 = 1_770_834_581_512_000  # 2026-02-11T18:29:41.512Z


def test_the_printed_commands_run_without_the_virtual_environment_on_path(tmp_path: Path) -> None:
    data = tmp_path / "demo data"  # a space: the command must quote
    with LiveStore(data, journal_sync_interval=None) as store:
        store.append("market_snapshots", (T0, "KXHIGHCHI-26FEB11", "KXHIGHCHI-26FEB11-B34.5", "34° to 35°", 29.0,
                                          31.0, None, 1234.0, 350.0, "periodic", 10.0, 5.0, True))
    lines = read_it_yourself(data)
    assert len(lines) == 2
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for line in lines:
        result = subprocess.run(line, shell=True, cwd=elsewhere, capture_output=True, text=True, timeout=60,
                                env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        assert "[1 rows x 13 columns]" in result.stdout
