"""What every route group of the simulated REST API shares: errors that become 400/404 answers,
query parsing the way Kalshi validates it, cursors, and the model the handlers read."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from kalshi_collector.sim.model import ExchangeModel, Market

__all__ = ["BadRequest", "NotFound", "Handler", "Routes", "encode_json", "json_response", "q_int", "q_bool", "q_list",
           "encode_cursor", "decode_cursor"]

_encode = msgspec.json.Encoder(decimal_format="number").encode  # a Decimal (variance) is a bare number
encode_json = _encode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """A query parameter Kalshi would reject: becomes a 400 with an error body."""


class NotFound(Exception):
    """An unknown (or moved-to-historical) resource: becomes a 404."""


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(obj), status=status, content_type="application/json")


# -- query parsing ---------------------------------------------------------------------------------
def q_int(request: web.Request, name: str, default: int | None = None, *, required: bool = False,
          lo: int | None = None, hi: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise BadRequest(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadRequest(f"{name} must be between {lo} and {hi}")
    return value


def q_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise BadRequest(f"{name} must be true or false")


def q_list(request: web.Request, name: str) -> list[str] | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    return [t for t in (p.strip() for p in raw.split(",")) if t]


def encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(request: web.Request, kind: str) -> int | None:
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        got_kind, _, value = text.partition(":")
        if got_kind != kind:
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("invalid cursor") from None


class Routes:
    """A group of handlers over the exchange model; ``now_ms`` is the exchange's clock."""

    def __init__(self, model: ExchangeModel, now_ms: Callable[[], int],
                 vary: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None) -> None:
        self.model = model
        self.now_ms = now_ms
        self.vary = vary  # variance fault mode: market items of a listing -> as sent (sim.variance)

    def market_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Market items of a listing as sent: varied when the variance fault mode is on."""
        return self.vary(items) if self.vary is not None else items

    def live_market(self, ticker: str) -> Market:
        m = self.model.market_by_ticker.get(ticker)
        if m is None or self.model.is_historical(m):
            raise NotFound("market not found")
        return m

    def historical_market(self, ticker: str) -> Market:
        m = self.model.market_by_ticker.get(ticker)
        if m is None or not self.model.is_historical(m):
            raise NotFound("market not found")
        return m

    def page(self, items: list[Any], limit: int, kind: str, key: Callable[[Any], int]) -> tuple[list[Any], str]:
        page = items[:limit]
        cursor = encode_cursor(kind, key(page[-1])) if len(items) > limit else ""
        return page, cursor
