"""The tolerant decoder: what runs when the strict msgspec decode of a record fails.

Kalshi's payloads vary in production in ways a strict decoder rejects whole: ``""`` where a size or
price is expected, numbers sent as strings (``"1781143200"``, ``"13.1"``), strings sent as numbers,
a field of a new shape. The strict decoders stay the fast path; only a record they refuse comes
here, is read as plain JSON, and is brought field by field to the struct's declared types, so that
one odd field costs at most that field:

* ``""`` or ``null`` where the field may be null -> ``None`` (:attr:`Repair.EMPTY_AS_NULL`);
* a numeric string where a number is expected -> the number (:attr:`Repair.NUMBER_FROM_TEXT`);
* a number where a string is expected -> its exact decimal text (:attr:`Repair.TEXT_FROM_NUMBER`;
  JSON floats are read as ``Decimal``, so ``0.2900`` becomes ``"0.2900"``, digit for digit);
* ``"true"``/``"false"`` where a bool is expected (:attr:`Repair.BOOL_FROM_TEXT`);
* a field that still does not fit and has a default -> the default (:attr:`Repair.DROPPED`),
  unless the struct names it in ``__lax_required__`` (a ``ClassVar``): an order-book side has a
  default (``[]``, Kalshi omits an empty side) but dropping an unreadable one would fake a book.

A required field that is missing or cannot be read fails the record: :class:`LaxError`. Unknown
fields are ignored, as on the fast path. Each repair is reported as a :class:`FieldRepair`
(record type, field path, repair) so the caller can count them. The struct's own checks
(``__post_init__``) still run, through ``msgspec.convert`` at the end.

Generic over msgspec structs: :mod:`messages` (WebSocket) and :mod:`models` (REST) both use it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
import msgspec.inspect as mi

from kalshi_collector.kalshi.numbers import BadNumber, lax_float, lax_int, number_text

__all__ = ["Repair", "FieldRepair", "LaxError", "LaxDecoder", "read_json"]


class Repair(enum.Enum):
    """How the tolerant decoder made a field fit; ``value`` is the metric label."""

    EMPTY_AS_NULL = "empty_as_null"
    NUMBER_FROM_TEXT = "number_from_text"
    TEXT_FROM_NUMBER = "text_from_number"
    BOOL_FROM_TEXT = "bool_from_text"
    DROPPED = "dropped"


class FieldRepair(NamedTuple):
    """One repair: of which record type, which field (dotted path), how."""

    record: str
    field: str
    repair: Repair


class LaxError(ValueError):
    """The record cannot be read even leniently; ``str()`` names the field and why (short)."""


class _Bad(Exception):
    pass


_json = msgspec.json.Decoder(float_hook=Decimal)
_encode = msgspec.json.Encoder(decimal_format="number").encode  # Decimals back as the numbers they were


def read_json(data: bytes | str) -> Any:
    """Plain JSON with floats as ``Decimal`` (exact digits); raises ``msgspec.DecodeError``."""
    return _json.decode(data)


Notes = list[tuple[str, Repair]]  # (field path, repair) of one record


def _text(value: Any, path: str, notes: Notes) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        notes.append((path, Repair.TEXT_FROM_NUMBER))
        return number_text(value)
    raise _Bad(f"{path}: expected a string, got {type(value).__name__}")


def _int(value: Any, path: str, notes: Notes) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        notes.append((path, Repair.NUMBER_FROM_TEXT))
    try:
        return lax_int(value)
    except BadNumber as exc:
        raise _Bad(f"{path}: {exc}") from None


def _float(value: Any, path: str, notes: Notes) -> float:
    if isinstance(value, str):
        notes.append((path, Repair.NUMBER_FROM_TEXT))
    try:
        return lax_float(value)
    except BadNumber as exc:
        raise _Bad(f"{path}: {exc}") from None


def _bool(value: Any, path: str, notes: Notes) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        notes.append((path, Repair.BOOL_FROM_TEXT))
        return value.lower() == "true"
    raise _Bad(f"{path}: expected true/false, got {value!r}"[:120])


class LaxDecoder:
    """Reads a JSON object (already parsed by :func:`read_json`) into struct ``cls`` field by field."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.name = getattr(getattr(cls, "__struct_config__", None), "tag", None) or cls.__name__
        self._info = mi.type_info(cls)

    def decode(self, obj: Any, repairs: Callable[[FieldRepair], None] | None = None) -> Any:
        """The struct read from ``obj``; every repair is passed to ``repairs``. Raises :class:`LaxError`."""
        notes: Notes = []
        try:
            plain = self._coerce(obj, self._info, "", notes)
            result = msgspec.convert(plain, self.cls)
        except _Bad as exc:
            raise LaxError(str(exc)) from None
        except msgspec.ValidationError as exc:
            raise LaxError(str(exc)) from None
        if repairs is not None:
            for path, how in notes:
                repairs(FieldRepair(self.name, path, how))
        return result

    def _coerce(self, value: Any, t: mi.Type, path: str, notes: Notes) -> Any:
        if isinstance(t, mi.UnionType):
            return self._union(value, t, path, notes)
        if isinstance(t, mi.StrType):
            return _text(value, path, notes)
        if isinstance(t, mi.IntType):
            return _int(value, path, notes)
        if isinstance(t, mi.FloatType):
            return _float(value, path, notes)
        if isinstance(t, mi.BoolType):
            return _bool(value, path, notes)
        if isinstance(t, mi.LiteralType):
            if value in t.values:
                return value
            raise _Bad(f"{path}: {value!r} is not one of {list(t.values)}"[:160])
        if isinstance(t, mi.NoneType):
            if value is None or value == "":
                return None
            raise _Bad(f"{path}: expected null")
        if isinstance(t, mi.ListType | mi.VarTupleType):
            return self._items(value, t.item_type, path, notes)
        if isinstance(t, mi.TupleType):
            if not isinstance(value, list) or len(value) != len(t.item_types):
                raise _Bad(f"{path}: expected a list of {len(t.item_types)}")
            return [self._coerce(v, it, f"{path}[]", notes) for v, it in zip(value, t.item_types, strict=True)]
        if isinstance(t, mi.StructType):
            return self._struct(value, t, path, notes)
        if isinstance(t, mi.RawType):  # kept as JSON text, for a later decode of its own
            return msgspec.Raw(_encode(value))
        if isinstance(t, mi.DateTimeType):
            try:
                return msgspec.convert(value, datetime)
            except msgspec.ValidationError:
                raise _Bad(f"{path}: not a date-time: {value!r}"[:120]) from None
        if isinstance(t, mi.DictType) and not isinstance(value, dict):
            raise _Bad(f"{path}: expected an object, got {type(value).__name__}")
        return value  # Any, dicts...: msgspec.convert has the last word

    def _union(self, value: Any, t: mi.UnionType, path: str, notes: Notes) -> Any:
        nullable = any(isinstance(m, mi.NoneType) for m in t.types)
        if nullable and (value is None or value == ""):
            if value == "":
                notes.append((path, Repair.EMPTY_AS_NULL))
            return None
        members = [m for m in t.types if not isinstance(m, mi.NoneType)]
        # an exact match first: "0.29" stays text when the union also allows text
        for member in members:
            trial: Notes = []
            try:
                out = self._coerce(value, member, path, trial)
            except _Bad:
                continue
            if not trial:
                return out
        for member in members:
            try:
                return self._coerce(value, member, path, notes)
            except _Bad:
                continue
        raise _Bad(f"{path}: {type(value).__name__} fits none of the allowed types")

    def _items(self, value: Any, item: mi.Type, path: str, notes: Notes) -> list:
        if not isinstance(value, list):
            raise _Bad(f"{path}: expected a list, got {type(value).__name__}")
        return [self._coerce(v, item, f"{path}[]", notes) for v in value]

    def _struct(self, value: Any, t: mi.StructType, path: str, notes: Notes) -> dict:
        if not isinstance(value, dict):
            raise _Bad(f"{path or 'record'}: expected an object, got {type(value).__name__}")
        out: dict[str, Any] = {}
        keep = getattr(t.cls, "__lax_required__", ())
        if t.tag_field is not None:
            out[t.tag_field] = t.tag
        for f in t.fields:
            key = f.encode_name
            where = f"{path}.{key}" if path else key
            if key not in value:
                if f.required:
                    raise _Bad(f"{where}: missing")
                continue
            mine: Notes = []
            try:
                out[key] = self._coerce(value[key], f.type, where, mine)
            except _Bad:
                if f.required or key in keep:
                    raise
                mine = [(where, Repair.DROPPED)]
            notes += mine
        return out
