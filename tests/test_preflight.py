"""Startup checks through the real command line: wrong key id, wrong key, unreachable exchange, wrong
REST and WebSocket paths, an unwritable data folder. Each ends in one line naming what to fix and an
exit code a supervisor (systemd) sees as a failure."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.sim.restapi import WS_PATH


@pytest.fixture()
async def sim() -> AsyncIterator[SimExchange]:
    async with SimExchange(SimConfig(seed=3, message_rate=0.0)) as s:
        yield s


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, *, base_url: str, ws_url: str, key_id: str | None, key_path: Path | None,
                 data_dir: Path | None = None, startup: float = 20.0) -> Path:
    creds = f"  api_key_id: {key_id}\n  private_key_path: {key_path}\n" if key_id else ""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"kalshi:\n  base_url: {base_url}\n  ws_url: {ws_url}\n{creds}  requests_per_second: 0\n"
        f"  startup_timeout_seconds: {startup}\n"
        f"events: [KXHIGHCHI-26FEB11]\nstorage:\n  data_dir: {data_dir or tmp_path / 'data'}\nmetrics:\n  port: 0\n"
    )
    return path


def sim_config(tmp_path: Path, sim: SimExchange, **kw: object) -> Path:
    values: dict[str, object] = {"base_url": sim.rest_url, "ws_url": f"ws://{sim.host}:{sim.port}{WS_PATH}",
                                 "key_id": sim.api_key_id, "key_path": sim.private_key_path}
    values.update(kw)
    return write_config(tmp_path, **values)  # type: ignore[arg-type]


async def run_cli(*args: str, timeout: float = 60.0) -> tuple[int, list[str], float]:
    """The real ``kalshi-collector`` in a child process: (exit code, stderr lines, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kalshi_collector.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, err.decode().strip().splitlines(), time.monotonic() - started


def assert_one_line(lines: list[str], command: str, *fragments: str) -> str:
    assert lines, "nothing on stderr"
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    last = lines[-1]
    assert last.startswith(f"kalshi-collector {command}: "), "\n".join(lines)
    for fragment in fragments:
        assert fragment in last, last
    return last


@pytest.mark.parametrize("command", ["collect", "backfill"])
async def test_an_unknown_key_id_names_kalshi_api_key_id(sim: SimExchange, tmp_path: Path, command: str) -> None:
    config = sim_config(tmp_path, sim, key_id="00000000-no-such-key")
    code, lines, seconds = await run_cli(command, "--config", str(config), *_dates(command))
    assert code == 2
    assert_one_line(lines, command, "the exchange refused the API key (HTTP 401: unknown API key)",
                    "check kalshi.api_key_id")
    assert seconds < 15


async def test_a_wrong_private_key_names_kalshi_private_key_path(sim: SimExchange, tmp_path: Path,
                                                                 key_file: Path) -> None:
    config = sim_config(tmp_path, sim, key_path=key_file)  # a valid key, but not the one of this key id
    code, lines, _ = await run_cli("collect", "--config", str(config))
    assert code == 2
    assert_one_line(lines, "collect", "(HTTP 401: bad signature)", "check kalshi.private_key_path")


@pytest.mark.parametrize("command", ["collect", "backfill"])
async def test_an_unreachable_exchange_is_one_line_then_retries_then_exit_1(tmp_path: Path, key_file: Path,
                                                                            command: str) -> None:
    port = closed_port()
    config = write_config(tmp_path, base_url=f"http://127.0.0.1:{port}/trade-api/v2",
                          ws_url=f"ws://127.0.0.1:{port}{WS_PATH}", key_id="k1", key_path=key_file, startup=2.5)
    code, lines, seconds = await run_cli(command, "--config", str(config), *_dates(command))
    assert code == 1
    last = assert_one_line(lines, command, "nothing worked within 2.5 s (kalshi.startup_timeout_seconds)",
                           "check kalshi.base_url and the network")
    assert "attempts" in last
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 1, lines  # the first failed attempt; later ones back off quietly
    assert "connection failed" in warnings[0] and f"127.0.0.1:{port}" in warnings[0]
    assert "will retry in" in warnings[0] and "for up to 2.5 s" in warnings[0]
    assert 2.0 < seconds < 15


async def test_a_wrong_rest_path_names_kalshi_base_url(sim: SimExchange, tmp_path: Path) -> None:
    config = sim_config(tmp_path, sim, base_url=f"http://{sim.host}:{sim.port}/trade-api/v9")
    code, lines, _ = await run_cli("backfill", "--config", str(config), *_dates("backfill"))
    assert code == 2
    assert_one_line(lines, "backfill", "/exchange/status does not exist at the exchange (HTTP 404",
                    "check kalshi.base_url")


async def test_a_404_websocket_path_names_kalshi_ws_url_not_the_key(sim: SimExchange, tmp_path: Path) -> None:
    config = sim_config(tmp_path, sim, ws_url=f"ws://{sim.host}:{sim.port}/trade-api/ws/v9")
    code, lines, _ = await run_cli("collect", "--config", str(config))
    assert code == 2
    last = assert_one_line(lines, "collect", "WebSocket handshake refused: HTTP 404", "check kalshi.ws_url")
    assert "api_key_id" not in last and "private_key" not in last


@pytest.fixture()
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A data folder nobody may write: chmod, or for root (who writes anyway) the immutable flag."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    undo = ["chmod", "700", str(folder)]
    if os.access(folder, os.W_OK):  # root: permissions do not stop it
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
            folder.chmod(0o700)
            pytest.skip("running as root on a filesystem without the immutable flag: cannot make a read-only folder")
        undo = [chattr, "-i", str(folder)]
    try:
        yield folder
    finally:
        subprocess.run(undo, check=False)
        folder.chmod(0o700)


@pytest.mark.parametrize("command", ["collect", "backfill"])
async def test_a_read_only_data_folder_is_one_line_no_traceback(sim: SimExchange, tmp_path: Path,
                                                                read_only_folder: Path, command: str) -> None:
    config = sim_config(tmp_path, sim, data_dir=read_only_folder)
    code, lines, _ = await run_cli(command, "--config", str(config), *_dates(command))
    assert code == 2
    assert_one_line(lines, command, f"cannot write to storage.data_dir = '{read_only_folder}'",
                    "point storage.data_dir elsewhere")
    assert len(lines) == 1, lines


async def test_a_healthy_exchange_passes_every_check(sim: SimExchange, tmp_path: Path) -> None:
    code, lines, seconds = await run_cli("collect", "--config", str(sim_config(tmp_path, sim)), "--duration", "0.5",
                                         "--log-level", "INFO")
    assert code == 0, lines
    text = "\n".join(lines)
    assert "exchange answers at" in text and "API key" in text and "WebSocket upgrade accepted" in text


def _dates(command: str) -> list[str]:
    return ["--start", "2026-02-01", "--end", "2026-02-02"] if command == "backfill" else []


@pytest.fixture()
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A data folder on a tiny tmpfs filled to the last byte (needs root and mount; skipped otherwise)."""
    folder = tmp_path / "full"
    folder.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mount.stderr.decode().strip()}")
    try:
        fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


async def test_a_full_data_folder_is_one_line(sim: SimExchange, tmp_path: Path, full_folder: Path) -> None:
    config = sim_config(tmp_path, sim, data_dir=full_folder)
    code, lines, _ = await run_cli("backfill", "--config", str(config), *_dates("backfill"))
    assert code == 2
    assert_one_line(lines, "backfill", "the disk is full", "free space there")
    assert len(lines) == 1, lines
