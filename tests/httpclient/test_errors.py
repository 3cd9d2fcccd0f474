"""Transient vs permanent, and the one line that names the setting to fix."""

from __future__ import annotations

import pytest
from aiohttp import web

from kalshi_collector.httpclient import StatusError, TransportError, is_transient_status
from kalshi_collector.kalshi.rest import ApiError, GaveUp, KalshiRestClient, NotFound, Unauthorized
from kalshi_collector.kalshi.ws import HandshakeRefused


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses(status: int) -> None:
    assert is_transient_status(status) and StatusError(status, "http://x", "").transient


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_permanent_statuses(status: int) -> None:
    assert not is_transient_status(status) and not StatusError(status, "http://x", "").transient


@pytest.mark.parametrize(
    ("detail", "setting"),
    [
        ("unknown API key", "check kalshi.api_key_id: the exchange does not know this key id"),
        ("bad signature", "check kalshi.private_key_path"),
        ("authentication required", "set kalshi.api_key_id and kalshi.private_key_path"),
        ("authentication_error", "check kalshi.api_key_id and kalshi.private_key_path"),
    ],
)
def test_a_refused_key_names_the_setting(detail: str, setting: str) -> None:
    line = Unauthorized(401, "/portfolio/balance", detail).operator_message()
    assert line.startswith(f"the exchange refused the API key (HTTP 401: {detail}); ") and setting in line
    assert "\n" not in line


def test_other_refusals_name_the_base_url() -> None:
    assert "check kalshi.base_url" in NotFound(404, "/exchange/status", "not found").operator_message()
    assert "check that kalshi.base_url" in ApiError(400, "/exchange/status", "bad").operator_message()
    gave_up = GaveUp("/exchange/status", 3, TransportError("connection failed: refused", "http://h/x"))
    assert gave_up.operator_message() == (
        "the exchange did not answer /exchange/status (3 attempts, last: connection failed: refused (http://h/x)); "
        "check kalshi.base_url and the network"
    )


def test_a_404_websocket_upgrade_is_the_ws_url_not_the_key() -> None:
    line = HandshakeRefused(404, "Not Found").operator_message()
    assert "check kalshi.ws_url" in line and "api_key_id" not in line
    assert "kalshi.api_key_id" in HandshakeRefused(401, "Unauthorized").operator_message()


async def test_the_client_raises_each_class_at_once(serve) -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        status = int(request.path.rsplit("/", 1)[-1])
        return web.json_response({"error": {"code": "x", "message": f"status {status}"}}, status=status)

    base = await serve(handler)
    async with KalshiRestClient(base, requests_per_second=0, max_backoff=0.01, max_retries=2) as c:
        for status, cls in ((401, Unauthorized), (403, Unauthorized), (404, NotFound), (400, ApiError)):
            calls = 0
            with pytest.raises(cls, match=f"HTTP {status} on /{status}: status {status}"):
                await c.get(f"/{status}", None, into=dict)
            assert calls == 1
        calls = 0
        with pytest.raises(GaveUp, match="gave up after 3 attempts"):
            await c.get("/503", None, into=dict)
        assert calls == 3
