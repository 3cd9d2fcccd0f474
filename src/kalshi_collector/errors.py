"""Errors a user can fix, shared by every command (kept out of ``cli`` so that running
``python -m kalshi_collector.cli`` — which loads that module a second time as ``__main__`` —
still catches the very class the commands raise)."""

from __future__ import annotations

from kalshi_collector.config import ConfigError

__all__ = ["UsageError", "ConfigError"]


class UsageError(Exception):
    """Bad input from the user that is not a config problem: message goes out as-is, exit 2."""
