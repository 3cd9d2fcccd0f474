"""Parquet storage: the crash-safe live store, the table schemas and the one read API.

``storage`` knows parquet and nothing about Kalshi's wire format: the collector hands it plain
rows (tuples in schema column order, times as int epoch microseconds).
"""

from __future__ import annotations

from kalshi_collector.storage.journal import JournalLockedError
from kalshi_collector.storage.live import LiveStore
from kalshi_collector.storage.reader import READ_KINDS, ParquetStorage
from kalshi_collector.storage.schemas import TABLES, TableSpec

__all__ = ["LiveStore", "ParquetStorage", "TABLES", "TableSpec", "READ_KINDS", "JournalLockedError"]
