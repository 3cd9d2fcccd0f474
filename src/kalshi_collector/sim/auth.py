"""API keys for the simulator: generate/register RSA keys and verify Kalshi request signatures.

Kalshi signs ``timestamp_ms + METHOD + path`` (path from the root, without the query) with
RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32 (API.md section 2). The simulator verifies
exactly that, with the salt length fixed at 32 so a client using another salt length fails
here as it might in production.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "KeyRegistry",
    "AuthResult",
    "generate_key_pair",
    "load_public_key",
    "sign",
    "HEADER_KEY",
    "HEADER_TS",
    "HEADER_SIG",
]

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TS = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIG = "KALSHI-ACCESS-SIGNATURE"
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def generate_key_pair(state_dir: Path) -> tuple[str, Path, rsa.RSAPublicKey]:
    """A fresh 2048-bit RSA key: private PEM written to ``state_dir`` (0600), plus a UUID key id."""
    state_dir.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = str(uuid.uuid4())
    path = state_dir / f"sim-{key_id}.pem"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o600)
    return key_id, path, key.public_key()


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """A PEM public key, or the public half of a PEM private key (both are accepted)."""
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a PEM RSA key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: only RSA keys are supported by the simulator")
    return key


def sign(private_key: rsa.RSAPrivateKey, ts_ms: int, method: str, path: str) -> str:
    """The ``KALSHI-ACCESS-SIGNATURE`` value for a request (tests use it as a reference client)."""
    message = f"{ts_ms}{method.upper()}{path}".encode()
    return base64.b64encode(private_key.sign(message, _PSS, hashes.SHA256())).decode()


@dataclass(frozen=True)
class AuthResult:
    """``signed`` = the three headers were present; ``ok`` = they verify. ``key_id`` when signed."""

    signed: bool
    ok: bool
    key_id: str | None = None
    reason: str = ""


class KeyRegistry:
    """Registered public keys by id, and the check of one request's headers."""

    def __init__(self, max_skew_ms: int | None = 300_000) -> None:
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self.max_skew_ms = max_skew_ms

    def register(self, key_id: str, public_key: rsa.RSAPublicKey) -> None:
        self._keys[key_id] = public_key

    def check(self, headers: dict[str, str] | object, method: str, path: str, now_ms: int) -> AuthResult:
        get = headers.get  # type: ignore[attr-defined]
        key_id, ts, sig = get(HEADER_KEY), get(HEADER_TS), get(HEADER_SIG)
        if not key_id and not ts and not sig:
            return AuthResult(False, False, reason="no signature headers")
        if not (key_id and ts and sig):
            return AuthResult(True, False, key_id, "incomplete signature headers")
        public = self._keys.get(key_id)
        if public is None:
            return AuthResult(True, False, key_id, "unknown API key")
        if not ts.isdigit():
            return AuthResult(True, False, key_id, "timestamp must be Unix milliseconds")
        if self.max_skew_ms is not None and abs(int(ts) - now_ms) > self.max_skew_ms:
            return AuthResult(True, False, key_id, "timestamp outside the accepted window")
        try:
            raw = base64.b64decode(sig, validate=True)
            public.verify(raw, f"{ts}{method.upper()}{path}".encode(), _PSS, hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            return AuthResult(True, False, key_id, "bad signature")
        return AuthResult(True, True, key_id)
