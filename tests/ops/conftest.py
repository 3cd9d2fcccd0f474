"""Session fixtures of the operations tests; what they run is in ``ops_helpers``."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import S3, Collected, Monitored, _collect, _monitored


@pytest.fixture(scope="session")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    tmp = tmp_path_factory.mktemp("monitored")
    notify_path = Path(tempfile.mkdtemp(prefix="kc-notify-")) / "notify.sock"  # short: AF_UNIX paths are <108 bytes
    saved = {k: os.environ.get(k) for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    os.environ.update(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="400000", WATCHDOG_PID=str(os.getpid()))
    try:
        return asyncio.run(_monitored(tmp, notify_path))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(notify_path.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Collected:
    return asyncio.run(_collect(tmp_path_factory.mktemp("collected")))


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    pytest.importorskip("s3fs", reason="object storage needs the [s3] extra")
    moto_server = pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (dev extra)")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3").create_bucket(Bucket="kc-ops")
        yield S3(endpoint, "kc-ops")
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
