"""The research API over a bucket: the same tables, books and trades as from a local folder."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.ops.ops_helpers import S3
from tests.research import sample

from kalshi_collector.research import open_data


def test_open_data_reads_a_bucket(s3: S3, tmp_path: Path) -> None:
    url = s3.url("research")
    sample.build(url, journal_dir=tmp_path / "journal")
    data = open_data(url)
    assert len(data.table("orderbook_deltas")) == len(sample.TAPE)
    assert data.markets() == [sample.A, sample.B]
    state = data.book_at(sample.A, "2026-02-12 00:11")
    assert state.valid and state.as_dict()["yes"] == {Decimal(31): Decimal(1), Decimal(30): Decimal("12.5"),
                                                      Decimal(29): Decimal(5)}
    assert list(data.trades()["source"]) == ["backfill", "live", "both"]
    pytest.importorskip("duckdb")
    assert list(data.sql("SELECT source FROM trades_all")["source"]) == ["backfill", "live", "both"]
    with pytest.raises(LookupError, match=f"no market X in {url}"):
        data.book_at("X", "2026-02-12 00:11")
