"""``storage.data_dir: s3://bucket/prefix`` against moto's S3 server on loopback.

The same layout as on disk, part files and compaction included, read back by ``ParquetStorage``;
the journal stays on local disk and recovers into the bucket after a kill; collectors sharing one
bucket (shards) each compact only their own files; a whole collector run writes there and ``status`` and
``query`` read it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from ops_helpers import S3, collector_config, snapshot_row

from kalshi_collector.cli import main as cli_main
from kalshi_collector.live.collector import Collector, CollectorOptions
from kalshi_collector.sim import SimConfig, SimExchange
from kalshi_collector.storage import LiveStore, ParquetStorage
from kalshi_collector.storage.fs import ObjectStoreFS, open_data_dir
from kalshi_collector.storage.layout import MERGED_PARTS_KEY

DAY = dt.date(2026, 2, 11)
def keys(s3: S3, prefix: str) -> list[str]:
    fs, root = open_data_dir(s3.url(prefix))
    assert isinstance(fs, ObjectStoreFS)
    return sorted(str(k).removeprefix(f"{root}/") for k in fs.fs.find(str(root)))


def etag(s3: S3, prefix: str, key: str) -> str:
    fs, root = open_data_dir(s3.url(prefix))
    assert isinstance(fs, ObjectStoreFS)
    return fs.fs.info(f"{root}/{key}")["ETag"]


def test_live_store_writes_compacts_and_reads_back_the_same_layout(s3: S3, tmp_path: Path) -> None:
    url = s3.url("layout")
    rows = [snapshot_row(DAY, 60.0 * i, i) for i in range(30)]
    with LiveStore(url, journal_sync_interval=None, journal_dir=tmp_path / "journal") as store:
        store.extend("market_snapshots", rows[:10])
        assert store.flush() == {"market_snapshots": 10}
        store.extend("market_snapshots", rows[10:])
        store.append("market_snapshots", snapshot_row(DAY + dt.timedelta(days=1), 5.0, 99))
        store.flush()
        parts = [k for k in keys(s3, "layout") if "/part-" in k]
        assert len(parts) == 3 and all(k.startswith("market_snapshots/2026-02-1") for k in parts)
        assert store.compact(DAY + dt.timedelta(days=1)) == [f"{url.removeprefix('s3://')}/market_snapshots/2026-02-11.parquet"]
    # the same names as on disk; today's part still a part; nothing temporary left in the bucket
    listed = keys(s3, "layout")
    assert "market_snapshots/2026-02-11.parquet" in listed
    assert [k for k in listed if "/part-" in k] == [k for k in parts if "2026-02-12" in k]
    assert not [k for k in listed if Path(k).name.startswith(".")]
    storage = ParquetStorage(url)
    back = storage.read_parquets("market", DAY, DAY)
    assert len(back) == 30 and back["snapshot_ts"].is_monotonic_increasing
    assert sorted(back["volume"]) == sorted(100.0 + i for i in range(30))
    assert len(storage.read_parquets("market")) == 31
    assert storage.urls("market", DAY, DAY) == [f"{url}/market_snapshots/2026-02-11.parquet"]
    merged = json.loads(storage.fs.read_metadata(storage.files("market", DAY, DAY)[0])[MERGED_PARTS_KEY])
    assert len(merged) == 2


def test_a_failed_verify_leaves_the_object_as_it_was(s3: S3) -> None:
    fs, root = open_data_dir(s3.url("atomic"))
    target = root / "t" / "x.parquet"
    fs.write_parquet(target, pa.table({"a": [1, 2]}))

    def refuse(tmp: Path) -> None:
        raise RuntimeError("read-back did not match")

    with pytest.raises(RuntimeError):
        fs.write_parquet(target, pa.table({"a": [7, 8, 9]}), verify=refuse)
    assert fs.read_table(target).column("a").to_pylist() == [1, 2]
    assert fs.listdir(root / "t") == ["x.parquet"]
    assert fs.listdir(root / "t" / "x.parquet") == [] and fs.listdir(root / "nothing") == []


def test_the_journal_stays_local_and_recovers_into_the_bucket_after_a_kill(s3: S3, tmp_path: Path) -> None:
    url = s3.url("recover")
    state = tmp_path / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(state)}
    env.pop("STATE_DIRECTORY", None)
    crash = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from ops_helpers import snapshot_row
        import datetime as dt
        DAY = dt.date(2026, 2, 11)
        from kalshi_collector.storage import LiveStore
        store = LiveStore({url!r}, journal_sync_interval=None)
        store.extend("market_snapshots", [snapshot_row(DAY, i, i) for i in range(12)])
        store.sync()
        os._exit(0)  # killed before any flush: the rows are only in the local journal
    """)
    subprocess.run([sys.executable, "-c", crash], env=env, check=True, timeout=60)
    journal = state / "kalshi-collector" / "journal"
    assert [p.suffix for p in journal.rglob("*.wal")] == [".wal"]
    assert keys(s3, "recover") == []
    os.environ["XDG_STATE_HOME"] = str(state)
    try:
        with LiveStore(url, journal_sync_interval=None) as store:
            recovered = store.recover()
            assert recovered["market_snapshots"] == 12 and sum(recovered.values()) == 12
        with LiveStore(url, journal_sync_interval=None) as store:  # exactly once: nothing left to replay
            assert not any(store.recover().values())
    finally:
        os.environ.pop("XDG_STATE_HOME")
    assert len(ParquetStorage(url).read_parquets("market")) == 12


def test_shards_sharing_a_bucket_compact_only_their_own_files(s3: S3, tmp_path: Path) -> None:
    url = s3.url("shared")
    today = DAY + dt.timedelta(days=1)
    stores = {cid: LiveStore(url, cid, journal_sync_interval=None, journal_dir=tmp_path / cid) for cid in ("c0", "c1")}
    try:
        for i, store in enumerate(stores.values()):
            store.extend("market_snapshots", [snapshot_row(DAY, 10.0 * n + i, n) for n in range(5)])
            store.flush()
        names = keys(s3, "shared")
        assert {n.split("/")[-1].split("-")[1] for n in names} == {"c0", "c1"}  # a collector id in every part name
        assert [p.rsplit("/", 1)[-1] for p in stores["c1"].compact(today)] == [f"{DAY}.c1.parquet"]
        assert [k for k in keys(s3, "shared") if "/part-c1-" in k] == []
        assert [k for k in keys(s3, "shared") if "/part-c0-" in k] != []  # c1 left c0's parts alone
        assert len(ParquetStorage(url).read_parquets("market")) == 10  # day file of c1 + parts of c0
        assert [p.rsplit("/", 1)[-1] for p in stores["c0"].compact(today)] == [f"{DAY}.parquet"]
        assert [k for k in keys(s3, "shared") if "/part-" in k] == []
        c1_file = next(k for k in keys(s3, "shared") if k.endswith(f"{DAY}.c1.parquet"))
        c1_before = etag(s3, "shared", c1_file)
        # a late part from c0: only c0's day file is rewritten
        stores["c0"].append("market_snapshots", snapshot_row(DAY, 3600.0, 7))
        stores["c0"].flush()
        assert stores["c1"].compact(today) == []
        assert stores["c0"].compact(today) != []
        assert etag(s3, "shared", c1_file) == c1_before
        assert len(ParquetStorage(url).read_parquets("market")) == 11
    finally:
        for store in stores.values():
            store.close()


async def _collect_into(url: str, seconds: float) -> dict[str, int]:
    async with SimExchange(SimConfig(seed=2, series=("KXHIGHCHI",), message_rate=150, history_days=2,
                                     cutoff_days=1, history_trades_per_market=10)) as sim:
        config = collector_config(sim, url)
        collector = Collector(config, options=CollectorOptions(stats_interval=3600))
        await collector.run(seconds)
        return dict(collector.store.stats["rows_written"])


def test_a_collector_writes_to_the_bucket_and_status_and_query_read_it(
    s3: S3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = s3.url("collector")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    written = asyncio.run(_collect_into(url, 2.5))
    assert written["market_snapshots"] > 0 and written["orderbook_deltas"] > 0
    storage = ParquetStorage(url)
    deltas = storage.read_parquets("orderbook_deltas")
    assert len(deltas) == written["orderbook_deltas"]

    assert cli_main(["status", "--data-dir", url, "--config", str(tmp_path / "none.yaml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data_dir"] == url
    rows = {t["table"]: t["rows"] for t in report["tables"]}
    assert rows["orderbook_deltas"] == written["orderbook_deltas"]

    assert cli_main(["query", "--data-dir", url, "--config", str(tmp_path / "none.yaml"), "--format", "csv",
                     "SELECT count(*) AS n, count(DISTINCT market_ticker) AS m FROM orderbook_deltas"]) == 0
    header, line = capsys.readouterr().out.strip().splitlines()
    assert header == '"n","m"' and int(line.split(",")[0]) == written["orderbook_deltas"]
