"""Journal segments for the tests: real ones from a real writer, and old-format (version 1) ones."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgspec
from storage_helpers import ROW_FACTORIES, T0

from kalshi_collector.storage.journal import (
    MAGIC_V1,
    JournalOptions,
    JournalWriter,
    encode_frame,
    list_segments,
)

Frame = list[tuple[str, list]]


def rows(table: str, start: int, n: int) -> list[tuple]:
    """``n`` rows of ``table`` with ids ``start .. start + n - 1`` (see ``ID_COLUMN``)."""
    return [ROW_FACTORIES[table](T0 + i, i) for i in range(start, start + n)]


def frames_of(n_frames: int, per_frame: int = 10, table: str = "book_events") -> list[Frame]:
    return [[(table, rows(table, i * per_frame, per_frame))] for i in range(n_frames)]


def write_journal(journal_dir: Path, frames: list[Frame], *, segment_bytes: int = 1 << 20) -> Path:
    """Journal ``frames`` with a real writer into one segment and close it (trimmed to its data;
    :func:`preallocated` gives it back the zero tail a kill -9 leaves). Returns the segment."""
    writer = JournalWriter(journal_dir, "c0", options=JournalOptions(segment_bytes=segment_bytes))
    for frame in frames:
        writer.append(encode_frame(frame))
    number = writer.current
    writer.close()
    [(found, path)] = list_segments(journal_dir, "c0")
    assert found == number
    return path


def preallocated(data: bytes, size: int = 1 << 16) -> bytes:
    """``data`` as it sits in a preallocated segment: followed by zeros up to ``size``."""
    return data + bytes(max(0, size - len(data)))


def encode_frame_v1(frame: Frame) -> bytes:
    """A frame as releases before the version-2 format wrote it."""
    payload = msgspec.msgpack.encode(frame)
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def segment_v1(frames: list[Frame]) -> bytes:
    return MAGIC_V1 + b"".join(encode_frame_v1(f) for f in frames)


def as_tuples(frames: list) -> list[Frame]:
    return [[(t, [tuple(r) for r in batch]) for t, batch in frame] for frame in frames]
