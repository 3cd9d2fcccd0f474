"""Driving the frame handler without a network or an event loop: a row sink, a settable clock, and
a handler wired to a resync whose snapshot requests are kept as the exact command bytes."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalshi_collector.book import BookStore
from kalshi_collector.kalshi.messages import TickerBody
from kalshi_collector.live.counters import Counters
from kalshi_collector.live.frames import FrameHandler
from kalshi_collector.live.resync import Resync

M = "KXHIGHCHI-26FEB11-B34.5"  # the market of the reference fixtures


class Rows:
    """A row sink that keeps rows per table, as ``LiveStore`` would buffer them."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple]] = defaultdict(list)

    def append(self, table: str, row: Sequence[Any]) -> None:
        self.tables[table].append(tuple(row))

    def extend(self, table: str, rows: list[Sequence[Any]]) -> None:
        self.tables[table].extend(tuple(r) for r in rows)

    def actions(self) -> list[str]:
        return [row[5] for row in self.tables["book_events"]]


class Clock:
    def __init__(self, now: float = 1_770_834_581.6) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Driven:
    handler: FrameHandler
    books: BookStore
    resync: Resync
    rows: Rows
    counters: Counters
    clock: Clock
    commands: list[dict] = field(default_factory=list)  # what the resync asked to send, decoded
    terminal: list[bool] = field(default_factory=list)

    def feed(self, recv_ts: float, frame: str | bytes | dict) -> None:
        """One frame at ``recv_ts``; the clock reads the frame's receive time, as in the daemon."""
        self.clock.now = recv_ts
        self.handler.on_frame(recv_ts, json.dumps(frame) if isinstance(frame, dict) else frame)


def _no_ticker(recv_ts: float, body: TickerBody) -> None:
    return None


def driven(*, retry_seconds: float = 10.0, on_ticker: Callable[[float, TickerBody], None] = _no_ticker) -> Driven:
    books, rows, counters, clock = BookStore(), Rows(), Counters(), Clock()
    out: Driven

    def request(sid: int, tickers: list[str]) -> bool:
        out.commands.append(json.loads(out.handler.conn.update_markets(sid, "get_snapshot", tickers)))
        return True

    resync = Resync(books, rows, counters, request=request, retry_seconds=retry_seconds, clock=clock)
    handler = FrameHandler(books, resync, rows, counters, clock=clock, on_ticker=on_ticker,
                           on_terminal_error=lambda: out.terminal.append(True))
    out = Driven(handler, books, resync, rows, counters, clock)
    return out


def fixture(fixtures: Path, name: str, **changes: Any) -> dict:
    """A reference fixture frame as a dict, with top-level fields changed (e.g. ``seq``)."""
    frame = json.loads((fixtures / f"{name}.json").read_text())
    frame.update(changes)
    return frame
