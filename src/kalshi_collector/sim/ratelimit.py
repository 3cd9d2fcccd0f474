"""Kalshi's REST rate limit: a token bucket per API key (per client address when unsigned).

Kalshi bills every read request 10 tokens against a bucket refilled at the tier's tokens/s and
holding 2 s of budget (Basic tier, API.md section 8). An empty bucket answers 429 with no
``Retry-After`` header and no penalty. Pure: time comes from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TokenBucket", "RateLimiter", "REQUEST_COST"]

REQUEST_COST = 10


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0

    def take(self, cost: float, now: float) -> bool:
        """Spend ``cost`` tokens if available at time ``now`` (seconds); False = throttled."""
        if self.tokens < 0:
            self.tokens, self.updated = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class RateLimiter:
    """``requests_per_s`` default-cost requests per second per caller, bursting to 2 s worth."""

    def __init__(self, requests_per_s: float, burst_seconds: float = 2.0) -> None:
        if requests_per_s <= 0:
            raise ValueError("rest_rate_limit must be positive")
        self.rate = requests_per_s * REQUEST_COST
        self.capacity = self.rate * burst_seconds
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, caller: str, now: float, cost: float = REQUEST_COST) -> bool:
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = TokenBucket(self.rate, self.capacity)
        return bucket.take(cost, now)
