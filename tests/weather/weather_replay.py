"""A local HTTP server (127.0.0.1, any free port) that replays the weather reference fixtures.

It plays IEM, AWC and Kalshi REST at once (the config points every base URL at it). Each route
matches a path and, optionally, some query parameters; the latest route added wins, so a test
can make one station misbehave (HTML error page, cut-off CSV, 500, a slow answer) while the
defaults keep serving the others. Every request is recorded with its arrival time and headers.

It runs on its own event loop in a thread, so both plain tests (which call ``asyncio.run``
through the command) and async tests can use it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from kalshi_collector.weather.http import AWC, IEM, HostPolicy, HttpOptions

# Climate day 2026-02-11 at Midway ends 2026-02-12T06:00Z; the fixtures were captured ~07:05Z.
FIXTURE_NOW = datetime(2026, 2, 12, 7, 30, tzinfo=UTC)

# Short timeouts and backoff so failure paths take milliseconds; no spacing between requests.
FAST = HttpOptions(
    timeout_seconds=0.4,
    attempts=2,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    backoff_jitter_seconds=0.01,
    policies={IEM: HostPolicy(0.0, 4), AWC: HostPolicy(0.0, 4)},
)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass
class _Route:
    path: str
    match: dict[str, str]
    replies: list[Reply]
    served: int = 0


class ReplayServer:
    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.requests: list[Recorded] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, path: str, *replies: Reply, **match: str) -> None:
        """Serve ``replies`` in turn (the last one repeats) for ``path`` with these query values."""
        self.routes.append(_Route(path, dict(match), list(replies)))

    def hits(self, path: str, **match: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path and all(r.query.get(k) == v for k, v in match.items())]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(Recorded(request.path, query, dict(request.headers), time.monotonic()))
        for route in reversed(self.routes):
            if route.path == request.path and all(query.get(k) == v for k, v in route.match.items()):
                reply = route.replies[min(route.served, len(route.replies) - 1)]
                route.served += 1
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                if reply.status == 204:
                    return web.Response(status=204, headers=reply.headers)
                return web.Response(status=reply.status, body=body, content_type=reply.content_type,
                                    headers=reply.headers)
        return web.Response(status=404, text=f"no replay route for {request.path_qs}")

    def start(self) -> ReplayServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.2, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="weather-replay", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("replay server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def serve_reference_fixtures(server: ReplayServer, weather: Path, kalshi: Path | None = None) -> None:
    """The recorded answers for Chicago Midway, climate day 2026-02-11 (fixtures/README.md)."""
    text = "text/plain"
    server.add("/cgi-bin/request/asos1min.py",
               Reply(body=(weather / "iem_asos1min_MDW_20260211_2030-2100Z_1min.csv").read_bytes(), content_type=text),
               station="MDW")
    server.add("/api/data/metar",
               Reply(body=(weather / "awc_metar_KMDW_hours7_date20260212T0600Z.json").read_bytes(),
                     content_type="application/json"),
               ids="KMDW")
    server.add("/cgi-bin/request/asos.py",
               Reply(body=(weather / "iem_asos_MDW_20260211T23-20260212T06Z.csv").read_bytes(), content_type=text),
               station="MDW")
    server.add("/cgi-bin/afos/retrieve.py",
               Reply(body=(weather / "iem_afos_retrieve_CLIMDW_limit2.txt").read_bytes(), content_type=text),
               pil="CLIMDW")
    server.add("/geojson/cli.py",
               Reply(body=(weather / "iem_geojson_cli_20260211_trimmed.geojson").read_bytes(),
                     content_type="application/json"),
               dt="2026-02-11")
    for pid, name in (("202602120635-KLOT-CDUS43-CLIMDW", "cli_CLIMDW_202602120635_final.txt"),
                      ("202602112235-KLOT-CDUS43-CLIMDW", "cli_CLIMDW_202602112235_prelim.txt")):
        server.add(f"/api/1/nwstext/{pid}", Reply(body=(weather / name).read_bytes(), content_type=text))
    if kalshi is not None:
        server.add("/trade-api/v2/events/KXHIGHCHI-26FEB11",
                   Reply(body=(kalshi / "rest_get_event_with_nested_markets.json").read_bytes(),
                         content_type="application/json"))


def serve_quiet_station(server: ReplayServer, weather: Path, iem_id: str, icao: str) -> None:
    """A station with nothing yet: header-only 1-minute CSV, AWC 204, no CLI in the archive."""
    empty = (weather / "iem_asos1min_MDW_empty.csv").read_text()
    server.add("/cgi-bin/request/asos1min.py", Reply(body=empty), station=iem_id)
    server.add("/api/data/metar", Reply(status=204), ids=icao)
    server.add("/cgi-bin/afos/retrieve.py", Reply(body=f"ERROR: Could not Find: CLI{iem_id}"), pil=f"CLI{iem_id}")


