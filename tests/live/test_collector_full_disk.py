"""The real daemon on a real full disk (a small tmpfs; skipped where mounting is not permitted):
SIGTERM waits `storage.stop_wait_for_space_seconds`, journals every row, exits 1 with one line
naming the journal folder; after space is freed, recovery stores exactly those rows."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.catalog import TABLES
from tests.live.simrun import collector_settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def disk(tmp_path: Path):
    """A 200 MiB tmpfs: room for the journal's reserve (two 64 MiB segments) and a few parts."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}); "
                    "tests/storage/test_collector_stop_full_disk.py covers the same through the file layer")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


class Hog:
    """Another program that keeps the disk full: it takes every block that comes free (a flush
    that retires journal segments frees some), 50 times a second, until stopped."""

    def __init__(self, path: Path) -> None:
        self.path, self._stop = path, threading.Event()
        self._fh = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by stop()
        self._take()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _take(self) -> None:
        for size in (1 << 20, 1 << 16, 4096):
            try:
                while True:
                    self._fh.write(bytes(size))
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._take()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._fh.close()
        self.path.unlink()


def stored_rows(data: Path) -> int:
    storage = ParquetStorage(data)
    return sum(len(storage.read_parquets(name)) for name in TABLES)


async def _collecting(data: Path, timeout: float = 30.0) -> None:
    """Wait until the collector has written parts (it is live and flushing)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if len(list(data.glob("*/*/part-*.parquet"))) >= 3:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the collector wrote no parts in time")


async def test_sigterm_on_a_real_full_disk_exits_1_and_recovery_stores_every_row(disk: Path, tmp_path: Path) -> None:
    data = disk / "data"
    async with SimExchange(SimConfig(seed=8, message_rate=300, state_dir=tmp_path / "sim")) as sim:
        settings = collector_settings(sim, data, flush_interval_seconds=1.0)
        settings["storage"]["stop_wait_for_space_seconds"] = 1.0
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(settings))
        env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")} | {"PYTHONPATH": str(REPO / "src")}
        log = tmp_path / "collector.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kalshi_collector.cli", "collect", "--config", str(config),
            stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT, env=env, cwd=str(REPO))
        await _collecting(data)
        hog = Hog(disk / "filler")  # the disk is full: parts fail, the journal writes into its reserve
        try:
            await asyncio.sleep(3.0)
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 60)
        except BaseException:
            hog.stop()
            raise
    text = log.read_text()
    assert code == 1, text[-3000:]
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "rows could not be written to part files" in line]
    assert len(lines) == 1, text[-3000:]
    assert f"are in the journal {data / '_journal'}" in lines[0] and "free disk space" in lines[0]
    assert "could not be journaled either" not in lines[0]
    left = int(re.search(r"([\d,]+) rows could not be written", lines[0])[1].replace(",", ""))
    assert left > 0
    before = stored_rows(data)

    hog.stop()  # the operator frees space and starts again
    with LiveStore(data, journal_sync_interval=None) as again:
        assert sum(again.recover().values()) == left
    assert stored_rows(data) == before + left
