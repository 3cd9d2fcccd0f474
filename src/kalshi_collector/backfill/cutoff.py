"""Where Kalshi splits its two tiers (``GET /historical/cutoff``), asked at most once per run and
only when something needs routing: a run that finds nothing missing makes no request for it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import NamedTuple

from kalshi_collector.kalshi.rest import KalshiRestClient, NotFound

__all__ = ["Cutoff", "HistoricalCutoff", "epoch"]

log = logging.getLogger("kalshi_collector.backfill")


def epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


class Cutoff(NamedTuple):
    """Epoch seconds; None where the exchange has no split (an exchange without the endpoint)."""

    market_settled_ts: int | None
    """Markets settled before it (and their candles) are served only under ``/historical``."""
    trades_created_ts: int | None
    """Trades created before it are served only by ``/historical/trades``."""


class HistoricalCutoff:
    """The run's one view of the cutoff: concurrent callers share the single request."""

    def __init__(self, client: KalshiRestClient) -> None:
        self._client = client
        self._value: Cutoff | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Cutoff:
        async with self._lock:
            if self._value is None:
                try:
                    c = await self._client.historical_cutoff()
                    self._value = Cutoff(epoch(c.market_settled_ts), epoch(c.trades_created_ts))
                except NotFound:
                    self._value = Cutoff(None, None)
                log.debug("historical cutoff: markets %s, trades %s", *self._value)
            return self._value
