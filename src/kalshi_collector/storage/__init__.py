"""Parquet storage: the catalog of datasets, the crash-safe live store and the one read API.

``storage`` knows parquet and nothing about Kalshi's wire format: the collector hands it plain
rows (tuples in schema column order, times as int epoch microseconds).
"""

from __future__ import annotations

from kalshi_collector.storage.catalog import DATASETS, READ_KINDS, TABLES, Dataset, TableSpec
from kalshi_collector.storage.journal import JournalLockedError
from kalshi_collector.storage.live import LiveStore
from kalshi_collector.storage.reader import ParquetStorage
from kalshi_collector.storage.reconstruct import reconstruct_orderbooks

__all__ = [
    "LiveStore",
    "ParquetStorage",
    "reconstruct_orderbooks",
    "Dataset",
    "DATASETS",
    "TABLES",
    "TableSpec",
    "READ_KINDS",
    "JournalLockedError",
]
