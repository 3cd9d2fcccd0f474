"""The container: what can be checked without a Docker engine (there is none on the test machine).

The build context (what ``.dockerignore`` keeps out, that every ``COPY`` source exists), the
Dockerfile's promises (slim base, non-root, healthcheck), the entrypoint's logic run for real with
bash (key handling, command dispatch, the daily schedule, the health check) and the compose file.
"""

from __future__ import annotations

import base64
import fnmatch
import http.server
import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
SECRET_PART = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def ignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")]
    parts = path.split("/")
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(parts[0], p) for p in patterns)


def test_the_build_context_leaves_out_the_venv_data_and_git() -> None:
    for heavy in (".venv", "data", ".git", "demo-data", "tests", ".env", "kalshi.pem", "config.yaml"):
        assert ignored(heavy), heavy


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    copies = [args for word, args in dockerfile() if word == "COPY"]
    assert copies
    for args in copies:
        words = [w for w in args.split() if not w.startswith("--")]
        for source in words[:-1]:
            assert (ROOT / source).exists(), source
            assert not ignored(source), f"{source} is left out of the build context by .dockerignore"
    assert os.access(ENTRYPOINT, os.X_OK) and os.access(ROOT / "deploy" / "kalshi-collector-daily", os.X_OK)


def test_the_image_is_slim_unprivileged_core_only_and_checks_its_health() -> None:
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    [install] = [args for word, args in steps if word == "RUN" and "pip install" in args]
    assert "dev" not in install and '"/build${EXTRAS:+[$EXTRAS]}"' in install  # core, plus extras only if asked
    assert ("ARG", 'EXTRAS=""') in steps
    [health] = [args for word, args in steps if word == "HEALTHCHECK"]
    assert health.endswith('CMD ["docker-entrypoint", "healthcheck"]')
    assert ("ENTRYPOINT", '["docker-entrypoint"]') in steps and ("CMD", '["collect"]') in steps
    assert ("VOLUME", '["/app/data"]') in steps


# ------------------------------------------------------------------------------ the entrypoint


@pytest.fixture()
def fake_bin(tmp_path: Path) -> Path:
    """A stand-in for kalshi-collector that prints what it was given (never the key itself)."""
    fake = tmp_path / "kalshi-collector"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'echo "args: $*"\n'
        'echo "key path: ${KALSHI_PRIVATE_KEY_PATH:-}"\n'
        'echo "b64 still set: ${KALSHI_PRIVATE_KEY_B64:+yes}"\n'
        'if [ -n "${KALSHI_PRIVATE_KEY_PATH:-}" ]; then stat -c "mode: %a" "$KALSHI_PRIVATE_KEY_PATH"; '
        'head -1 "$KALSHI_PRIVATE_KEY_PATH" | cut -c1-11; fi\n'
    )
    fake.chmod(0o755)
    return fake


def entrypoint(tmp_path: Path, fake_bin: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "KC_BIN": str(fake_bin), "KALSHI_KEY_DIR": str(tmp_path / "keys"),
            "COLLECTOR_CONFIG": "/app/config.yaml"}
    return subprocess.run(["bash", str(ENTRYPOINT), *args], capture_output=True, text=True, timeout=30,
                          env={**base, **env})


def test_a_base64_key_becomes_a_0600_file_and_leaves_the_environment(tmp_path: Path, fake_bin: Path) -> None:
    b64 = base64.b64encode(PEM.encode()).decode()
    result = entrypoint(tmp_path, fake_bin, "collect", KALSHI_PRIVATE_KEY_B64=b64)
    assert result.returncode == 0, result.stderr
    key = tmp_path / "keys" / "kalshi.pem"
    assert result.stdout.splitlines() == ["args: collect --config /app/config.yaml", f"key path: {key}",
                                          "b64 still set: ", "mode: 600", "-----BEGIN "]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_text() == PEM
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    for output in (result.stdout, result.stderr):
        assert SECRET_PART not in output and b64 not in output


def test_a_mounted_key_file_passes_through(tmp_path: Path, fake_bin: Path) -> None:
    mounted = tmp_path / "kalshi.pem"
    mounted.write_text(PEM)
    mounted.chmod(0o400)
    result = entrypoint(tmp_path, fake_bin, KALSHI_PRIVATE_KEY_PATH=str(mounted))  # no arguments: collect
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["args: collect --config /app/config.yaml", f"key path: {mounted}"]
    assert not (tmp_path / "keys").exists() and SECRET_PART not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "entrypoint: no Kalshi key: set KALSHI_PRIVATE_KEY_B64"),
        ({"KALSHI_PRIVATE_KEY_PATH": "/nowhere/kalshi.pem"},
         "entrypoint: KALSHI_PRIVATE_KEY_PATH=/nowhere/kalshi.pem is not a readable file"),
        ({"KALSHI_PRIVATE_KEY_B64": "%%% not base64 " + SECRET_PART},
         "entrypoint: KALSHI_PRIVATE_KEY_B64 is not valid base64"),
        ({"KALSHI_PRIVATE_KEY_B64": base64.b64encode(b"just some text " + SECRET_PART.encode()).decode()},
         "entrypoint: KALSHI_PRIVATE_KEY_B64 does not decode to a PEM key"),
    ],
)
def test_a_missing_or_bad_key_is_one_clear_line_and_a_non_zero_exit(
    tmp_path: Path, fake_bin: Path, env: dict[str, str], expected: str
) -> None:
    result = entrypoint(tmp_path, fake_bin, "collect", **env)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("entrypoint: "), result.stderr
    assert expected in result.stderr
    assert SECRET_PART not in result.stderr and not list((tmp_path / "keys").glob("*"))


def test_other_commands_get_the_config_and_need_no_key(tmp_path: Path, fake_bin: Path) -> None:
    weather = entrypoint(tmp_path, fake_bin, "weather", "--date", "2026-02-11")
    assert weather.returncode == 0 and weather.stdout.splitlines()[0] == \
        "args: weather --config /app/config.yaml --date 2026-02-11"
    own = entrypoint(tmp_path, fake_bin, "status", "--config", "/etc/other.yaml")
    assert own.stdout.splitlines()[0] == "args: status --config /etc/other.yaml"
    shell = entrypoint(tmp_path, fake_bin, "echo", "plain command")
    assert shell.returncode == 0 and shell.stdout == "plain command\n"


def test_daily_runs_the_daily_script_with_the_config(tmp_path: Path, fake_bin: Path) -> None:
    daily = ROOT / "deploy" / "kalshi-collector-daily"
    result = entrypoint(tmp_path, fake_bin, "daily", "2026-02-11", KC_DAILY_BIN=str(daily))
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("args:")] == [
        "args: weather --config /app/config.yaml",
        "args: backfill --config /app/config.yaml --start 2026-02-11 --end 2026-02-11",
    ]


def test_the_daily_schedule_is_the_next_utc_time(tmp_path: Path, fake_bin: Path) -> None:
    result = entrypoint(tmp_path, fake_bin, "next-daily-run", "10:30")
    assert result.returncode == 0, result.stderr
    m = re.fullmatch(r"next daily run: (\d{4}-\d\d-\d\d)T10:30:00Z \(in (\d+) s\)\n", result.stdout)
    assert m and 0 < int(m[2]) <= 86_400
    bad = entrypoint(tmp_path, fake_bin, "daily-at", "25:00")
    assert bad.returncode == 2 and "expected a UTC time as HH:MM" in bad.stderr


@pytest.fixture()
def health_server() -> Iterator[tuple[int, list[int]]]:
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(status[0] if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], status
    finally:
        server.shutdown()
        server.server_close()


def test_the_healthcheck_follows_healthz(tmp_path: Path, fake_bin: Path, health_server: tuple[int, list[int]]) -> None:
    port, status = health_server
    assert entrypoint(tmp_path, fake_bin, "healthcheck", METRICS_PORT=str(port)).returncode == 0
    status[0] = 503
    unhealthy = entrypoint(tmp_path, fake_bin, "healthcheck", METRICS_PORT=str(port))
    assert unhealthy.returncode == 1 and "503" in unhealthy.stderr


# ------------------------------------------------------------------------------ compose


def test_compose_runs_the_collector_and_the_daily_jobs_from_this_build() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"collector", "daily"}
    for service in services.values():
        assert service["build"] == "." and (ROOT / "Dockerfile").is_file()
        assert "./config.yaml:/app/config.yaml:ro" in service["volumes"]
        assert any(v.endswith(":/app/data") for v in service["volumes"])
        assert service["environment"]["COLLECTOR_CONFIG"] == "/app/config.yaml"
    assert services["collector"]["command"] == ["collect"]
    assert services["daily"]["command"] == ["daily-at", "10:30"] and services["daily"]["healthcheck"]["disable"]
    # the same time as the systemd timer of a VM install
    assert "OnCalendar=*-*-* 10:30:00 UTC" in (ROOT / "deploy" / "kalshi-collector-daily.timer").read_text()
    # every command compose gives is one the entrypoint knows
    text = ENTRYPOINT.read_text()
    for service in services.values():
        assert f"    {service['command'][0]})" in text or f" {service['command'][0]} " in text
    assert (ROOT / ".env.example").is_file() and "KALSHI_PRIVATE_KEY_B64" in (ROOT / ".env.example").read_text()
