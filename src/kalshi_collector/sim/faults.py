"""Deterministic fault injection: what goes wrong, on which message, decided by counters.

A :class:`FaultPlan` says how often each fault happens (every N eligible messages or requests);
:class:`ConnFaults` turns it into per-message decisions for one WebSocket connection and
:class:`RestFaults` for REST requests. One-shot faults (``sim.inject``) wait in
:class:`OneShots` until the next eligible message or request takes them. Faults never change the
exchange's state: a skipped delta was still applied to the true book.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "FaultPlan",
    "ConnFaults",
    "RestFaults",
    "OneShots",
    "WS_KINDS",
    "REST_KINDS",
    "GAP",
    "DUPLICATE",
    "REORDER",
    "MALFORMED",
    "DROP",
    "STALL",
]

WS_KINDS = ("gap", "duplicate", "reorder", "malformed", "stall", "drop")
REST_KINDS = ("429", "5xx", "slow", "truncate")

GAP, DUPLICATE, REORDER, MALFORMED, DROP, STALL = 1, 2, 4, 8, 16, 32
_FLAG_OF = {"gap": GAP, "duplicate": DUPLICATE, "reorder": REORDER, "malformed": MALFORMED, "drop": DROP,
            "stall": STALL}


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault happens; ``None`` = never (the default for all of them).

    WebSocket counts are per connection and count data messages (not command replies):
    ``drop_every`` closes the socket abruptly after every N-th data message (so every connection
    is dropped after N); ``gap_every`` skips sending every N-th orderbook_delta but consumes its
    seq; ``duplicate_every`` sends every N-th sequenced message twice; ``reorder_every`` swaps
    every N-th sequenced message with the next one on the same sid; ``malformed_every`` sends a
    broken frame (not JSON, truncated JSON, or valid JSON of an unknown type) before every N-th
    data message; ``stall_after`` stops all sending (pings included) for ``stall_seconds`` after
    N data messages, without closing. REST counts are over all requests. ``variance_every`` sends
    every N-th data message (per connection) and every N-th market item of a REST listing in one of
    the real-world payload variants of :mod:`kalshi_collector.sim.variance`.
    """

    drop_every: int | None = None
    gap_every: int | None = None
    duplicate_every: int | None = None
    reorder_every: int | None = None
    malformed_every: int | None = None
    stall_after: int | None = None
    stall_seconds: float = 5.0
    rest_429_every: int | None = None
    rest_429_burst: int = 1
    rest_5xx_every: int | None = None
    rest_slow_every: int | None = None
    rest_slow_seconds: float = 2.0
    rest_truncate_every: int | None = None
    variance_every: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value <= 0:
                raise ValueError(f"fault setting {f.name} must be positive, got {value}")

    @property
    def ws_active(self) -> bool:
        return any(v is not None for v in (self.drop_every, self.gap_every, self.duplicate_every,
                                           self.reorder_every, self.malformed_every, self.stall_after))

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """``"gap_every=500,drop_every=5000,stall_seconds=2.5"`` -> FaultPlan (CLI form)."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ValueError(f"unknown fault setting {part!r}; known: {', '.join(known)}")
            try:
                values[name] = float(raw) if name.endswith("_seconds") else int(raw)
            except ValueError as exc:
                raise ValueError(f"fault setting {name} needs a number, got {raw!r}") from exc
        return cls(**values)


class OneShots:
    """Faults requested with ``sim.inject``: each is used once, by the first eligible taker."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, dict[str, Any]]] = []

    def add(self, kind: str, options: dict[str, Any]) -> None:
        self.pending.append((kind, options))

    def take(self, kinds: tuple[str, ...], conn: int | None = None) -> tuple[str, dict[str, Any]] | None:
        for i, (kind, options) in enumerate(self.pending):
            if kind in kinds and options.get("conn") in (None, conn):
                del self.pending[i]
                return kind, options
        return None


class ConnFaults:
    """Per-connection fault decisions; ``decide`` is called once per outgoing data message."""

    def __init__(self, plan: FaultPlan, conn: int, seed: int, oneshots: OneShots) -> None:
        self.plan = plan
        self.conn = conn
        self.oneshots = oneshots
        self.rng = random.Random(seed * 1_000_003 + conn)
        self.data = 0
        self.deltas = 0
        self.sequenced = 0
        self.stall_seconds = plan.stall_seconds
        self._malformed_turn = 0

    @property
    def active(self) -> bool:
        return self.plan.ws_active or bool(self.oneshots.pending)

    def decide(self, is_delta: bool, has_seq: bool) -> int:
        """Bit flags of the faults to apply to this message (0 = send it normally)."""
        p = self.plan
        self.data += 1
        flags = 0
        if is_delta:
            self.deltas += 1
            if p.gap_every and self.deltas % p.gap_every == 0:
                flags |= GAP
        if has_seq:
            self.sequenced += 1
            if p.duplicate_every and self.sequenced % p.duplicate_every == 0:
                flags |= DUPLICATE
            if p.reorder_every and self.sequenced % p.reorder_every == 0:
                flags |= REORDER
        if p.malformed_every and self.data % p.malformed_every == 0:
            flags |= MALFORMED
        if p.stall_after and self.data == p.stall_after:
            flags |= STALL
        if p.drop_every and self.data % p.drop_every == 0:
            flags |= DROP
        if self.oneshots.pending:
            eligible = ["malformed", "stall", "drop"]
            if is_delta:
                eligible.append("gap")
            if has_seq:
                eligible += ["duplicate", "reorder"]
            taken = self.oneshots.take(tuple(eligible), self.conn)
            if taken is not None:
                kind, options = taken
                flags |= _FLAG_OF[kind]
                if kind == "stall" and "seconds" in options:
                    self.stall_seconds = float(options["seconds"])
        if flags & GAP:
            flags &= ~(DUPLICATE | REORDER)  # a skipped message cannot also be repeated or moved
        return flags

    def garbage(self, frame: str) -> str:
        """A broken frame: rotate between non-JSON, truncated JSON and an unknown message type."""
        turn = self._malformed_turn % 3
        self._malformed_turn += 1
        if turn == 0:
            return "<<sim: this frame is not JSON>>"
        if turn == 1:
            return frame[: max(1, len(frame) // 2 - self.rng.randint(0, 5))]
        return '{"type":"sim_unknown_message","msg":{"note":"a message type clients must ignore"}}'


class RestFaults:
    """REST fault decisions by request count (plus one-shots)."""

    def __init__(self, plan: FaultPlan, oneshots: OneShots) -> None:
        self.plan = plan
        self.oneshots = oneshots
        self.requests = 0
        self._burst_left = 0

    def decide(self) -> tuple[str, dict[str, Any]] | None:
        p = self.plan
        self.requests += 1
        n = self.requests
        if p.rest_429_every and n % p.rest_429_every == 0:
            self._burst_left = p.rest_429_burst
        if self._burst_left > 0:
            self._burst_left -= 1
            return "429", {}
        if p.rest_5xx_every and n % p.rest_5xx_every == 0:
            return "5xx", {}
        if p.rest_slow_every and n % p.rest_slow_every == 0:
            return "slow", {"seconds": p.rest_slow_seconds}
        if p.rest_truncate_every and n % p.rest_truncate_every == 0:
            return "truncate", {}
        if self.oneshots.pending:
            return self.oneshots.take(REST_KINDS)
        return None

