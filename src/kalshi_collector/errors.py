"""Errors a user can fix, shared by every command (kept out of ``cli`` so that running
``python -m kalshi_collector.cli`` — which loads that module a second time as ``__main__`` —
still catches the very class the commands raise)."""

from __future__ import annotations

from kalshi_collector.config import ConfigError

__all__ = ["UsageError", "ConfigError", "StartupFailed"]


class UsageError(Exception):
    """Bad input from the user that is not a config problem: message goes out as-is, exit 2."""


class StartupFailed(Exception):
    """A startup check failed (:mod:`kalshi_collector.preflight`): one line naming what to fix.

    ``exit_code`` 2: a setting or the machine needs fixing (a refused key, a wrong URL, a folder
    that cannot be written); 1: the exchange did not answer within the startup time (it may
    come back: a supervisor may restart the command).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
