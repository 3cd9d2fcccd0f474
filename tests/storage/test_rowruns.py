"""Rows encoded on append (``storage/rowruns.py``): runs of one UTC day whose bytes are the msgpack
the journal and the part writer have always used, big bodies referenced, bad rows kept for the
quarantine, and no run ever taken half-written while another thread appends."""

from __future__ import annotations

import threading
from pathlib import Path

import msgspec
import numpy as np
import pyarrow.parquet as pq
from storage_helpers import DAY_US, T0, delta_row, raw_rest_row

from kalshi_collector.storage import LiveStore
from kalshi_collector.storage.catalog import TABLES
from kalshi_collector.storage.journal.pieces import BY_REFERENCE
from kalshi_collector.storage.rowruns import RUN_BYTES, RowRuns, decode_runs, runs_by_day, runs_of

DELTAS = TABLES["orderbook_deltas"]
DAY0 = T0 // DAY_US


def test_a_run_is_the_msgpack_of_its_rows_and_decodes_back() -> None:
    runs = RowRuns()
    rows = [delta_row(T0 + i, i) for i in range(1000)]
    runs.extend(rows)
    assert len(runs) == 1000
    (run,) = runs.sealed()
    assert (run.count, run.day) == (1000, DAY0)
    assert b"".join(run.chunk()) == msgspec.msgpack.encode(rows)
    assert decode_runs([run]) == rows


def test_rows_of_another_day_start_another_run_in_order() -> None:
    runs = RowRuns()
    times = [T0, T0 + DAY_US, T0 + DAY_US + 1, T0 + 2, T0 + DAY_US + 5]
    runs.extend(delta_row(t, i) for i, t in enumerate(times))
    sealed = runs.sealed()
    assert [(r.day, r.count) for r in sealed] == [(DAY0, 1), (DAY0 + 1, 2), (DAY0, 1), (DAY0 + 1, 1)]
    assert [row[0] for row in decode_runs(sealed)] == times
    by_day, bad = runs_by_day(DELTAS, sealed)
    assert bad == [] and {day: [r[0] for r in decode_runs(rs)] for day, rs in by_day.items()} == {
        DAY0: [T0, T0 + 2], DAY0 + 1: [T0 + DAY_US, T0 + DAY_US + 1, T0 + DAY_US + 5]}


def test_rows_without_a_valid_time_are_filed_row_by_row_with_the_reason() -> None:
    runs = RowRuns()
    runs.extend([delta_row(T0), (None, *delta_row(T0)[1:]), ("soon", *delta_row(T0)[1:]), delta_row(T0 + 1),
                 (-5, *delta_row(T0)[1:]), (True, *delta_row(T0)[1:])])
    by_day, bad = runs_by_day(DELTAS, runs.sealed())
    assert [r[0] for r in decode_runs(by_day[DAY0])] == [T0, T0 + 1]
    assert [row[0] for row, _ in bad] == [None, "soon", -5, True]
    assert all("epoch microseconds" in reason for _, reason in bad)


def test_a_row_msgpack_cannot_hold_is_kept_as_its_repr_for_the_quarantine() -> None:
    runs = RowRuns()
    odd = (T0, object(), 1, 2, "T", "delta", "no", 67.0, -25.0, 1)
    huge = (T0, 1 << 70, 1, 2, "T", "delta", "no", 67.0, -25.0, 1)
    runs.extend([delta_row(T0), odd, huge, delta_row(T0 + 1)])
    sealed = runs.sealed()
    assert len(runs) == 4 and sum(r.count for r in sealed) == 4
    by_day, bad = runs_by_day(DELTAS, sealed)
    assert [r[0] for r in decode_runs(by_day[DAY0])] == [T0, T0 + 1]  # the good rows, whole and unchanged
    assert [row[0][:17] for row, _ in bad] == ["unencodable row: "] * 2
    assert "object object" in bad[0][0][0] and str(1 << 70) in bad[1][0][0]


def test_numpy_scalars_are_their_python_values() -> None:
    runs = RowRuns()
    runs.append((np.int64(T0), np.int64(7), 1, 2, "T", "delta", "no", np.float64(0.67), -25.0, 1))
    assert decode_runs(runs.sealed())[0][:3] == (T0, 7, 1)


def test_a_big_body_is_a_run_of_its_own_holding_the_very_object() -> None:
    runs = RowRuns(by_reference=True)
    body = b"x" * (2 << 20)
    rows = [raw_rest_row(T0, 0), (*raw_rest_row(T0 + 1, 1)[:-1], body), raw_rest_row(T0 + 2, 2)]
    runs.extend(rows)
    sealed = runs.sealed()
    assert [r.count for r in sealed] == [1, 1, 1]
    assert any(piece is body for piece in sealed[1].pieces)
    assert max(len(memoryview(p)) for r in sealed for p in r.pieces if p is not body) < BY_REFERENCE
    assert decode_runs(sealed) == rows
    assert decode_runs(sealed)[1][-1] is body  # read back for an in-process part without a copy


def test_an_open_run_is_sealed_at_its_size_cap() -> None:
    runs = RowRuns()
    row = (*delta_row(T0)[:4], "T" * 1000, *delta_row(T0)[5:])
    runs.extend([row] * (3 * RUN_BYTES // 1000))
    sealed = runs.sealed()
    assert len(sealed) >= 3 and all(r.nbytes <= RUN_BYTES + 2000 for r in sealed)


def test_drop_and_put_back_keep_the_count_and_the_order() -> None:
    runs = RowRuns()
    runs.extend(delta_row(T0 + i, i) for i in range(3))
    taken = runs.sealed()
    runs.extend(delta_row(T0 + i, i) for i in range(3, 5))
    runs.drop(len(taken))
    assert len(runs) == 2
    runs.put_back(taken)
    assert len(runs) == 5 and [r[3] for r in decode_runs(runs.sealed())] == [0, 1, 2, 3, 4]


def test_no_row_is_lost_or_torn_while_another_thread_takes_runs() -> None:
    runs = RowRuns()
    taken: list = []
    done = threading.Event()

    def journal() -> None:
        while not done.is_set():
            got = runs.sealed()
            runs.drop(len(got))
            taken.extend(got)
        got = runs.sealed()
        runs.drop(len(got))
        taken.extend(got)

    thread = threading.Thread(target=journal)
    thread.start()
    for i in range(50_000):
        runs.append(delta_row(T0 + i, i))
    done.set()
    thread.join()
    assert [row[3] for row in decode_runs(taken)] == list(range(50_000))
    assert len(runs) == 0


def test_recovered_rows_become_runs_old_short_rows_widened() -> None:
    events = TABLES["book_events"]
    short = (T0, None, 1, 0, 2, "gap", "missed")  # an older version's row, before the last column
    runs, bad = runs_of(events, [short, (T0 + DAY_US, None, 1, 1, 3, "gap", "x", None), ("bad",)])
    assert [(r.day, r.count) for r in runs] == [(DAY0, 1), (DAY0 + 1, 1)]
    assert decode_runs(runs[:1]) == [(*short, None)]
    assert [row for row, _ in bad] == [("bad",)]


def test_the_store_quarantines_an_unencodable_row_and_stores_the_rest(tmp_path: Path) -> None:
    with LiveStore(tmp_path, journal_sync_interval=None) as store:
        store.extend("orderbook_deltas", [delta_row(T0, 0), (T0, object(), 1, 2, "T", "delta", "no", 67.0, -25.0, 1),
                                          delta_row(T0 + 1, 1)])
        store.sync()
        assert store.flush() == {"orderbook_deltas": 2}
        assert store.stats["rows_rejected"]["orderbook_deltas"] == 1
    assert sorted(pq.read_table(tmp_path / "orderbook_deltas").column("seq").to_pylist()) == [0, 1]
    (quarantined,) = (tmp_path / "_rejected" / "orderbook_deltas").iterdir()
    assert b"unencodable row" in quarantined.read_bytes()
