"""Journal frames: how one ``sync`` is encoded, and how each on-disk format recognises a frame.

Two formats exist, told apart by the segment's 8-byte magic (the package docstring has the layout):

- version 2 (:data:`MAGIC`, written today): ``marker crc length payload end``. The marker lets a
  reader find the next frame after damage; the CRC covers the length and the payload, so a found
  frame is checked whole; the non-zero end byte makes "the rest of the frame is missing" (a write
  that never completed) distinguishable from a whole frame in a preallocated, zero-filled file.
- version 1 (:data:`MAGIC_V1`, written by earlier releases, still read): ``length crc payload``.
  No marker: after damage the reader tries every offset whose payload would start with a msgpack
  array (slow, but only old segments left over from an upgrade are ever read this way).

Each format is a :class:`FrameFormat`: ``probe`` says what lies at an offset (a whole frame, the
beginning of one cut short by the end of the data, or neither) and ``candidates`` lists the offsets
where a frame could start, for resynchronisation. ``scan.py`` drives both the same way.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

import msgspec

__all__ = [
    "FORMATS",
    "FRAME_END",
    "FRAME_MARKER",
    "FRAME_OVERHEAD",
    "HEADER_SIZE",
    "MAGIC",
    "MAGIC_V1",
    "FrameFormat",
    "Probe",
    "ProbeStatus",
    "decode_rows",
    "encode_frame",
    "encode_list",
    "encode_rejects",
    "encode_rows",
    "row_encoder",
    "unencodable",
]

MAGIC = b"KCJRNL2\n"
MAGIC_V1 = b"KCJRNL1\n"
HEADER_SIZE = len(MAGIC)

FRAME_MARKER = b"\xc1\xc1KF"  # 0xc1 is the one byte msgpack never uses as a type
FRAME_END = 0x0A
_HEAD_V2 = struct.Struct("<4sII")  # marker, CRC-32 of (length + payload), payload length
_HEAD_V1 = struct.Struct("<II")  # payload length, CRC-32 of payload
FRAME_OVERHEAD = _HEAD_V2.size + 1
_MAX_PAYLOAD = 1 << 31  # a length beyond this is damage, not a frame
_CRC_FROM = 8  # the CRC covers the length field and the payload: bytes [8, end - 1)


def _python_value(obj: Any) -> tuple[bool, Any]:
    """A numpy scalar's Python value (True, value); anything else (False, None)."""
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return True, item()
        except Exception:  # noqa: BLE001 - not a scalar after all
            pass
    return False, None


def _enc_hook(obj: Any) -> Any:
    """Make anything encodable, so one odd value cannot block the journal.

    numpy scalars become their Python value; anything else its ``repr``, which the flush then
    rejects as a bad row (quarantined, never silently dropped).
    """
    converted, value = _python_value(obj)
    return value if converted else repr(obj)


def _strict_hook(obj: Any) -> Any:
    converted, value = _python_value(obj)
    if converted:
        return value
    raise TypeError(f"msgpack cannot hold a {type(obj).__name__}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_decoder = msgspec.msgpack.Decoder()


def row_encoder() -> msgspec.msgpack.Encoder:
    """The encoder of rows as they are appended (``storage/rowruns.py``): the frame's value rules,
    except that a value msgpack cannot hold raises rather than becoming its repr (the caller keeps
    the row as :func:`unencodable`'s, for the quarantine: a repr must never pass for a value)."""
    return msgspec.msgpack.Encoder(enc_hook=_strict_hook)


def unencodable(row: Any) -> list[str]:
    """What the journal keeps of a row msgpack cannot hold: a one-value row of its repr, which the
    flush quarantines."""
    return [f"unencodable row: {row!r}"]


def encode_frame(batches: list[tuple[str, list]]) -> bytes:
    """One version-2 frame holding ``[(table, rows), ...]``."""
    buf = bytearray(_HEAD_V2.size)
    try:
        _encoder.encode_into(batches, buf, _HEAD_V2.size)
    except (TypeError, ValueError, OverflowError):
        # A value msgpack cannot hold at all (e.g. an int beyond 64 bits): keep the good rows, and
        # turn each bad one into a one-element row that the flush will quarantine with its repr.
        safe = [(table, [_encodable(row) for row in rows]) for table, rows in batches]
        buf = bytearray(_HEAD_V2.size)
        _encoder.encode_into(safe, buf, _HEAD_V2.size)
    length = len(buf) - _HEAD_V2.size
    buf.append(FRAME_END)
    struct.pack_into("<I", buf, _CRC_FROM, length)
    crc = zlib.crc32(memoryview(buf)[_CRC_FROM:-1])
    _HEAD_V2.pack_into(buf, 0, FRAME_MARKER, crc, length)
    return bytes(buf)


def encode_rows(rows: list) -> bytes:
    """Rows as a frame's payload holds them (``[row, ...]``, the same value rules), for a process
    that writes parts from them (``storage/partjob.py``). Raises ``TypeError``, ``ValueError`` or
    ``OverflowError`` for a value msgpack cannot hold at all (the caller writes those rows itself)."""
    return _encoder.encode(rows)


def encode_list(items: list) -> bytes:
    """msgpack of ``items`` (rows, or blobs) by the frame's value rules: an item msgpack cannot
    hold at all becomes a one-element row of its repr, which the flush quarantines (never fails)."""
    try:
        return _encoder.encode(items)
    except (TypeError, ValueError, OverflowError):
        return _encoder.encode([_encodable(item) for item in items])


def decode_rows(blob: bytes) -> list[tuple]:
    """:func:`encode_rows`'s rows back, as tuples."""
    return [tuple(row) for row in _decoder.decode(blob)]


def encode_rejects(rejected: list[tuple[Any, str]]) -> bytes:
    """Quarantine file content: msgpack list of ``{"row": ..., "reason": ...}``; never fails."""
    return _encoder.encode([{"row": _encodable(row), "reason": reason} for row, reason in rejected])


def _encodable(row: Any) -> Any:
    try:
        _encoder.encode(row)
        return row
    except (TypeError, ValueError, OverflowError):
        return unencodable(row)


class ProbeStatus(Enum):
    WHOLE = "whole"  # a complete frame whose checksum matches
    CUT_SHORT = "cut short"  # the beginning of a frame, and the data ends before the frame does
    INVALID = "invalid"  # no frame starts here


class Probe(NamedTuple):
    status: ProbeStatus
    end: int = 0  # offset just past a whole frame
    frame: list | None = None  # its decoded batches


_INVALID = Probe(ProbeStatus.INVALID)
_CUT_SHORT = Probe(ProbeStatus.CUT_SHORT)


def _decoded(payload: memoryview, end: int) -> Probe:
    try:
        frame = _decoder.decode(payload)
    except msgspec.DecodeError:
        return _INVALID
    if not _is_frame(frame):
        return _INVALID
    return Probe(ProbeStatus.WHOLE, end, frame)


def _is_frame(obj: Any) -> bool:
    return isinstance(obj, list) and all(
        isinstance(b, list) and len(b) == 2 and isinstance(b[0], str) and isinstance(b[1], list) for b in obj
    )


def _probe_v2(data: bytes, pos: int, end: int) -> Probe:
    available = end - pos
    if available < _HEAD_V2.size:
        shown = min(available, len(FRAME_MARKER))
        return _CUT_SHORT if data[pos : pos + shown] == FRAME_MARKER[:shown] else _INVALID
    marker, crc, length = _HEAD_V2.unpack_from(data, pos)
    if marker != FRAME_MARKER or length > _MAX_PAYLOAD:
        return _INVALID
    stop = pos + _HEAD_V2.size + length + 1
    if stop > end:
        return _CUT_SHORT
    if data[stop - 1] != FRAME_END:
        return _INVALID
    view = memoryview(data)
    if zlib.crc32(view[pos + _CRC_FROM : stop - 1]) != crc:
        return _INVALID
    return _decoded(view[pos + _HEAD_V2.size : stop - 1], stop)


def _candidates_v2(data: bytes, pos: int, end: int) -> Iterator[int]:
    found = data.find(FRAME_MARKER, pos, end)
    while found >= 0:
        yield found
        found = data.find(FRAME_MARKER, found + 1, end)


def _probe_v1(data: bytes, pos: int, end: int) -> Probe:
    if end - pos < _HEAD_V1.size:
        return _CUT_SHORT  # no marker to tell a cut header from garbage: any short rest is "cut"
    length, crc = _HEAD_V1.unpack_from(data, pos)
    if not 0 < length <= _MAX_PAYLOAD:
        return _INVALID
    stop = pos + _HEAD_V1.size + length
    if stop > end:
        return _CUT_SHORT
    payload = memoryview(data)[pos + _HEAD_V1.size : stop]
    if zlib.crc32(payload) != crc:
        return _INVALID
    return _decoded(payload, stop)


# a version-1 payload is a msgpack array (fixarray of 1-15 tables, or array16/array32)
_V1_START = re.compile(rb"(?=.{%d}[\x91-\x9f\xdc\xdd])" % _HEAD_V1.size, re.DOTALL)


def _candidates_v1(data: bytes, pos: int, end: int) -> Iterator[int]:
    for match in _V1_START.finditer(data, pos, end):
        yield match.start()


@dataclass(frozen=True)
class FrameFormat:
    version: int
    magic: bytes
    probe: Callable[[bytes, int, int], Probe]
    candidates: Callable[[bytes, int, int], Iterator[int]]
    zero_tail_is_end: bool  # preallocated segments end in zeros that are free space, not data


FORMATS: dict[bytes, FrameFormat] = {
    MAGIC: FrameFormat(2, MAGIC, _probe_v2, _candidates_v2, zero_tail_is_end=True),
    MAGIC_V1: FrameFormat(1, MAGIC_V1, _probe_v1, _candidates_v1, zero_tail_is_end=False),
}
"""By segment magic. The newest first: a segment whose header is damaged is tried in this order."""
