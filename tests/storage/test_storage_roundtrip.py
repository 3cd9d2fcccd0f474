"""Rows in, real parquet files out, read back through ParquetStorage with the right types."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import msgspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from storage_helpers import DAY, ID_COLUMN, ROW_FACTORIES, T0, data_files, journal_rows, us

from kalshi_collector.storage import TABLES, JournalLockedError, LiveStore, ParquetStorage
from kalshi_collector.storage.layout import parse_part_name


def test_every_table_round_trips_with_utc_times_and_schema_types(data_dir: Path) -> None:
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        for table, make in ROW_FACTORIES.items():
            store.extend(table, [make(T0 + i * 1000, i) for i in range(50)])
        store.sync()
        assert store.buffered_rows == 50 * len(ROW_FACTORIES)
        written = store.flush()
        assert written == dict.fromkeys(TABLES, 50)
        assert store.buffered_rows == 0

    storage = ParquetStorage(data_dir)
    for table, make in ROW_FACTORIES.items():
        df = storage.read_parquets(table)
        schema = TABLES[table].schema
        assert list(df.columns) == schema.names
        assert len(df) == 50
        for fld in schema:
            if pa.types.is_timestamp(fld.type):
                assert isinstance(df[fld.name].dtype, pd.DatetimeTZDtype), fld.name
                assert str(df[fld.name].dtype.tz) == "UTC"
        first = df.iloc[0]
        expected = make(T0, 0)
        assert first[schema.names[0]] == pd.Timestamp(T0, unit="us", tz="UTC")
        for name, value in zip(schema.names[1:], expected[1:], strict=True):
            if value is None:
                assert pd.isna(first[name]), name
            elif isinstance(value, int) and name.endswith("_ts"):
                assert first[name] == pd.Timestamp(value, unit="us", tz="UTC")
            else:
                assert first[name] == value, name
        # the file itself carries the Arrow schema (float64 money, int32 sid, tz-aware times)
        [path] = data_files(data_dir / table)
        assert pq.read_schema(path).remove_metadata().equals(schema)


def test_aliases_read_the_same_tables(data_dir: Path) -> None:
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.append("market_snapshots", ROW_FACTORIES["market_snapshots"](T0))
        store.append("orderbook_snapshots", ROW_FACTORIES["orderbook_snapshots"](T0))
        store.append("orderbook_deltas", ROW_FACTORIES["orderbook_deltas"](T0))
    storage = ParquetStorage(data_dir)
    assert len(storage.read_parquets("market")) == 1
    assert len(storage.read_parquets("orderbook")) == 1
    assert len(storage.read_parquets("deltas")) == len(storage.read_parquets("orderbook_deltas")) == 1


def test_part_names_carry_collector_time_range_and_day_folder(data_dir: Path) -> None:
    late = us(DAY, 86_399.5)
    early = us(DAY + dt.timedelta(days=1), 0.25)
    with LiveStore(data_dir, collector_id="vm_7", journal_sync_interval=None) as store:
        store.extend("orderbook_deltas", [ROW_FACTORIES["orderbook_deltas"](t, i) for i, t in enumerate((late, early))])
        store.flush()
    parts = data_files(data_dir / "orderbook_deltas")
    assert [p.parent.name for p in parts] == ["2026-02-11", "2026-02-12"]
    names = [parse_part_name(p.name) for p in parts]
    assert [(n.collector_id, n.first_us, n.last_us) for n in names] == [("vm_7", late, late), ("vm_7", early, early)]
    assert names[0].n == names[1].n  # cut at the same journal segment


def test_flush_sees_rows_appended_after_it_started_only_next_time(data_dir: Path) -> None:
    store = LiveStore(data_dir, journal_sync_interval=None)
    store.append("book_events", ROW_FACTORIES["book_events"](T0, 1))
    assert store.flush() == {"book_events": 1}
    assert store.flush() == {}
    store.append("book_events", ROW_FACTORIES["book_events"](T0 + 1, 2))
    assert store.flush() == {"book_events": 1}
    store.close()
    df = ParquetStorage(data_dir).read_parquets("book_events")
    assert sorted(df["expected_seq"]) == [1, 2]


def test_bad_calls_are_clear_errors(data_dir: Path) -> None:
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        with pytest.raises(ValueError, match="unknown table 'orderbook'.*market_snapshots"):
            store.append("orderbook", (T0,))
        with pytest.raises(ValueError, match=r"book_events: expected 8 values \(ts, market_ticker"):
            store.append("book_events", (T0, None))
        with pytest.raises(ValueError, match="expected 8 values"):
            store.extend("book_events", [ROW_FACTORIES["book_events"](T0), (T0,)])
        assert store.buffered_rows == 0
    with pytest.raises(RuntimeError, match="closed"):
        store.append("book_events", ROW_FACTORIES["book_events"](T0))
    with pytest.raises(ValueError, match="collector_id"):
        LiveStore(data_dir, collector_id="a-b", journal_sync_interval=None)


def test_bad_rows_are_quarantined_and_the_good_ones_stored(data_dir: Path, caplog) -> None:
    good = [ROW_FACTORIES["orderbook_snapshots"](T0 + i, i) for i in range(100)]
    bad_time = ("2026-02-11T18:29:41Z", "KX", "yes", 1.0, 2.0)
    bad_price = (T0, "KX", "yes", "0.2900", 2.0)
    null_ticker = (T0, None, "yes", 1.0, 2.0)
    rows = good[:30] + [bad_time] + good[30:70] + [bad_price, null_ticker] + good[70:]
    with caplog.at_level(logging.ERROR), LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("orderbook_snapshots", rows)
        assert store.flush() == {"orderbook_snapshots": 100}
        assert store.stats["rows_rejected"]["orderbook_snapshots"] == 3
        assert store.buffered_rows == 0
    assert "quarantined" in caplog.text
    assert len(ParquetStorage(data_dir).read_parquets("orderbook")) == 100
    [quarantine] = list((data_dir / "_rejected" / "orderbook_snapshots").iterdir())
    stored = msgspec.msgpack.decode(quarantine.read_bytes())
    assert [tuple(r["row"]) for r in stored] == [bad_time, bad_price, null_ticker]
    assert "epoch microseconds" in stored[0]["reason"] and "must not be null" in stored[2]["reason"]


def test_values_msgpack_cannot_hold_do_not_block_the_journal(data_dir: Path) -> None:
    class Weird:
        def __repr__(self) -> str:
            return "Weird()"

    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.append("book_events", (T0, None, 1, 1, 2, "gap", Weird(), None))
        store.append("book_events", (T0, None, 1, 2**70, 2, "gap", "big int", None))
        store.append("book_events", ROW_FACTORIES["book_events"](T0, 3))
        store.sync()
        assert store.stats["journal_errors"] == 0
        logged = journal_rows(data_dir / "_journal")["book_events"]
        # kept as the repr of the whole row, never as a value that would pass for the real one
        assert "unencodable" in logged[0][0] and "Weird()" in logged[0][0] and "unencodable" in logged[1][0]
        store.flush()
        assert store.stats["rows_rejected"]["book_events"] == 2
        assert store.stats["write_errors"] == 0 and store.stats["journal_segments"] == 1
    df = ParquetStorage(data_dir).read_parquets("book_events")
    assert list(df["expected_seq"]) == [3]


def test_one_live_store_per_collector_id_and_data_dir(data_dir: Path) -> None:
    first = LiveStore(data_dir, journal_sync_interval=None)
    with pytest.raises(JournalLockedError, match="collector_id 'c0'"):
        LiveStore(data_dir, journal_sync_interval=None)
    other = LiveStore(data_dir, collector_id="c1", journal_sync_interval=None)
    other.close()
    first.close()
    LiveStore(data_dir, journal_sync_interval=None).close()


def test_sync_thread_journals_without_being_asked(data_dir: Path) -> None:
    store = LiveStore(data_dir, journal_sync_interval=0.02)
    store.extend("trades_live", [ROW_FACTORIES["trades_live"](T0 + i, i) for i in range(10)])
    deadline = time.monotonic() + 5
    while store.unsynced_rows and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.unsynced_rows == 0
    assert len(journal_rows(data_dir / "_journal")["trades_live"]) == 10
    store.close()
    assert store.stats["rows_written"]["trades_live"] == 10


def test_stats_report_what_happened(data_dir: Path) -> None:
    with LiveStore(data_dir, journal_sync_interval=None) as store:
        store.extend("orderbook_deltas", [ROW_FACTORIES["orderbook_deltas"](T0 + i, i) for i in range(1000)])
        assert store.stats["unsynced_rows"] == 1000
        store.sync()
        stats = store.stats
        assert stats["unsynced_rows"] == 0 and stats["buffered_rows"] == 1000 and stats["journal_bytes"] > 0
        store.flush()
        stats = store.stats
    assert stats["rows_written"]["orderbook_deltas"] == 1000
    assert stats["flushes"] == 1 and stats["write_errors"] == 0 and stats["parts_written"] == 1
    assert stats["last_flush_rows"] == 1000 and stats["last_flush_seconds"] > 0


def test_ids_are_unique_in_factories() -> None:
    for table, make in ROW_FACTORIES.items():
        names = TABLES[table].schema.names
        ids = {make(T0, i)[names.index(ID_COLUMN[table])] for i in range(100)}
        assert len(ids) == 100, table


def test_appends_syncs_and_flushes_on_three_threads_store_every_row_once(data_dir: Path) -> None:
    import threading

    total = 60_000
    store = LiveStore(data_dir, journal_sync_interval=0.001)
    done = threading.Event()

    def produce() -> None:
        make = ROW_FACTORIES["orderbook_deltas"]
        for i in range(total):
            store.append("orderbook_deltas", make(T0 + i, i))
            if i % 1000 == 0:
                time.sleep(0.002)  # let the other threads cut in many times
        done.set()

    def flush_often() -> None:
        while not done.is_set():
            store.flush()
            time.sleep(0.002)

    threads = [threading.Thread(target=produce), threading.Thread(target=flush_often)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert store.stats["flushes"] > 3
    seqs = ParquetStorage(data_dir).read_parquets("deltas")["seq"]
    assert len(seqs) == total and not seqs.duplicated().any()


def test_rows_arriving_during_a_flush_land_in_the_new_segment(data_dir: Path) -> None:
    from storage_helpers import event_row

    from kalshi_collector.storage.fs import LocalFS

    class AppendsWhileWriting(LocalFS):
        store: LiveStore | None = None

        def write_parquet(self, path, table, **options):
            if self.store is not None:  # once: a row arrives (and is synced) mid-flush
                store, self.store = self.store, None
                store.append("book_events", event_row(T0, 777))
                store.sync()
            return super().write_parquet(path, table, **options)

    fs = AppendsWhileWriting()
    store = fs.store = LiveStore(data_dir, journal_sync_interval=None, fs=fs)
    store.extend("book_events", [event_row(T0 + i, i) for i in range(5)])
    store.sync()
    assert store.flush() == {"book_events": 5}
    assert store.stats["journal_segments"] == 1  # the old segment is retired...
    assert journal_rows(data_dir / "_journal") == {"book_events": [list(event_row(T0, 777))]}  # ...the new one kept
    assert store.buffered_rows == 1
    store.close()
    assert store.flush() == {}  # after close: nothing, quietly
    assert sorted(ParquetStorage(data_dir).read_parquets("book_events")["expected_seq"]) == [0, 1, 2, 3, 4, 777]
