"""Big bodies by reference (``journal/pieces.py``): the pieces are byte for byte the frame msgspec
writes, the big values in them are the very objects appended (never copied), and a journal and a
part written from pieces read back the same rows."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from storage_helpers import T0, delta_row, raw_ws_row

from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.journal import JournalWriter, encode_frame, list_segments, read_segment
from kalshi_collector.storage.journal.frames import encode_rows
from kalshi_collector.storage.journal.pieces import BY_REFERENCE, RUN_BYTES, frame_pieces, list_pieces
from kalshi_collector.storage.journalsync import BY_REFERENCE as SYNCED_BY_REFERENCE
from kalshi_collector.storage.journalsync import encode_in_slices

BIG = 2 << 20


def body(i: int, size: int = BIG) -> bytes:
    return os.urandom(16) * (size // 16) + bytes([i % 256])


def rest_row(i: int, value: object) -> tuple:
    return (T0 + i, i, "discovery", f"/events?cursor={i}", 200, value)


def joined(pieces: list) -> bytes:
    return b"".join(bytes(memoryview(p).cast("B")) for p in pieces)


CASES = {
    "bodies of 2 MB": [rest_row(i, body(i)) for i in range(5)],
    "big and small and none, every kind of buffer": [
        rest_row(0, b"{}"), rest_row(1, body(1)), rest_row(2, None), rest_row(3, bytearray(body(3, BY_REFERENCE))),
        rest_row(4, memoryview(body(4, BY_REFERENCE + 1))), rest_row(5, "a str body" * 20_000), rest_row(6, b"x"),
    ],
    "only small bodies, more than a run of them": [rest_row(i, body(i, 40_000)) for i in range(60)],
    "a value msgpack cannot hold, beside a big body": [rest_row(0, body(0)), (T0, 1 << 70, "x", "y", 1, body(1))],
}


@pytest.mark.parametrize("name", CASES)
def test_the_pieces_are_the_frame_msgspec_writes(name: str) -> None:
    rows = CASES[name]
    batches = [("orderbook_deltas", [delta_row(T0 + i, i) for i in range(50)]), ("raw_rest", rows)]
    pieces = frame_pieces(batches, {"raw_rest"})
    assert len(pieces) > 1
    assert joined(pieces) == encode_frame(batches)


def test_a_big_body_is_the_object_appended_not_a_copy() -> None:
    rows = CASES["big and small and none, every kind of buffer"]
    pieces = frame_pieces([("raw_rest", rows)], {"raw_rest"})
    ids = {id(p) for p in pieces}
    assert {i for i, row in enumerate(rows) if id(row[-1]) in ids} == {1, 3, 4}  # the str is encoded
    bodies = {id(row[-1]) for row in rows}
    assert max(memoryview(p).nbytes for p in pieces if id(p) not in bodies) <= RUN_BYTES + 100  # no big copy


def test_small_frames_are_one_piece_and_big_blobs_are_referenced() -> None:
    small = [("raw_rest", [rest_row(i, b"{}") for i in range(100)]), ("orderbook_deltas", [delta_row(T0, 1)])]
    assert frame_pieces(small, {"raw_rest"}) == [encode_frame(small)]
    blobs = [("orderbook_snapshots@arrow", [body(0), b"small", body(1, BY_REFERENCE)])]
    pieces = frame_pieces(blobs, {"orderbook_snapshots@arrow"})
    assert joined(pieces) == encode_frame(blobs) and any(p is blobs[0][1][0] for p in pieces)
    # rows' bodies are referenced by their runs (rowruns.py); the sync encodes only Arrow tables' blobs
    assert "orderbook_snapshots@arrow" in SYNCED_BY_REFERENCE and "raw_rest@arrow" in SYNCED_BY_REFERENCE
    assert "raw_rest" not in SYNCED_BY_REFERENCE


def test_the_strict_encoder_still_refuses_what_msgpack_cannot_hold() -> None:
    """The part writer's encoding raises on such a row, so that its caller writes the part itself."""
    with pytest.raises(OverflowError):
        list_pieces([rest_row(0, body(0)), (T0, 1 << 70, "x", "y", 1, body(1))], encode_rows)
    rows = CASES["bodies of 2 MB"]
    assert joined(list_pieces(rows, encode_rows)) == msgspec.msgpack.encode(rows)


def test_a_journal_written_from_pieces_reads_back_every_row(tmp_path: Path) -> None:
    rows = CASES["big and small and none, every kind of buffer"]
    batches = [("raw_ws", [raw_ws_row(T0 + i, i) for i in range(4500)]), ("raw_rest", rows)]
    writer = JournalWriter(tmp_path, "c0")
    writer.append(encode_in_slices(batches))
    writer.close()
    (_, segment), = list_segments(tmp_path, "c0")
    scan = read_segment(segment)
    assert scan.skipped == []
    found: dict[str, list] = {}
    for frame in scan.frames:
        for table, got in frame:
            found.setdefault(table, []).extend(tuple(r) for r in got)
    assert found["raw_ws"] == batches[0][1]
    expected = [row[:-1] + ((bytes(row[-1]) if isinstance(row[-1], (bytearray, memoryview)) else row[-1]),)
                for row in rows]
    assert found["raw_rest"] == expected


@pytest.mark.parametrize("helper", [False, True], ids=["in process", "helper process"])
def test_bodies_of_megabytes_are_stored_whole_after_a_crash_and_after_a_flush(tmp_path: Path, helper: bool) -> None:
    rows = [rest_row(i, body(i)) for i in range(6)]
    store = LiveStore(tmp_path, journal_sync_interval=None, writer_process_min_rows=1 if helper else None)
    store.extend("raw_rest", rows[:3])
    store.sync()
    store._journal.close()  # a kill -9 after the sync: only the journal has them
    with LiveStore(tmp_path, journal_sync_interval=None, writer_process_min_rows=1 if helper else None) as again:
        assert again.recover()["raw_rest"] == 3
        again.extend("raw_rest", rows[3:])
        again.sync()
        assert again.flush() == {"raw_rest": 3}
        assert again.stats["writer_process_jobs"] == (2 if helper else 0)
    stored = pq.read_table(tmp_path / "raw_rest").sort_by("n").to_pylist()
    assert [(r["n"], r["body"]) for r in stored] == [(row[1], row[-1]) for row in rows]
