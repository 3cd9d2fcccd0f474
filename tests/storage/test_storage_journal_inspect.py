"""``python -m kalshi_collector.storage.journal``: what an operator sees of a damaged segment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from journal_helpers import frames_of, write_journal

from kalshi_collector.storage.journal.__main__ import main


def test_it_lists_frames_rows_and_every_skipped_range(tmp_path: Path, capsys) -> None:
    path = write_journal(tmp_path / "j", frames_of(4))
    data = bytearray(path.read_bytes())
    data[0:8] = b"garbage!"
    path.write_bytes(bytes(data))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "format 2, 4 intact frames, 40 rows" in out and "book_events: 40 rows" in out
    assert "skipped 8 bytes at offset 0: damaged header" in out


def test_rows_come_out_as_json_lines_and_a_missing_file_fails(tmp_path: Path) -> None:
    path = write_journal(tmp_path / "j", frames_of(2))
    proc = subprocess.run([sys.executable, "-m", "kalshi_collector.storage.journal", str(path), "--rows",
                           str(tmp_path / "missing.wal")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "missing.wal: cannot read" in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 20 and lines[0]["table"] == "book_events" and lines[3]["row"][3] == 3
