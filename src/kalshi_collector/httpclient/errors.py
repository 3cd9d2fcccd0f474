"""What can go wrong with one HTTP request, in two classes an operator and a retry loop both need.

* **transient** — another attempt may work: no connection (refused, reset, DNS), no answer in time,
  a body cut off, 429 (too fast), 408/425, any 5xx. The retry policy tries again with backoff.
* **permanent** — asking again gets the same answer: 400 (a request we built wrong), 401/403 (the key
  is unknown or the signature does not verify), 404 (a wrong path or missing object), other 4xx,
  a body that is not what the endpoint sends. Raised at once, never retried.

The status table :data:`TRANSIENT_STATUS` is the one place that decides it for a status code. Every
error's ``str()`` is one line naming what failed and where.
"""

from __future__ import annotations

import re

__all__ = [
    "TRANSIENT_STATUS",
    "HttpError",
    "TransportError",
    "StatusError",
    "BadBody",
    "is_transient_status",
    "snippet",
]

_TRANSIENT_4XX = frozenset({408, 425, 429})
TRANSIENT_STATUS = _TRANSIENT_4XX | frozenset(range(500, 600))


def is_transient_status(status: int) -> bool:
    """429, 408, 425 and every 5xx heal by themselves; other statuses do not."""
    return status in TRANSIENT_STATUS


class HttpError(Exception):
    """A request that did not give usable data; ``str()`` is one line a person can act on."""

    transient = False

    def __init__(self, message: str, url: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.message = message
        self.url = url
        self.status = status


class TransportError(HttpError):
    """Refused, reset or dropped connection, no answer within the time limit, body cut off."""

    transient = True

    def __init__(self, message: str, url: str | None = None, *, kind: str = "connection") -> None:
        super().__init__(message, url)
        self.kind = kind  # "timeout" or "connection": which stats counter it is


class StatusError(HttpError):
    """An answer with a status outside the ones the caller accepts."""

    def __init__(self, status: int, url: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}" + (f": {detail}" if detail else ""), url, status)
        self.status: int = status
        self.detail = detail
        self.retry_after = retry_after
        self.transient = is_transient_status(status)


class BadBody(HttpError):
    """A success status whose body is not what the endpoint sends (HTML page, cut-off JSON/CSV).

    ``transient`` is set by the caller: a cut-off body is a transport accident worth another try,
    an HTML page from a proxy is not.
    """

    def __init__(self, message: str, url: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message, url)
        self.transient = transient


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def snippet(body: bytes, limit: int = 160) -> str:
    """A short, single-line description of an error body (the <title> of an HTML page)."""
    m = _TITLE.search(body[:4096])
    raw = m.group(1) if m else body[:limit]
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    return text[:limit]
