"""Deterministic ids and hashes: the same seed names every market and trade the same way.

Python's ``hash()`` is salted per process and ``uuid4()`` is random, so neither can give a
simulator whose second run sends the same bytes as its first; these small mixers can.
"""

from __future__ import annotations

__all__ = ["mix64", "uuid_from", "hash_text"]


def mix64(x: int) -> int:
    """splitmix64 finaliser: cheap, well-spread 64-bit hash for deterministic ids."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def uuid_from(a: int, b: int) -> str:
    """A version-4-shaped UUID string from two 64-bit numbers (deterministic, not random)."""
    hi, lo = mix64(a), mix64(b ^ 0x5DEECE66D)
    hi = (hi & ~0xF000) | 0x4000
    lo = (lo & 0x3FFFFFFFFFFFFFFF) | 0x8000000000000000
    h = f"{hi:016x}{lo:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hash_text(text: str) -> int:
    """Stable 64-bit hash of a string (``hash()`` is salted per process)."""
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h
