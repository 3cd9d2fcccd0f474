"""Big bytes values written from where they are: msgpack as a list of pieces, never one big copy.

Why: msgpack copies every value into its output, in one C call that holds the GIL, into memory
touched for the first time (a page fault every 4 kB). One rediscovery of the whole exchange
journals 17 REST bodies of 2 MB each: encoding them in one frame held the GIL for 46 ms (the
copy into the frame, the copy to ``bytes``, the join of the frames), and encoding the same rows
again for the part-writer process another 19 ms: two stalls of the read loop, every rediscovery.

Here a bytes value of :data:`BY_REFERENCE` bytes or more (a row's last value, where the tables
that carry bodies keep them; or a list item that is itself a blob, as Arrow IPC tables are) is
not copied: the output is a list of buffers (headers, runs of the other items encoded by msgspec
with at most :data:`RUN_BYTES` of values each, and the big values themselves) whose concatenation
is byte for byte what msgspec would have written. The journal writes the pieces one after the
other (``pwrite`` releases the GIL) and checksums them piece by piece (``zlib.crc32`` releases it
beyond 5 kB); the part writer sends them down its pipe the same way.

Values under :data:`BY_REFERENCE` and lists without a big value take the usual one C call.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_right
from collections.abc import Callable, Container, Sequence
from itertools import accumulate, compress
from operator import itemgetter
from typing import Any, NamedTuple

from kalshi_collector.storage.journal.frames import (
    FRAME_END,
    FRAME_MARKER,
    encode_list,
    encode_rows,
)

__all__ = [
    "BY_REFERENCE",
    "Buffer",
    "EncodedItems",
    "RUN_BYTES",
    "encode_items",
    "frame_of",
    "frame_pieces",
    "list_pieces",
    "pieces_length",
    "row_pieces",
    "array_header",
]

Buffer = bytes | bytearray | memoryview
Encode = Callable[[list], bytes]

BY_REFERENCE = 64 << 10
"""Bytes values this large are referenced, not copied (msgpack's ``bin 32``, as msgspec writes them)."""
RUN_BYTES = 1 << 20
"""At most this many bytes of values in one msgspec call: about a tenth of a millisecond of copying."""

_LAST = itemgetter(-1)
_REFERABLE = (bytes, bytearray, memoryview)
_HEAD = struct.Struct("<4sII")  # frames.py's version-2 head: marker, CRC-32, payload length
_LENGTH = struct.Struct("<I")


def pieces_length(pieces: Sequence[Buffer]) -> int:
    return sum(memoryview(p).nbytes for p in pieces)


def array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    return b"\xdc" + n.to_bytes(2, "big") if n < 1 << 16 else b"\xdd" + n.to_bytes(4, "big")


def _header_length(n: int) -> int:
    return 1 if n < 16 else 3 if n < 1 << 16 else 5


def _size(value: Any) -> int:
    if isinstance(value, memoryview):
        return value.nbytes
    return len(value) if isinstance(value, (bytes, bytearray, str)) else 0


def _sizes(items: Sequence[Any], rows: bool) -> list[int]:
    """The byte size of each item's big-value candidate (0: none), in C where the values allow."""
    try:
        return list(map(len, map(_LAST, items) if rows else items))
    except (TypeError, IndexError):  # a None, an int, an empty row: one item at a time
        return [_size(item[-1] if rows and item else None if rows else item) for item in items]


def _value(item: Any, rows: bool) -> Any:
    return item[-1] if rows else item


def list_pieces(items: Sequence[Any], encode: Encode = encode_list) -> list[Buffer]:
    """msgpack of the list ``items`` (rows, or blobs) as pieces; see the module docstring.

    Items are rows when the first one is a tuple or list: then a row's *last* value is the one
    that may be referenced. ``encode`` encodes a list: :func:`~.frames.encode_list` (the journal:
    a row msgpack cannot hold becomes a row of its repr) or :func:`~.frames.encode_rows` (raises).
    """
    rows = bool(items) and isinstance(items[0], (tuple, list))
    sizes = _sizes(items, rows)
    cum = list(accumulate(sizes, initial=0))
    if cum[-1] <= RUN_BYTES:
        return [encode(list(items))]
    big = [i for i in compress(range(len(items)), map(BY_REFERENCE.__le__, sizes))
           if isinstance(_value(items[i], rows), _REFERABLE)]
    out: list[Buffer] = [array_header(len(items))]
    start = 0
    for stop in (*big, len(items)):
        _runs(out, items, start, stop, cum, encode)
        if stop < len(items):
            out.extend(_referenced(items[stop], rows, encode))
        start = stop + 1
    return out


def _runs(out: list[Buffer], items: Sequence[Any], start: int, stop: int, cum: list[int], encode: Encode) -> None:
    """Items ``[start, stop)`` in msgspec calls of at most RUN_BYTES of values (or one item)."""
    while start < stop:
        end = min(stop, max(start + 1, bisect_right(cum, cum[start] + RUN_BYTES) - 1))
        out.append(memoryview(encode(list(items[start:end])))[_header_length(end - start):])
        start = end


def row_pieces(row: Sequence[Any], encode: Encode) -> list[Buffer]:
    """The msgpack of one row whose last value is big, as pieces: that value referenced."""
    return _referenced(row, True, encode)


def _referenced(item: Any, rows: bool, encode: Encode) -> list[Buffer]:
    """One item whose (last) value is big: its headers and other values, then the value itself."""
    value = _value(item, rows)
    head = b"\xc6" + memoryview(value).nbytes.to_bytes(4, "big")  # bin 32
    if not rows:
        return [head, value]
    try:
        prefix = encode_rows(list(item[:-1]))  # the row's other values, under a header one shorter
    except (TypeError, ValueError, OverflowError):
        return [memoryview(encode([item]))[1:]]  # the whole row as ``encode`` treats a bad one
    return [array_header(len(item)) + prefix[_header_length(len(item) - 1):], head, value]


class EncodedItems(NamedTuple):
    """A list's msgpack as pieces; ``exact`` unless a row msgpack cannot hold became a row of its
    repr (then only the journal may use the pieces: the part writer needs the row itself)."""

    pieces: list[Buffer]
    exact: bool


def encode_items(items: Sequence[Any], by_reference: bool) -> EncodedItems:
    """``items`` (rows, or blobs) encoded once, for the journal and for the part writer alike;
    big values referenced when ``by_reference`` (a table that carries bodies, or Arrow blobs)."""
    try:
        return EncodedItems(list_pieces(items, encode_rows) if by_reference else [encode_rows(items)], True)
    except (TypeError, ValueError, OverflowError):
        return EncodedItems(list_pieces(items, encode_list) if by_reference else [encode_list(items)], False)


def frame_of(batches: Sequence[tuple[str, Sequence[Buffer]]]) -> list[Buffer]:
    """One version-2 frame of ``[(table, items), ...]`` (see ``frames.py``) whose items are already
    encoded (:func:`encode_items`' pieces): the pieces to write, small ones joined."""
    payload: list[Buffer] = [array_header(len(batches))]
    for name, pieces in batches:
        payload.append(b"\x92" + encode_list([name])[1:])
        payload.extend(pieces)
    length = pieces_length(payload)
    crc = zlib.crc32(_LENGTH.pack(length))
    for piece in payload:
        crc = zlib.crc32(piece, crc)
    return _coalesced([_HEAD.pack(FRAME_MARKER, crc, length), *payload, bytes((FRAME_END,))])


def _coalesced(pieces: list[Buffer]) -> list[Buffer]:
    """Runs of small pieces joined (one write each), big ones left where they are."""
    out: list[Buffer] = []
    small: list[Buffer] = []
    for piece in pieces:
        if memoryview(piece).nbytes < BY_REFERENCE:
            small.append(piece)
            continue
        if small:
            out.append(b"".join(small))
            small = []
        out.append(piece)
    if small:
        out.append(b"".join(small))
    return out


def frame_pieces(batches: list[tuple[str, list]], by_reference: Container[str]) -> list[Buffer]:
    """:func:`~.frames.encode_frame`'s frame of ``[(table, items), ...]`` (the same bytes) as
    pieces, the big values of the batches named in ``by_reference`` referenced."""
    return frame_of([(name, encode_items(items, name in by_reference).pieces) for name, items in batches])
