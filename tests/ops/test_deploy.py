"""deploy/: the systemd units pass ``systemd-analyze verify``, the scripts ``bash -n`` and shellcheck,
the cloud-init file is valid cloud-config, and install.sh --dry-run does what docs/operations.md says.

systemd-analyze and shellcheck are system tools: a machine without them skips those checks and says
so (``apt-get install systemd shellcheck``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ["kalshi-collector.service", "kalshi-collector-daily.service", "kalshi-collector-daily.timer"]
SCRIPTS = ["install.sh", "kalshi-collector-daily", "oci/launch.sh", "docker/entrypoint.sh"]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install {'systemd' if tool == 'systemd-analyze' else tool})")
    return path


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = need("systemd-analyze")
    # verify checks that ExecStart binaries exist: point /opt/kalshi-collector at stand-ins
    prefix = tmp_path / "opt" / "kalshi-collector"
    for exe in (prefix / "venv" / "bin" / "kalshi-collector", prefix / "bin" / "kalshi-collector-daily"):
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    for unit in UNITS:
        text = (DEPLOY / unit).read_text()
        (tmp_path / unit).write_text(text.replace("/opt/kalshi-collector", str(prefix)))
    result = subprocess.run([analyze, "verify", *UNITS], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "kalshi-collector" not in result.stderr, result.stderr  # no warnings about our units either


def test_the_unit_restarts_runs_unprivileged_and_reads_its_secrets_from_an_environment_file() -> None:
    import configparser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "kalshi-collector.service")
    service = unit["Service"]
    assert service["Restart"] == "on-failure" and service["User"] == "kalshi"
    assert service["EnvironmentFile"] == "/etc/kalshi-collector/env"
    assert service["Type"] == "notify" and service["WatchdogSec"]  # the daemon sends READY=1 and WATCHDOG=1
    assert "collect --config /etc/kalshi-collector/config.yaml" in service["ExecStart"]
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(DEPLOY / "kalshi-collector-daily.timer")
    assert timer["Timer"]["Persistent"] == "true"


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_pass_shellcheck(script: str) -> None:
    path = DEPLOY / script
    assert path.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True, timeout=30)
    shellcheck = need("shellcheck")
    result = subprocess.run([shellcheck, "--severity=style", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_cloud_init_is_cloud_config_and_its_commands_parse(tmp_path: Path) -> None:
    text = (DEPLOY / "cloud-init.yaml").read_text()
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert {"python3-venv", "git"} <= set(config["packages"])
    commands = [c for c in config["runcmd"] if c[:2] == ["bash", "-c"]]
    assert any("deploy/install.sh" in c[2] for c in commands)
    for n, (_, _, body) in enumerate(commands):
        script = tmp_path / f"runcmd{n}.sh"
        script.write_text("#!/usr/bin/env bash\n" + body + "\n")
        subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
        if shutil.which("shellcheck"):
            result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stdout
    if shutil.which("cloud-init"):
        subprocess.run(["cloud-init", "schema", "--config-file", str(DEPLOY / "cloud-init.yaml")], check=True, timeout=60)


def dry_run(tmp_path: Path, conf_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "KC_CONF_DIR": str(conf_dir)}
    return subprocess.run(["bash", str(DEPLOY / "install.sh"), "--dry-run", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_install_dry_run_creates_user_venv_config_and_enables_the_units(tmp_path: Path) -> None:
    key = tmp_path / "kalshi.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    conf = tmp_path / "etc"  # a fresh machine: nothing there yet
    result = dry_run(tmp_path, conf, "--key-id", "abc-123", "--key-file", str(key), "--data-dir", "s3://bucket/kalshi")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "/opt/kalshi-collector/venv",
        "pip install --quiet --upgrade",
        f"install -m 0640 -o root -g kalshi {key} {conf}/kalshi.pem",
        "KALSHI_API_KEY_ID=abc-123",
        'data_dir: "s3://bucket/kalshi"',
        "data in object storage: s3://bucket/kalshi",
        "systemctl enable kalshi-collector.service kalshi-collector-daily.timer",
        f"record the checksum of {conf}/config.yaml",
        f"installed; NOT started: {conf}/config.yaml is still the example",
    ):
        assert expected in out, expected
    assert "systemctl restart" not in out  # never started on the example's events
    if subprocess.run(["id", "kalshi"], capture_output=True).returncode != 0:
        assert "useradd --system" in out
    help_text = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--help"], capture_output=True, text=True,
                               timeout=30)
    assert help_text.returncode == 0 and "--dry-run" in help_text.stdout
    bad = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--nope"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "unknown option --nope" in bad.stderr


def _as_installed(conf: Path, text: str) -> None:
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "config.yaml").write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (conf / ".config.yaml.as-installed").write_text(f"{digest}  -\n")  # sha256sum's form for stdin


def test_install_starts_the_service_only_once_the_config_was_edited(tmp_path: Path) -> None:
    conf = tmp_path / "etc"
    example = (DEPLOY.parent / "config.example.yaml").read_text()
    _as_installed(conf, example)
    unedited = dry_run(tmp_path, conf)
    assert unedited.returncode == 0, unedited.stderr
    assert f"keeping existing {conf}/config.yaml" in unedited.stdout
    assert "is still the example" in unedited.stdout and "systemctl restart" not in unedited.stdout
    (conf / "config.yaml").write_text(example.replace('"KXHIGHCHI-26FEB11"', '"KXHIGHNY-26MAR02"'))
    edited = dry_run(tmp_path, conf)
    assert edited.returncode == 0, edited.stderr
    assert "systemctl restart kalshi-collector.service" in edited.stdout
    assert "systemctl start kalshi-collector-daily.timer" in edited.stdout
    # a config installed before the checksum was kept: compared with the example itself
    (conf / ".config.yaml.as-installed").unlink()
    written_by_old_install = example.replace('  data_dir: "data"', '  data_dir: "/var/lib/kalshi-collector/data"')
    (conf / "config.yaml").write_text(written_by_old_install.replace(
        "  private_key_path: null           # PEM file from Kalshi; or env KALSHI_PRIVATE_KEY_PATH (chmod 600)",
        "  private_key_path: null"))
    assert "is still the example" in dry_run(tmp_path, conf).stdout
