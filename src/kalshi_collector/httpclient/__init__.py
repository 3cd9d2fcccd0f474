"""The one HTTP client stack: the Kalshi REST client and the weather fetchers both send through it.

* :mod:`.client` — one aiohttp session; one attempt = gate, send, read, count, ``on_body`` hook;
* :mod:`.ratelimit` — token bucket, requests in flight, shared cool-down after a 429;
* :mod:`.retry` — the retry policy (which failures, how long to wait, when to stop) and its log lines;
* :mod:`.errors` — transient vs permanent, one-line messages;
* :mod:`.stats` — the typed counters metrics read.
"""

from kalshi_collector.httpclient.client import BodyHook, HttpClient, Params, Reply
from kalshi_collector.httpclient.errors import (
    TRANSIENT_STATUS,
    BadBody,
    HttpError,
    StatusError,
    TransportError,
    is_transient_status,
    snippet,
)
from kalshi_collector.httpclient.ratelimit import CoolDown, RateGate
from kalshi_collector.httpclient.retry import Budget, RetryLog, RetryPolicy, call_with_retries
from kalshi_collector.httpclient.stats import HttpStats

__all__ = [
    "BadBody", "BodyHook", "Budget", "CoolDown", "HttpClient", "HttpError", "HttpStats", "Params", "RateGate", "Reply",
    "RetryLog", "RetryPolicy", "StatusError", "TRANSIENT_STATUS", "TransportError", "call_with_retries",
    "is_transient_status", "snippet",
]
