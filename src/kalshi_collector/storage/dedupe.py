"""One row per key for the live tables that have one (``trades_live``: ``trade_id``).

The tape keeps what arrived, and a trade can arrive twice: the exchange resends a message (a
duplicate ``seq``), or two connections overlap around a reconnect. The row is kept once, as first
received (the earliest in the dataset's sort order, so its ``sid``/``seq`` say where it came
from); the duplicate's arrival is still on record in ``book_events`` (``duplicate``). Rows whose key
is null are never folded together. Compaction writes day files this way and the reader applies the
same rule to parts not yet compacted, so every reader sees each trade once.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["first_per_key"]

_ROW = "__kc_row"


def first_per_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """``table`` without the later rows of a repeated ``key`` (table order decides which is first)."""
    if not key or table.num_rows < 2:
        return table
    rows = pa.array(range(table.num_rows), pa.int64())
    keyed = table.select(list(key)).append_column(_ROW, rows)
    masks = [pc.is_valid(keyed.column(name).combine_chunks()) for name in key]
    valid = masks[0]
    for mask in masks[1:]:
        valid = pc.and_(valid, mask)
    firsts = keyed.filter(valid).group_by(list(key), use_threads=False).aggregate([(_ROW, "min")])
    keep = pa.concat_arrays([firsts.column(f"{_ROW}_min").combine_chunks(), rows.filter(pc.invert(valid))])
    if len(keep) == table.num_rows:
        return table
    return table.take(pc.take(keep, pc.array_sort_indices(keep)))
