"""Kalshi WebSocket frames, decoded once into typed structs, and the commands we send.

Every frame is decoded exactly once, by msgspec, straight into the struct of its ``type`` (a tagged
union), so the read loop never touches a ``dict``. The shapes follow API.md section 7 and
``ws_message_schemas.json`` (AsyncAPI, Oct 2026):

* Two decoders. The strict msgspec decode is the fast path and reads every frame Kalshi sends in
  the documented shape. A frame it refuses is read again by the tolerant decoder
  (:mod:`kalshi_collector.kalshi.lax`): ``""`` as null, numeric strings as numbers, numbers as
  strings, an unreadable optional field dropped (each repair reported), so one odd field costs that
  field only. Only a frame that even it cannot read raises :class:`MessageError` (with what could be
  read of its envelope: sid, seq, ticker); so does malformed JSON. The reason is short and safe to
  log (never the whole frame).
* Fields we rely on are required; the rest are optional. Unknown extra fields are ignored (Kalshi
  adds fields often). Deprecated fields (``ts``, ``time``, ``taker_side``) are optional; a trade's
  ``ts_ms`` is derived from ``ts`` when absent; ``event_lifecycle`` may come without ``seq``; an
  ``ok`` may carry ``market_tickers`` at the top level instead of in ``msg``.
* A well-formed frame whose ``type`` we do not know decodes to :class:`UnknownMessage`. It keeps
  ``sid`` and ``seq``, because Kalshi puts other frames on our sids (``event_fee_update`` shares the
  lifecycle subscription) and each of them consumes a sequence number: skipping one without counting
  it would read as a gap.

Money stays a string on the structs (``price_dollars``, ``delta_fp``...), named as Kalshi names it;
the typed values come from properties (``price_cents``, ``delta_contracts``...) that convert exactly
through :mod:`kalshi_collector.kalshi.numbers`, so the obvious ``float(x) * 100`` is never needed.
The order book's hot path uses :func:`price_micros` and :func:`centi_contracts` (exact integers:
millionths of a dollar, hundredths of a contract; memoised, in ``numbers``, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import msgspec

from kalshi_collector.kalshi.lax import FieldRepair, LaxDecoder, LaxError, Repair, read_json
from kalshi_collector.kalshi.numbers import (
    BadNumber,
    centi_contracts,
    dollars_to_cents,
    fp_to_contracts,
    lax_int,
    price_cents,
    price_micros,
)

__all__ = [
    "MessageError",
    "BadNumber",
    "FieldRepair",
    "Repair",
    "Message",
    "OrderbookSnapshot",
    "OrderbookSnapshotBody",
    "OrderbookDelta",
    "OrderbookDeltaBody",
    "Ticker",
    "TickerBody",
    "Trade",
    "TradeBody",
    "MarketLifecycle",
    "MarketLifecycleBody",
    "MarketMetadata",
    "PriceRange",
    "EventLifecycle",
    "EventLifecycleBody",
    "Subscribed",
    "SubscribedBody",
    "Ok",
    "OkBody",
    "SubscriptionInfo",
    "Unsubscribed",
    "Error",
    "ErrorBody",
    "UnknownMessage",
    "KNOWN_TYPES",
    "TERMINAL_ERROR_CODES",
    "decode",
    "unknown_fields",
    "UnknownField",
    "price_cents",
    "price_micros",
    "centi_contracts",
    "subscribe",
    "unsubscribe",
    "update_subscription",
    "list_subscriptions",
]


class MessageError(ValueError):
    """A frame that cannot be used: malformed JSON, or a known ``type`` that even the tolerant
    decoder cannot read.

    ``str(err)`` is a short reason fit for a log line; the frame itself is not included. What could
    still be read of the envelope is kept (``kind``, ``sid``, ``seq``, ``market_ticker``; None when
    unknown), so that the caller can still count the frame's sequence number and doubt the right book.
    """

    def __init__(self, reason: str, *, kind: str | None = None, sid: int | None = None,
                 seq: int | None = None, market_ticker: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.sid = sid
        self.seq = seq
        self.market_ticker = market_ticker


def _cents_or_none(dollars: str | None) -> float | None:
    return None if dollars is None else dollars_to_cents(dollars)


# --- message bodies ---------------------------------------------------------------------------------
# gc=False: decoded structs only hold strings, numbers, lists and other structs, so they can never be
# part of a reference cycle; not tracking them keeps the garbage collector off the hot path.


class _Body(msgspec.Struct, gc=False, kw_only=True):
    pass


class OrderbookSnapshotBody(_Body):
    market_ticker: str
    market_id: str = ""
    # Ascending [price_dollars, count_fp] pairs; a side is omitted by Kalshi when it is empty.
    yes_dollars_fp: list[tuple[str, str]] = []
    no_dollars_fp: list[tuple[str, str]] = []
    # the tolerant decoder must fail the snapshot rather than drop a side it cannot read
    __lax_required__: ClassVar[frozenset[str]] = frozenset({"yes_dollars_fp", "no_dollars_fp"})

    def yes_levels(self) -> list[tuple[float, float]]:
        """YES bids as ``(price_cents, contracts)``, ascending like the wire."""
        return [(price_cents(p), fp_to_contracts(q)) for p, q in self.yes_dollars_fp]  # type: ignore[misc]

    def no_levels(self) -> list[tuple[float, float]]:
        """NO bids as ``(price_cents, contracts)`` in NO terms, ascending like the wire."""
        return [(price_cents(p), fp_to_contracts(q)) for p, q in self.no_dollars_fp]  # type: ignore[misc]


class OrderbookDeltaBody(_Body):
    """One level change. The hottest struct: ``market_id`` and the deprecated ``ts`` string are left
    out on purpose (nothing downstream needs them, and each would cost an allocation per delta)."""

    # documented fields left out on purpose (not "unknown" to the census of :func:`unknown_fields`)
    __documented_unread__: ClassVar[frozenset[str]] = frozenset({"market_id", "ts"})

    market_ticker: str
    price_dollars: str
    delta_fp: str
    side: Literal["yes", "no"]
    ts_ms: int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None

    @property
    def price_cents(self) -> float:
        return price_cents(self.price_dollars)

    @property
    def delta_contracts(self) -> float:
        return centi_contracts(self.delta_fp) / 100


class TickerBody(_Body):
    """Only the ticker is required: a ticker message is a set of independent values, and one that
    arrives empty (``""``) or unreadable must cost that value alone (it reads as None)."""

    market_ticker: str
    price_dollars: str | None = None
    yes_bid_dollars: str | None = None
    yes_ask_dollars: str | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None
    market_id: str = ""
    yes_bid_size_fp: str | None = None
    yes_ask_size_fp: str | None = None
    last_trade_size_fp: str | None = None
    dollar_volume: int | None = None
    dollar_open_interest: int | None = None
    ts_ms: int | None = None
    ts: int | None = None  # deprecated
    time: str | None = None  # deprecated

    @property
    def last_price_cents(self) -> float | None:
        return dollars_to_cents(self.price_dollars)

    @property
    def yes_bid_cents(self) -> float | None:
        """Best YES bid; ``0.0`` when Kalshi reports an empty side ("0.0000")."""
        return dollars_to_cents(self.yes_bid_dollars)

    @property
    def yes_ask_cents(self) -> float | None:
        """Best YES ask; Kalshi reports an empty side as "0.0000" (API.md 5.4)."""
        return dollars_to_cents(self.yes_ask_dollars)

    @property
    def volume(self) -> float | None:
        return fp_to_contracts(self.volume_fp)

    @property
    def open_interest(self) -> float | None:
        return fp_to_contracts(self.open_interest_fp)

    @property
    def yes_bid_size(self) -> float | None:
        return fp_to_contracts(self.yes_bid_size_fp)

    @property
    def yes_ask_size(self) -> float | None:
        return fp_to_contracts(self.yes_ask_size_fp)


class TradeBody(_Body):
    """A trade. ``ts_ms`` may be absent (trades of the cut-over day carry only the deprecated ``ts``,
    in seconds): it is then derived from ``ts``; a trade with neither time is not a trade."""

    trade_id: str
    market_ticker: str
    yes_price_dollars: str
    no_price_dollars: str | None = None
    count_fp: str | None = None
    ts_ms: int = 0
    taker_outcome_side: Literal["yes", "no"] | None = None
    taker_book_side: Literal["bid", "ask"] | None = None
    is_block_trade: bool = False
    taker_side: Literal["yes", "no"] | None = None  # deprecated, same meaning as taker_outcome_side
    ts: int | None = None  # deprecated

    def __post_init__(self) -> None:
        if not self.ts_ms:
            if self.ts is None:
                raise ValueError("trade without ts_ms or ts")
            self.ts_ms = self.ts * 1000

    @property
    def yes_price_cents(self) -> float:
        return dollars_to_cents(self.yes_price_dollars)  # type: ignore[return-value]

    @property
    def no_price_cents(self) -> float | None:
        return dollars_to_cents(self.no_price_dollars)

    @property
    def count(self) -> float | None:
        return fp_to_contracts(self.count_fp)

    @property
    def outcome_side(self) -> str | None:
        """The side the taker ends up long, from the current field or its deprecated twin."""
        return self.taker_outcome_side or self.taker_side


class PriceRange(_Body):
    start: str
    end: str
    step: str


class MarketMetadata(_Body):
    """``additional_metadata`` of a ``created`` lifecycle event: what discovery needs for a new market."""

    event_ticker: str | None = None
    name: str | None = None
    title: str | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None
    rules_primary: str | None = None
    rules_secondary: str | None = None
    can_close_early: bool | None = None
    expected_expiration_ts: int | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    custom_strike: dict[str, Any] | None = None


class MarketLifecycleBody(_Body):
    market_ticker: str
    # Kept a plain string: a new event type must not make the frame undecodable.
    event_type: str
    exchange_index: int | None = None
    open_ts: int | None = None
    close_ts: int | None = None
    determination_ts: int | None = None
    settled_ts: int | None = None
    result: str | None = None
    settlement_value: str | None = None
    is_deactivated: bool | None = None
    additional_metadata: MarketMetadata | None = None
    price_level_structure: str | None = None
    price_ranges: list[PriceRange] | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    custom_strike: dict[str, Any] | None = None
    yes_sub_title: str | None = None

    @property
    def settlement_value_cents(self) -> float | None:
        return _cents_or_none(self.settlement_value)


class EventLifecycleBody(_Body):
    event_ticker: str
    title: str
    subtitle: str
    series_ticker: str
    collateral_return_type: str = ""
    exchange_index: int | None = None
    strike_date: int | None = None
    strike_period: str | None = None


class SubscribedBody(_Body):
    channel: str
    sid: int


class OkBody(_Body):
    """``ok`` answering ``update_subscription``: the subscription's full market list after the change."""

    market_tickers: list[str] | None = None
    market_ids: list[str] | None = None


class SubscriptionInfo(_Body):
    """One entry of the ``ok`` answering ``list_subscriptions``."""

    channel: str
    sid: int


class ErrorBody(_Body):
    code: int
    msg: str
    market_ticker: str | None = None
    market_tickers: list[str] | None = None


# --- envelopes (the tagged union) -------------------------------------------------------------------


class _Envelope(msgspec.Struct, tag_field="type", gc=False, kw_only=True):
    # ``id`` echoes the command id on replies (and on snapshots answering get_snapshot).
    id: int | None = None


class OrderbookSnapshot(_Envelope, tag="orderbook_snapshot"):
    sid: int
    seq: int
    msg: OrderbookSnapshotBody


class OrderbookDelta(_Envelope, tag="orderbook_delta"):
    sid: int
    seq: int
    msg: OrderbookDeltaBody


class Ticker(_Envelope, tag="ticker"):
    sid: int
    msg: TickerBody
    seq: int | None = None  # absent on the ticker channel; tolerated if it ever appears


class Trade(_Envelope, tag="trade"):
    sid: int
    seq: int
    msg: TradeBody


class MarketLifecycle(_Envelope, tag="market_lifecycle_v2"):
    sid: int
    seq: int
    msg: MarketLifecycleBody


class EventLifecycle(_Envelope, tag="event_lifecycle"):
    sid: int
    msg: EventLifecycleBody
    seq: int | None = None  # Kalshi has sent event_lifecycle frames without one


class Subscribed(_Envelope, tag="subscribed"):
    msg: SubscribedBody
    sid: int | None = None
    seq: int | None = None


class Ok(_Envelope, tag="ok"):
    """``ok`` in both forms: ``msg`` is an :class:`OkBody` (update_subscription, carries sid+seq) or
    a list of :class:`SubscriptionInfo` (list_subscriptions, no sid)."""

    sid: int | None = None
    seq: int | None = None
    msg: OkBody | list[SubscriptionInfo] | None = None
    # Kalshi has also answered update_subscription with the list at the top level, beside ``msg``.
    market_tickers_top: list[str] | None = msgspec.field(default=None, name="market_tickers")

    @property
    def market_tickers(self) -> list[str] | None:
        if isinstance(self.msg, OkBody) and self.msg.market_tickers is not None:
            return self.msg.market_tickers
        return self.market_tickers_top

    @property
    def subscriptions(self) -> list[SubscriptionInfo] | None:
        return self.msg if isinstance(self.msg, list) else None


class Unsubscribed(_Envelope, tag="unsubscribed"):
    sid: int
    seq: int


# Codes after which the subscription is dead and must be recreated (API.md 7).
TERMINAL_ERROR_CODES = frozenset({10, 25})


class Error(_Envelope, tag="error"):
    msg: ErrorBody
    sid: int | None = None
    seq: int | None = None

    @property
    def terminal(self) -> bool:
        return self.msg.code in TERMINAL_ERROR_CODES


class UnknownMessage(msgspec.Struct, gc=False, kw_only=True):
    """A well-formed frame of a ``type`` this code does not know (e.g. ``event_fee_update``)."""

    type: str
    id: int | None = None
    sid: int | None = None
    seq: int | None = None


_KnownMessage = (
    OrderbookDelta
    | OrderbookSnapshot
    | Ticker
    | Trade
    | MarketLifecycle
    | EventLifecycle
    | Subscribed
    | Ok
    | Unsubscribed
    | Error
)
Message = _KnownMessage | UnknownMessage

KNOWN_TYPES = frozenset(
    cls.__struct_config__.tag  # type: ignore[attr-defined]
    for cls in _KnownMessage.__args__  # type: ignore[attr-defined]
)

_decoder = msgspec.json.Decoder(_KnownMessage)
_lax: dict[str, LaxDecoder] = {
    cls.__struct_config__.tag: LaxDecoder(cls)  # type: ignore[attr-defined]
    for cls in _KnownMessage.__args__  # type: ignore[attr-defined]
}
_REASON_LIMIT = 160


def _short(reason: str) -> str:
    return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 3] + "..."


def decode(frame: bytes | str, repairs: Callable[[FieldRepair], None] | None = None) -> Message:
    """Decode one WebSocket text frame.

    Returns the typed message, or :class:`UnknownMessage` for a valid frame of another ``type``.
    Raises :class:`MessageError` for anything else. The strict msgspec decode is the fast path; a
    frame it refuses is read again by the tolerant decoder (:mod:`kalshi.lax`), which reports each
    field it had to repair to ``repairs``.
    """
    try:
        return _decoder.decode(frame)
    except msgspec.ValidationError:
        return _decode_lax(frame, repairs)
    except msgspec.DecodeError as exc:
        raise MessageError(_short(f"malformed JSON: {exc}")) from None
    except TypeError:
        raise MessageError(f"frame must be bytes or str, not {type(frame).__name__}") from None


def _declared(info: Any) -> frozenset[str]:
    named = {f.encode_name for f in info.fields} | set(getattr(info.cls, "__documented_unread__", ()))
    return frozenset(named | ({info.tag_field} if info.tag_field else set()))


def _body_struct(info: Any) -> Any:
    msg = next((f.type for f in info.fields if f.encode_name == "msg"), None)
    members = msg.types if isinstance(msg, msgspec.inspect.UnionType) else (msg,)
    return next((m for m in members if isinstance(m, msgspec.inspect.StructType)), None)


def _known_fields() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    out = {}
    for cls in _KnownMessage.__args__:  # type: ignore[attr-defined]
        info = msgspec.inspect.type_info(cls)
        body = _body_struct(info)
        out[info.tag] = (_declared(info), _declared(body) if body is not None else frozenset())
    return out


_KNOWN_FIELDS = _known_fields()


class UnknownField(NamedTuple):
    """A field of a known message type that our structs do not declare (``field`` dotted: ``msg.x``)."""

    type: str
    field: str


def unknown_fields(frame: bytes | str) -> list[UnknownField]:
    """``(type, field)`` for every field of a known-type frame that our structs do not declare
    (``msg.x`` for the body's): Kalshi adding fields, seen. Both decoders ignore such fields; this is
    a census the frame handler runs on a sample of frames, never the hot path."""
    try:
        obj = read_json(frame)
    except msgspec.DecodeError:
        return []
    kind = obj.get("type") if isinstance(obj, dict) else None
    known = _KNOWN_FIELDS.get(kind) if isinstance(kind, str) else None
    if known is None:
        return []
    top, body = known
    out = [UnknownField(kind, k) for k in obj if k not in top]
    msg = obj.get("msg")
    if isinstance(msg, dict) and body:
        out += [UnknownField(kind, f"msg.{k}") for k in msg if k not in body]
    return out


def _envelope_int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    try:
        return lax_int(value)
    except BadNumber:
        return None


def _decode_lax(frame: bytes | str, repairs: Callable[[FieldRepair], None] | None) -> Message:
    """The rare path: valid JSON the strict decoder refused (an unknown type, or a field of another shape)."""
    try:
        obj = read_json(frame)
    except msgspec.DecodeError as exc:  # pragma: no cover - the strict decoder parsed it already
        raise MessageError(_short(f"malformed JSON: {exc}")) from None
    kind = obj.get("type") if isinstance(obj, dict) else None
    if not isinstance(kind, str):
        raise MessageError("not a Kalshi message: no string `type`") from None
    cid, sid, seq = _envelope_int(obj, "id"), _envelope_int(obj, "sid"), _envelope_int(obj, "seq")
    lax = _lax.get(kind)
    if lax is None:
        return UnknownMessage(type=kind, id=cid, sid=sid, seq=seq)
    try:
        return lax.decode(obj, repairs)
    except LaxError as exc:
        body = obj.get("msg")
        ticker = body.get("market_ticker") if isinstance(body, dict) else None
        raise MessageError(_short(f"bad {kind}: {exc}"), kind=kind, sid=sid, seq=seq,
                           market_ticker=ticker if isinstance(ticker, str) and ticker else None) from None


# --- commands (client -> server) --------------------------------------------------------------------
# Each builder returns the exact bytes to send, in the key order of API.md 7 / the ws_cmd_* fixtures.
# ``cmd_id`` must be unique per connection (0 = no id); counting them is the connection's job.

_encode = msgspec.json.encode


def _tickers(market_tickers: Sequence[str] | None) -> list[str] | None:
    if market_tickers is None:
        return None
    if isinstance(market_tickers, str):
        raise TypeError("market_tickers must be a sequence of tickers, not one string")
    if not market_tickers:
        # An empty list is almost certainly a bug upstream; None is how to ask for every market.
        raise ValueError("market_tickers is empty (pass None to mean all markets, where allowed)")
    return list(market_tickers)


def subscribe(
    cmd_id: int,
    channels: Sequence[str],
    market_tickers: Sequence[str] | None = None,
    *,
    send_initial_snapshot: bool | None = None,
    skip_ticker_ack: bool | None = None,
    use_yes_price: bool = False,
) -> bytes:
    """``subscribe`` to ``channels`` for ``market_tickers`` (``None`` = all markets, where allowed).

    For ``orderbook_delta``, ``use_yes_price`` is always sent, default ``False``: NO-side prices then
    stay in NO terms like REST, and Kalshi's announced flip of the default cannot change our data.
    """
    if isinstance(channels, str) or not channels:
        raise ValueError("subscribe needs a non-empty list of channels")
    tickers = _tickers(market_tickers)
    if "orderbook_delta" in channels and not tickers:
        raise ValueError("orderbook_delta needs market tickers (Kalshi answers error 14 otherwise)")
    params: dict[str, Any] = {"channels": list(channels)}
    if tickers is not None:
        params["market_tickers"] = tickers
    if send_initial_snapshot is not None:
        params["send_initial_snapshot"] = send_initial_snapshot
    if skip_ticker_ack is not None:
        params["skip_ticker_ack"] = skip_ticker_ack
    if "orderbook_delta" in channels:
        params["use_yes_price"] = use_yes_price
    return _encode({"id": cmd_id, "cmd": "subscribe", "params": params})


def unsubscribe(cmd_id: int, sids: Sequence[int]) -> bytes:
    if not sids:
        raise ValueError("unsubscribe needs at least one sid")
    return _encode({"id": cmd_id, "cmd": "unsubscribe", "params": {"sids": list(sids)}})


UpdateAction = Literal["add_markets", "delete_markets", "get_snapshot"]


def update_subscription(
    cmd_id: int,
    action: UpdateAction,
    market_tickers: Sequence[str],
    *,
    sid: int | None = None,
    sids: Sequence[int] | None = None,
) -> bytes:
    """``update_subscription`` of one subscription, named by ``sid`` or by ``sids`` (exactly one)."""
    if action not in ("add_markets", "delete_markets", "get_snapshot"):
        raise ValueError(f"unknown update_subscription action {action!r}")
    if (sid is None) == (sids is None):
        raise ValueError("give exactly one of sid or sids")
    if sids is not None and len(sids) != 1:
        raise ValueError("sids must name exactly one subscription (Kalshi error 12)")
    tickers = _tickers(market_tickers)
    if not tickers:
        raise ValueError(f"{action} needs market tickers")
    params: dict[str, Any] = {"sid": sid} if sid is not None else {"sids": list(sids or ())}
    params["action"] = action
    params["market_tickers"] = tickers
    return _encode({"id": cmd_id, "cmd": "update_subscription", "params": params})


def list_subscriptions(cmd_id: int) -> bytes:
    return _encode({"id": cmd_id, "cmd": "list_subscriptions"})
