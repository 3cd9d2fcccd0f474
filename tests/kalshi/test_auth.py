"""Request signing and the key-file errors a person can act on."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from kalshi_collector.config import ConfigError
from kalshi_collector.kalshi.auth import KalshiSigner, KeyFileError, load_private_key


def test_signature_covers_timestamp_method_and_path_without_query(rsa_key) -> None:
    signer = KalshiSigner("key-id", rsa_key, clock=lambda: 1770834581.512)
    h = signer.headers("get", "https://external-api.kalshi.com/trade-api/v2/markets?limit=5")
    assert h["KALSHI-ACCESS-KEY"] == "key-id"
    assert h["KALSHI-ACCESS-TIMESTAMP"] == "1770834581512"
    rsa_key.public_key().verify(
        base64.b64decode(h["KALSHI-ACCESS-SIGNATURE"]),
        b"1770834581512GET/trade-api/v2/markets",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    ws = signer.ws_headers("wss://external-api-ws.kalshi.com/trade-api/ws/v2")
    rsa_key.public_key().verify(
        base64.b64decode(ws["KALSHI-ACCESS-SIGNATURE"]),
        b"1770834581512GET/trade-api/ws/v2",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_repr_never_shows_the_key(rsa_key) -> None:
    assert "PRIVATE" not in repr(KalshiSigner("k", rsa_key)) and "RSA" not in repr(KalshiSigner("k", rsa_key))


def test_key_file_errors(tmp_path: Path, rsa_key) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        load_private_key(tmp_path / "missing.pem")
    with pytest.raises(KeyFileError, match="folder"):
        load_private_key(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    with pytest.raises(KeyFileError, match="not a PEM"):
        load_private_key(garbage)
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError, match="malformed"):
        load_private_key(broken)
    enc = tmp_path / "enc.pem"
    enc.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError, match="passphrase"):
        load_private_key(enc)
    assert issubclass(KeyFileError, ConfigError), "the CLI turns it into one line and exit 2"


def test_warns_when_key_readable_by_others(key_file: Path, caplog) -> None:
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        load_private_key(key_file)
    assert "chmod 600" in caplog.text
    key_file.chmod(0o600)
    caplog.clear()
    load_private_key(key_file)
    assert "readable" not in caplog.text
