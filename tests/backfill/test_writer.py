"""The run's one writer: commits in order and batched, an event merged only after its commits,
a write error stops it and surfaces."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from kalshi_collector.backfill.store import BackfillStore, MarketCheckpoint, trades_table
from kalshi_collector.backfill.writer import Writer
from kalshi_collector.kalshi.models import Trade


def _trades(event: str, ticker: str, *ids: str):  # type: ignore[no-untyped-def]
    return trades_table(event, [
        Trade(trade_id=i, ticker=ticker, count=1.0, yes_price=40.0, no_price=60.0,
              created_time=datetime.fromtimestamp(1_770_000_000 + n, UTC), taker_side="yes",
              taker_book_side="bid", is_block_trade=False)
        for n, i in enumerate(ids)
    ])


def _cp(event: str, ticker: str, end: int) -> MarketCheckpoint:
    return MarketCheckpoint(market_ticker=ticker, event_ticker=event, trades=[(0, end)])


async def test_commits_pile_up_into_one_part_and_the_event_is_merged_after_them(tmp_path: Path) -> None:
    store = BackfillStore(tmp_path)
    assembled: list[str] = []
    writer = Writer(store, assembled.append)
    writer.commit(_cp("E", "E-M1", 10), _trades("E", "E-M1", "a", "b"), None)
    writer.commit(_cp("E", "E-M2", 10), _trades("E", "E-M2", "c"), None)
    writer.commit(_cp("F", "F-M1", 10), _trades("F", "F-M1", "d"), None)
    writer.assemble("E")
    await writer.close()
    assert assembled == ["E"]
    assert pq.read_table(store.event_file("trades", "E"))["trade_id"].to_pylist() == ["a", "b", "c"]
    # F was not assembled: its rows wait in one staged part, its checkpoint already claims them
    work = tmp_path / "historical" / "_backfill"
    assert len(list((work / "F" / "parts").glob("trades-*.parquet"))) == 1
    assert msgspec.json.decode((work / "F" / "F-M1.json").read_bytes(), type=MarketCheckpoint).trades == [(0, 10)]
    assert not store.has_parts("E")


async def test_a_write_error_stops_the_writer_and_is_raised(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where the work folder should be")
    writer = Writer(BackfillStore(tmp_path, work_dir=tmp_path / "blocked"), lambda event: None)
    writer.commit(_cp("E", "E-M1", 10), _trades("E", "E-M1", "a"), None)
    with pytest.raises(OSError):
        await writer.close()
    assert isinstance(writer.error, OSError)
    with pytest.raises(OSError):
        writer.assemble("E")
