"""Shared test fixtures: where the reference contracts live, and a throwaway RSA key."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shared reference contracts; contract tests skip visibly when a checkout has none."""
    if not (REFERENCE / "kalshi" / "API.md").exists():
        pytest.skip(f"reference contracts not found at {REFERENCE} (contract tests need ../shared/reference)")
    return REFERENCE


@pytest.fixture(scope="session")
def kalshi_fixtures(reference_dir: Path) -> Path:
    return reference_dir / "kalshi" / "fixtures"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    p = tmp_path / "key.pem"
    p.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    p.chmod(0o600)
    return p


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Tests that call ``cli.main()`` in-process re-point the root logger at pytest's captured
    (then closed) stderr; put the handlers back after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
