"""The typed record of what one HTTP client did; metrics and progress lines read it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["HttpStats"]


@dataclass(slots=True)
class HttpStats:
    """Counts since the client was built. ``requests`` includes retries."""

    requests: int = 0
    retries: int = 0
    http_429: int = 0
    http_4xx: int = 0  # other 4xx
    http_5xx: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    bad_bodies: int = 0  # a 200 whose body could not be read

    def count_status(self, status: int) -> None:
        """Count an answer by its status class (2xx and 3xx are not errors and not counted here)."""
        if status == 429:
            self.http_429 += 1
        elif status >= 500:
            self.http_5xx += 1
        elif status >= 400:
            self.http_4xx += 1

    def count_transport(self, kind: str) -> None:
        if kind == "timeout":
            self.timeouts += 1
        else:
            self.connection_errors += 1

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @property
    def errors(self) -> int:
        """Every failed attempt, whatever its kind."""
        return self.http_429 + self.http_4xx + self.http_5xx + self.timeouts + self.connection_errors + self.bad_bodies
