"""Trade pages straight into Arrow columns: the backfill's bulk path (no Python object per trade).

Why a second decoder beside :class:`kalshi.models.Trade`: a backfill pages millions of trades
and only ever stores them as columns. Building a frozen ``Trade`` per trade and then reading it
back column by column cost more than the HTTP and the parquet writing together
(``bench/bench_rest_pages.py``). Here msgspec decodes a page into light wire records whose
``created_time`` stays a string; prices and counts are converted exactly through the memoised
``Decimal`` helpers (``kalshi/numbers.py``, same rules as ``Trade``), and the times are parsed by
Arrow in one vectorised cast (RFC 3339 with ``Z``, any number of fractional digits).

Same meaning as :meth:`Trade._from_wire`: ``no_price`` defaults to ``100 - yes_price``;
``taker_side`` is ``taker_outcome_side``, else the legacy ``taker_side``, else ``""``.

Reading a page (:func:`decode_page`) is tolerant like the other REST listings (``models._Items``):
the fast decode expects the documented side values; a page it refuses is read record by record,
each strictly as :class:`_TradeRecord` (any string), else leniently (:mod:`lax`), else handed to
the rejects, so one odd trade costs that field or that trade, never the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_collector.kalshi.models import _Items
from kalshi_collector.kalshi.numbers import dollars_to_cents, fp_to_contracts

__all__ = ["TradeColumns", "TradesPage", "columns", "decode_page", "TS"]

TS = pa.timestamp("us", tz="UTC")


class _TradeRecord(msgspec.Struct, kw_only=True, gc=False):
    """One trade as read off the wire. ``gc=False``: only strings, None and a bool, so it can hold
    no reference cycle, and a page's thousand records are not added to the collector's lists
    (~10% of the page decode, bench/bench_rest_pages.py)."""

    trade_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    no_price_dollars: str | None = None
    created_time: str
    taker_outcome_side: str | None = None
    taker_side: str | None = None
    taker_book_side: str | None = None
    is_block_trade: bool = False


class _KnownSides(_TradeRecord, kw_only=True, gc=False):
    """The same record with the sides as the values Kalshi documents: for a ``Literal`` msgspec
    hands back one shared string per value instead of a new one per trade (~15% of the page
    decode, bench/bench_rest_pages.py), and a page of one side is seen as such by identity. A
    value outside them fails the fast decode; :func:`decode_page` then reads the page record by
    record as :class:`_TradeRecord`, which takes any string."""

    taker_outcome_side: Literal["yes", "no"] | None = None
    taker_side: Literal["yes", "no"] | None = None
    taker_book_side: Literal["bid", "ask"] | None = None


class TradesPage(msgspec.Struct, kw_only=True):
    """``GET /markets/trades`` and ``/historical/trades`` as decoded for :func:`columns`."""

    trades: list[_TradeRecord]
    cursor: str = ""


class _FastPage(msgspec.Struct, kw_only=True):
    trades: list[_KnownSides]
    cursor: str = ""


class _RawPage(msgspec.Struct, kw_only=True):
    trades: list[msgspec.Raw]
    cursor: str = ""


_FAST = msgspec.json.Decoder(_FastPage)
_RAW = msgspec.json.Decoder(_RawPage)
_RECORDS = _Items(_TradeRecord, "trade")


def decode_page(body: bytes) -> TradesPage:
    """A trade page's body read for :func:`columns`: every trade the fast decode or, for a page it
    refuses, the record-by-record reading (strict, lenient, else rejected) can read. Raises
    ``msgspec.DecodeError`` only for a body that is not such a page at all (garbled, cut off)."""
    try:
        fast = _FAST.decode(body)
    except msgspec.ValidationError:
        raw = _RAW.decode(body)
        return TradesPage(trades=_RECORDS.decode(raw.trades), cursor=raw.cursor)
    return TradesPage(trades=fast.trades, cursor=fast.cursor)  # type: ignore[arg-type]  # a subclass


@dataclass(frozen=True, slots=True)
class TradeColumns:
    """One page of trades as Arrow arrays (prices in cents, counts in contracts, float64)."""

    created_time: pa.Array
    ticker: pa.Array
    trade_id: pa.Array
    yes_price: pa.Array
    count: pa.Array
    taker_side: pa.Array
    no_price: pa.Array
    taker_book_side: pa.Array
    is_block_trade: pa.Array
    cursor: str

    @property
    def num_rows(self) -> int:
        return len(self.trade_id)


def columns(page: TradesPage) -> TradeColumns:
    """The page's trades as columns (raises ``BadNumber`` for an unreadable price or count, as
    ``Trade`` does)."""
    ts = page.trades
    yes = pa.array(_converted(list(map(_YES, ts)), dollars_to_cents), pa.float64())
    no = pa.array(_converted(list(map(_NO, ts)), dollars_to_cents), pa.float64())
    if no.null_count:  # absent: 100 - yes, computed by Arrow (exact: whole and half cents)
        no = pc.if_else(no.is_null(), pc.subtract(100.0, yes), no)
    outcome = list(map(_OUTCOME, ts))
    if None in outcome:  # the legacy field, then ""
        outcome = [o or t.taker_side or "" for o, t in zip(outcome, ts, strict=True)]
    return TradeColumns(
        created_time=pa.array(list(map(_TIME, ts)), pa.string()).cast(TS),
        ticker=_strings(list(map(_TICKER, ts))),
        trade_id=pa.array(list(map(_ID, ts)), pa.string()),
        yes_price=yes,
        count=_counts(list(map(_COUNT, ts))),
        taker_side=_strings(outcome),
        no_price=no,
        taker_book_side=_strings(list(map(_BOOK_SIDE, ts))),
        is_block_trade=_repeated_or_array(list(map(_BLOCK, ts)), pa.bool_()),
        cursor=page.cursor,
    )


def _strings(values: list[str | None]) -> pa.Array:
    """A string column; one value repeated by Arrow when they are all the same (a page asked for
    by ticker has one ticker), which skips converting every Python string."""
    return _repeated_or_array(values, pa.string())


def _repeated_or_array(values: list, type_: pa.DataType) -> pa.Array:
    if values and values.count(values[0]) == len(values):
        return pa.repeat(pa.scalar(values[0], type_), len(values))
    return pa.array(values, type_)


def _counts(values: list[str]) -> pa.Array:
    """Contract counts as float64, exactly ``fp_to_contracts``. A plain decimal (``"12.34"``:
    ASCII digits and at most one point) is cast by Arrow, whose parse rounds correctly to the
    nearest float64, as ``float(Decimal(s))`` does (tests/kalshi/test_trade_columns.py compares
    them); 3x cheaper than the per-string memo on a page of distinct sizes. Anything else (a sign,
    an exponent, spaces, ``""``, text) goes through ``fp_to_contracts`` and its rules."""
    text = pa.array(values, pa.string())
    if pc.all(pc.ascii_is_decimal(pc.replace_substring(text, ".", "", max_replacements=1))).as_py() is not False:
        try:
            return text.cast(pa.float64())
        except pa.ArrowInvalid:  # "." alone, say
            pass
    return pa.array(_converted(values, fp_to_contracts), pa.float64())  # type: ignore[arg-type]


# Field readers and the per-page conversion table: attrgetter and map run in C, and a page has
# only a few hundred distinct prices and counts, so each string is converted once per page.
_ID, _TICKER, _TIME = attrgetter("trade_id"), attrgetter("ticker"), attrgetter("created_time")
_YES, _NO, _COUNT = attrgetter("yes_price_dollars"), attrgetter("no_price_dollars"), attrgetter("count_fp")
_OUTCOME, _BOOK_SIDE, _BLOCK = attrgetter("taker_outcome_side"), attrgetter("taker_book_side"), attrgetter("is_block_trade")


def _converted(values: list[str | None], convert: Callable[[str | None], float | None]) -> list[float | None]:
    table = {v: convert(v) for v in dict.fromkeys(values)}
    return list(map(table.__getitem__, values))
