"""Kalshi request signing (API.md section 2).

Every REST request and the WebSocket upgrade carry three headers: the key id, the current time in
milliseconds, and an RSA-PSS signature (SHA-256, MGF1-SHA-256, salt = digest length) over
``timestamp_ms + METHOD + path`` where ``path`` starts at the root (``/trade-api/v2/...``) and has
no query string.

Secrets discipline: the private key, the signature and the assembled headers are never logged,
never put in an exception message and never included in ``repr``.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalshi_collector.config import ConfigError

__all__ = ["KalshiSigner", "KeyFileError", "load_private_key", "WS_PATH"]

log = logging.getLogger(__name__)

WS_PATH = "/trade-api/ws/v2"
HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TS = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIG = "KALSHI-ACCESS-SIGNATURE"


class KeyFileError(ConfigError):
    """The private-key file is missing, unreadable, malformed or passphrase-protected."""


PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    """Load an unencrypted RSA (PKCS#1 or PKCS#8) or Ed25519 PEM key, with errors a person can act on."""
    p = Path(path).expanduser()
    if not p.exists():
        raise KeyFileError(
            f"private key file not found: {p} (set kalshi.private_key_path or KALSHI_PRIVATE_KEY_PATH "
            "to the .pem file downloaded when the API key was created)"
        )
    if p.is_dir():
        raise KeyFileError(f"private key path is a folder, not a file: {p}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"private key file {p} cannot be read: {exc.strerror or exc}") from None
    try:
        mode = p.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning(
                "private key file %s is readable by group or others (mode %o); run: chmod 600 %s",
                p, stat.S_IMODE(mode), p,
            )
    except OSError:
        pass
    if b"ENCRYPTED" in data:
        raise KeyFileError(
            f"private key file {p} is passphrase-protected; Kalshi keys are used unencrypted: "
            f"openssl pkey -in {p} -out key-plain.pem (then chmod 600 key-plain.pem)"
        )
    if b"-----BEGIN" not in data:
        raise KeyFileError(f"private key file {p} is not a PEM file (expected a '-----BEGIN ... PRIVATE KEY-----' block)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"private key file {p} is passphrase-protected; decrypt it with openssl first") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"private key file {p} is malformed or not a private key (a PEM RSA key is expected)") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"private key file {p} holds a {type(key).__name__}; Kalshi accepts RSA or Ed25519 keys")
    return key


class KalshiSigner:
    """Produces Kalshi's auth headers for a request. Holds the key; never shows it."""

    def __init__(self, api_key_id: str, private_key: PrivateKey, clock: Callable[[], float] = time.time) -> None:
        self.api_key_id = api_key_id
        self._key = private_key
        self._clock = clock

    @classmethod
    def from_files(cls, api_key_id: str, private_key_path: str | os.PathLike[str]) -> KalshiSigner:
        return cls(api_key_id, load_private_key(private_key_path))

    def __repr__(self) -> str:  # never reveal the key
        return f"KalshiSigner(api_key_id={self.api_key_id!r})"

    def sign(self, message: bytes) -> str:
        if isinstance(self._key, rsa.RSAPrivateKey):
            sig = self._key.sign(
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                hashes.SHA256(),
            )
        else:
            sig = self._key.sign(message)
        return base64.b64encode(sig).decode("ascii")

    def headers(self, method: str, url_or_path: str) -> dict[str, str]:
        """Headers for ``method`` on ``url_or_path``; only the path (no host, no query) is signed."""
        path = urlparse(url_or_path).path if "://" in url_or_path else url_or_path.split("?", 1)[0]
        ts = str(int(self._clock() * 1000))
        return {
            HEADER_KEY: self.api_key_id,
            HEADER_TS: ts,
            HEADER_SIG: self.sign(f"{ts}{method.upper()}{path}".encode()),
        }

    def ws_headers(self, ws_url: str) -> dict[str, str]:
        """Handshake headers for the WebSocket: the signed path is the URL's own path."""
        path = urlparse(ws_url).path or WS_PATH
        return self.headers("GET", path)
