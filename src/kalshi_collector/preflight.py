"""Startup checks of ``collect`` and ``backfill``: within seconds, either it can work or one line says why.

In this order, each a :class:`~kalshi_collector.errors.StartupFailed` (one line, an exit code) when
it fails:

1. **the data folder is writable** — a probe file is written and removed through the storage
   filesystem layer (``storage/fs.py``; for an object store, in the bucket) and, for ``collect``
   with an object store, in the local journal folder. Read-only, missing permission, not a folder:
   exit 2 naming ``storage.data_dir``; full disk: exit 2 saying so.
2. **the exchange answers** — ``GET /exchange/status``. Unreachable (refused, timed out, 5xx, 429)
   is transient: one WARNING line at the first attempt, then retries with capped backoff until
   ``kalshi.startup_timeout_seconds``; nothing by then: exit 1. A 404 or 400 is a wrong
   ``kalshi.base_url``: exit 2 at once.
3. **the key is accepted** (when one is configured) — ``GET /portfolio/balance``, signed: 401/403
   is exit 2 naming ``kalshi.api_key_id`` or ``kalshi.private_key_path``.
4. for ``collect``, **the WebSocket upgrade** at ``kalshi.ws_url`` (signed): a 404 is a wrong
   ``kalshi.ws_url``, a 401/403 the key; a connection that fails is retried like step 2.

Nothing here keeps state; the checks cost a few requests and one WebSocket handshake.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

import msgspec

from kalshi_collector.config import Config
from kalshi_collector.errors import StartupFailed
from kalshi_collector.httpclient import Budget, RetryLog, RetryPolicy, TransportError, call_with_retries
from kalshi_collector.kalshi.auth import KalshiSigner
from kalshi_collector.kalshi.models import ExchangeStatus
from kalshi_collector.kalshi.rest import ApiError, GaveUp, KalshiRestClient
from kalshi_collector.kalshi.ws import HandshakeRefused, StreamClosed, WsConnection
from kalshi_collector.storage.fs import (
    LocalFS,
    StorageFS,
    default_journal_dir,
    is_object_store_url,
    open_data_dir,
)

__all__ = ["Preflight", "check_data_folder", "preflight"]

log = logging.getLogger(__name__)

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class _Balance(msgspec.Struct):
    """GetBalanceResponse (cents); only its arrival matters here."""

    balance: int = 0


@dataclass(frozen=True, slots=True)
class Preflight:
    """What to check: ``websocket`` for ``collect``; ``journal`` when the journal is local beside an object store."""

    websocket: bool = False
    journal: bool = False


def check_data_folder(data_dir: str, fs: StorageFS | None = None, root: PurePath | None = None) -> None:
    """Write and remove a probe file (a dot-file: never data); one line and exit 2 if that fails."""
    if fs is None or root is None:
        fs, root = open_data_dir(data_dir)
    _probe(fs, root, f"storage.data_dir = {data_dir!r}")


def _probe(fs: StorageFS, root: PurePath, what: str) -> None:
    probe = root / f".preflight-{os.getpid()}-{time.monotonic_ns()}"
    try:
        fs.write_bytes(probe, b"kalshi-collector preflight\n")
        fs.remove([probe])
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno in _FULL:
            raise StartupFailed(f"cannot write to {what}: the disk is full ({reason}); free space there") from None
        raise StartupFailed(
            f"cannot write to {what}: {reason} ({exc.filename or root}); make it a writable folder "
            "(permissions, read-only mount) or point storage.data_dir elsewhere"
        ) from None


def _policy(config: Config, time_left: float) -> RetryPolicy:
    """Retry until the startup time is used up: backoff from 1 s, capped at 15 s."""
    return RetryPolicy(attempts=1_000_000, initial_seconds=1.0, max_seconds=min(15.0, max(1.0, time_left / 4)),
                       jitter_seconds=0.5, total_seconds=time_left)


async def _check_rest(config: Config, time_left: float) -> None:
    async with KalshiRestClient.from_config(config, retry=_policy(config, time_left)) as client:
        try:
            status = await client.get("/exchange/status", None, into=ExchangeStatus)
            log.info("exchange answers at %s (exchange_active=%s, trading_active=%s)",
                     client.base_url, status.exchange_active, status.trading_active)
            if client.signer is not None:
                await client.get("/portfolio/balance", None, into=_Balance)
                log.info("API key %s accepted", client.signer.api_key_id)
        except GaveUp as exc:
            raise _unreachable(config, exc.operator_message()) from None
        except ApiError as exc:
            raise StartupFailed(exc.operator_message()) from None


async def _check_websocket(config: Config, time_left: float) -> None:
    url = config.kalshi.ws_url
    signer = KalshiSigner.from_files(*config.require_credentials("the live collector (WebSocket)"))

    async def attempt(budget: Budget) -> None:
        budget.start()
        try:
            conn = await WsConnection.connect(url, signer, connect_timeout=10.0)
        except HandshakeRefused as exc:
            raise StartupFailed(exc.operator_message()) from None
        except StreamClosed as exc:
            raise TransportError(str(exc), url) from None
        await conn.close()

    try:
        await call_with_retries(_policy(config, time_left), attempt, source="kalshi websocket", log=RetryLog(log))
    except TransportError as exc:
        raise _unreachable(config, f"no WebSocket connection ({exc}); check kalshi.ws_url and the network") from None
    log.info("WebSocket upgrade accepted at %s", url)


def _unreachable(config: Config, line: str) -> StartupFailed:
    limit = config.kalshi.startup_timeout_seconds
    return StartupFailed(f"nothing worked within {limit:g} s (kalshi.startup_timeout_seconds): {line}", 1)


async def preflight(config: Config, checks: Preflight = Preflight(),
                    clock: Callable[[], float] = time.monotonic) -> None:
    """Run the checks of the module docstring; raise :class:`StartupFailed` at the first that fails."""
    started = clock()
    data_dir = config.storage.data_dir
    check_data_folder(data_dir)
    if checks.journal and is_object_store_url(data_dir):
        journal = default_journal_dir(data_dir)
        _probe(LocalFS(), Path(journal), f"the journal folder {str(journal)!r} (local disk, beside the object store)")
    limit = config.kalshi.startup_timeout_seconds
    await _check_rest(config, limit)
    if checks.websocket:
        await _check_websocket(config, max(1.0, limit - (clock() - started)))
