"""The real-world variance of Kalshi's payloads, as a fault mode (``FaultPlan.variance_every``).

Recorded production payloads differ from the documented shapes in ways that a strict client
rejects (docs/kalshi-api.md, "Payload variance"). With ``variance_every=N`` the simulator sends every
N-th data message, and every N-th market item of a REST listing, in one of those variants, in
rotation per message type, deterministically:

WebSocket
    ``numbers_as_text`` (``"seq":"17"``, ``"ts_ms":"1770834581512"``, ``"open_ts":"1781143200"``,
    ``"floor_strike":"13.1"``), ``text_as_numbers`` (``"price_dollars":0.2900``, levels as bare
    numbers), ``empty_strings`` (``""`` for a size or price of a ticker, a trade's book side),
    ``extra_fields`` (unknown fields at both levels), ``no_ts_ms`` (a trade with ``ts`` seconds
    only), ``no_seq`` (``event_lifecycle`` without ``seq``; it then consumes no number),
    ``unknown_type`` (a message of a type no client knows, on the same sid, consuming a number),
    and now and then ``undecodable`` (the envelope readable, the body not: a delta without a price,
    a trade without its id). ``ok`` replies to add/delete_markets carry ``market_tickers`` at the
    top level instead of in ``msg``.
REST
    the same number/text swaps and ``""`` on market items, unknown fields, and one extra item per
    listing that no client can read (the real items are all still there).

Every variant is recorded in the exchange's ``fault_log`` (kind ``variance``, or ``undecodable``
for what a correct client must lose), so tests can tell what a correct collector must still hold.
Independent of ``kalshi_collector.kalshi``, like the rest of the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

__all__ = ["Variance", "Varied", "UNKNOWN_TYPE", "vary_market_items", "UNDECODABLE_ITEM"]

UNKNOWN_TYPE = "sim_fee_update"
"""The message type no client knows (like Kalshi's ``event_fee_update`` on a lifecycle sid)."""
UNDECODABLE_ITEM: dict[str, Any] = {"ticker": None, "event_ticker": ["not", "a", "ticker"], "status": 7}
"""The extra market item of a varied REST listing: no client can read it."""

_decode = msgspec.json.Decoder(float_hook=Decimal).decode
_encode = msgspec.json.Encoder(decimal_format="number").encode  # Decimal -> a bare JSON number, digit for digit


class Varied(NamedTuple):
    """What to send instead of one frame."""

    frame: str
    variant: str
    decodable: bool = True
    drops_seq: bool = False  # the frame carries no seq any more: it must not consume one
    then_unknown: bool = False  # follow it with a message of an unknown type on the same sid


Frame = dict[str, Any]


def _numeric_text(value: Any) -> Any:
    return str(value) if isinstance(value, int | Decimal) and not isinstance(value, bool) else value


def numbers_as_text(f: Frame) -> str:
    if "seq" in f:
        f["seq"] = str(f["seq"])
    body = f["msg"]
    for key in ("ts_ms", "ts", "open_ts", "close_ts", "strike_date", "floor_strike", "dollar_volume"):
        if key in body:
            body[key] = _numeric_text(body[key])
    return "numbers_as_text"


def _bare(value: Any) -> Any:
    try:
        return Decimal(value) if isinstance(value, str) and value else value
    except ArithmeticError:
        return value


def text_as_numbers(f: Frame) -> str:
    body = f["msg"]
    for key, value in list(body.items()):
        if key.endswith(("_dollars", "_fp")) and isinstance(value, str):
            body[key] = _bare(value)
        elif key.endswith("_dollars_fp") and isinstance(value, list):
            body[key] = [[_bare(p), _bare(q)] for p, q in value]
    return "text_as_numbers"


def empty_strings(f: Frame) -> str:
    body = f["msg"]
    for key in ("yes_bid_size_fp", "yes_ask_size_fp", "last_trade_size_fp", "taker_book_side", "settlement_value"):
        if key in body:
            body[key] = ""
    return "empty_strings"


def extra_fields(f: Frame) -> str:
    f["sim_envelope_note"] = {"added": "2026-12", "flags": [1, "two", None]}
    f["msg"]["sim_new_field"] = [Decimal("1.50"), "x", {"nested": True}]
    return "extra_fields"


def no_ts_ms(f: Frame) -> str:
    body = f["msg"]
    if "ts" in body:
        body.pop("ts_ms", None)
    return "no_ts_ms"


def no_seq(f: Frame) -> str:
    f.pop("seq", None)
    return "no_seq"


def undecodable(f: Frame) -> str:
    body = f["msg"]
    for key in ("price_dollars", "trade_id", "market_ticker", "event_ticker"):
        if key in body:
            body[key] = None
            break
    return "undecodable"


Variant = Callable[[Frame], str]
_COMMON: tuple[Variant, ...] = (numbers_as_text, text_as_numbers, extra_fields)
_ROTATION: dict[str, tuple[Variant | None, ...]] = {
    # None = the unknown-type message after an unchanged frame
    "orderbook_delta": (*_COMMON, None, *_COMMON, undecodable),
    "ticker": (*_COMMON, empty_strings),
    "trade": (no_ts_ms, *_COMMON, empty_strings, None, undecodable),
    "market_lifecycle_v2": (*_COMMON, None),
    "event_lifecycle": (no_seq, numbers_as_text, extra_fields),
    "orderbook_snapshot": (text_as_numbers, extra_fields),
}


class Variance:
    """Per-connection variance decisions: every ``every``-th data message, the next variant of its type."""

    def __init__(self, every: int | None) -> None:
        self.every = every
        self.seen = 0
        self._turn: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return self.every is not None

    def due(self) -> bool:
        """Count one data message; True if it is to be sent varied."""
        if self.every is None:
            return False
        self.seen += 1
        return self.seen % self.every == 0

    def vary(self, msg_type: str, frame: str) -> Varied | None:
        """The varied form of ``frame`` (a ``msg_type`` message), or None if the type has no variants."""
        rotation = _ROTATION.get(msg_type)
        if not rotation:
            return None
        turn = self._turn.get(msg_type, 0)
        self._turn[msg_type] = turn + 1
        variant = rotation[turn % len(rotation)]
        if variant is None:
            return Varied(frame, "unknown_type", then_unknown=True)
        f = _decode(frame)
        name = variant(f)
        return Varied(_encode(f).decode(), name, decodable=variant is not undecodable, drops_seq=variant is no_seq)


def unknown_frame(sid: int, seq: int) -> str:
    """A message of a type no client knows, on ``sid`` with the number ``seq``."""
    return _encode({"type": UNKNOWN_TYPE, "sid": sid, "seq": seq,
                    "msg": {"market_ticker": "ANY", "fee_multiplier": Decimal("0.07")}}).decode()


_MARKET_VARIANTS: tuple[Callable[[dict[str, Any]], None], ...] = (
    lambda m: m.update({k: "" for k in ("yes_bid_dollars", "no_ask_dollars", "settlement_value_dollars") if k in m}),
    lambda m: m.update({k: _bare(m[k]) for k in ("volume_fp", "open_interest_fp", "last_price_dollars") if k in m}),
    lambda m: m.update({k: str(m[k]) for k in ("floor_strike", "cap_strike") if k in m}),
    lambda m: m.update(sim_new_field={"since": "2026-12"}, custom_strike=None),
)


def vary_market_items(items: list[dict[str, Any]], every: int, counter: list[int]) -> list[dict[str, Any]]:
    """Every ``every``-th market item (counted across calls in ``counter[0]``) in a variant, plus one
    undecodable extra item when any was varied. The real items' values are unchanged in meaning."""
    varied = False
    for item in items:
        counter[0] += 1
        if counter[0] % every == 0:
            _MARKET_VARIANTS[(counter[0] // every) % len(_MARKET_VARIANTS)](item)
            varied = True
    return [*items, dict(UNDECODABLE_ITEM)] if varied else items
