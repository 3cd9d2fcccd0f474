"""Every disk write of a backfill run, in submission order, in one background worker thread.

Parquet encoding and fsyncs then never stall the requests in flight, and commits that pile up
while a write is running go out together (one part per event, not per market). An event is
assembled only after every commit submitted before it is on disk, so a checkpoint never claims
rows that are not staged and an event file never misses a part (see :mod:`.store`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple

import pyarrow as pa

from kalshi_collector.backfill.store import BackfillStore, MarketCheckpoint

__all__ = ["Commit", "Writer"]


class Commit(NamedTuple):
    """One market's staged rows and the checkpoint that claims them (the shape
    :meth:`BackfillStore.commit_batch` takes)."""

    checkpoint: MarketCheckpoint
    trades: pa.Table | None
    candles: pa.Table | None


class _Assemble(NamedTuple):
    event_ticker: str


class Writer:
    """The run's one writer. ``on_assembled(event)`` is called in the event loop once an event's
    files are merged; a write error stops the writer and is raised by the next submission or by
    :meth:`close` (what is already on disk stays valid)."""

    def __init__(self, store: BackfillStore, on_assembled: Callable[[str], None]) -> None:
        self._store = store
        self._on_assembled = on_assembled
        self._items: list[Commit | _Assemble] = []
        self._wake = asyncio.Event()
        self._closed = False
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._loop(), name="backfill-writer")

    def commit(self, checkpoint: MarketCheckpoint, trades: pa.Table | None, candles: pa.Table | None) -> None:
        self._submit(Commit(checkpoint, trades, candles))

    def assemble(self, event_ticker: str) -> None:
        self._submit(_Assemble(event_ticker))

    def _submit(self, item: Commit | _Assemble) -> None:
        if self.error is not None:
            raise self.error
        self._items.append(item)
        self._wake.set()

    async def close(self) -> None:
        """Write everything submitted so far; re-raise a write error."""
        self._closed = True
        self._wake.set()
        await asyncio.shield(self._task)
        if self.error is not None:
            raise self.error

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._items:
                if self._closed:
                    return
                continue
            batch, self._items = self._items, []
            try:
                assembled = await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # disk full, permissions: stop the run, keep what is on disk
                self.error = exc
                return
            for event in assembled:
                self._on_assembled(event)
            self._wake.set()

    def _write(self, batch: list[Commit | _Assemble]) -> list[str]:
        """Runs in the worker thread: consecutive commits as one batch, then each assembly."""
        assembled: list[str] = []
        commits: list[Commit] = []
        for item in batch:
            if isinstance(item, Commit):
                commits.append(item)
                continue
            if commits:
                self._store.commit_batch(commits)
                commits = []
            self._store.assemble(item.event_ticker)
            assembled.append(item.event_ticker)
        if commits:
            self._store.commit_batch(commits)
        return assembled
