"""Which WebSocket connection carries which markets (pure bookkeeping, no I/O).

Following the whole exchange means tens of thousands of markets; Kalshi caps the markets of one
subscription (error 26) and the rate of commands (error 27) without publishing the numbers
(docs/kalshi-api.md "Limits"). So markets are spread over *lanes*: each lane is one connection
with one subscription per channel, holding at most ``per_lane`` markets
(``collection.markets_per_connection``). New markets go to the least-loaded lane with room, a
new lane opens only when every lane is full, and a market stays on its lane until it is dropped
(moving it would cost a snapshot and a moment without a valid book).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["LaneChange", "LanePlan", "batches"]


@dataclass(slots=True)
class LaneChange:
    """What one lane must add and drop to match the wanted markets."""

    lane: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class LanePlan:
    """Markets by lane; :meth:`assign` brings the lanes to a new set of wanted markets."""

    def __init__(self, per_lane: int, max_lanes: int) -> None:
        if per_lane < 1 or max_lanes < 1:
            raise ValueError("per_lane and max_lanes must be at least 1")
        self.per_lane = per_lane
        self.max_lanes = max_lanes
        self.lanes: list[set[str]] = [set()]
        self._lane_of: dict[str, int] = {}
        self.unplaced: list[str] = []  # wanted but no room in max_lanes lanes (logged by the caller)

    def lane_of(self, ticker: str) -> int | None:
        return self._lane_of.get(ticker)

    def markets(self, lane: int) -> set[str]:
        return self.lanes[lane]

    def __len__(self) -> int:
        return len(self.lanes)

    def assign(self, wanted: Collection[str]) -> list[LaneChange]:
        """Drop what is no longer wanted, place what is new; the changes of every touched lane
        (a lane opened here is in the list with its markets as ``added``)."""
        wanted_keys = wanted.keys() if isinstance(wanted, Mapping) else set(wanted)
        changes: dict[int, LaneChange] = {}
        for ticker in sorted(self._lane_of.keys() - wanted_keys):  # set operations: C, not a step per market
            lane = self._lane_of.pop(ticker)
            self.lanes[lane].discard(ticker)
            changes.setdefault(lane, LaneChange(lane)).removed.append(ticker)
        self.unplaced = []
        for ticker in sorted(wanted_keys - self._lane_of.keys()):
            lane = self._room()
            if lane is None:
                self.unplaced.append(ticker)
                continue
            self.lanes[lane].add(ticker)
            self._lane_of[ticker] = lane
            changes.setdefault(lane, LaneChange(lane)).added.append(ticker)
        return [changes[k] for k in sorted(changes)]

    def _room(self) -> int | None:
        """The least-loaded lane with room, opening a new one when all are full."""
        open_lanes = [i for i, s in enumerate(self.lanes) if len(s) < self.per_lane]
        if open_lanes:
            return min(open_lanes, key=lambda i: (len(self.lanes[i]), i))
        if len(self.lanes) < self.max_lanes:
            self.lanes.append(set())
            return len(self.lanes) - 1
        return None


def batches(tickers: Sequence[str], size: int) -> Iterator[list[str]]:
    """``tickers`` in command-sized pieces (``collection.subscribe_batch``)."""
    for i in range(0, len(tickers), size):
        yield list(tickers[i:i + size])
