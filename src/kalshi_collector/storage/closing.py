"""What a stop left behind: the rows a full (or failing) disk kept out of part files, and where.

:meth:`LiveStore.close <kalshi_collector.storage.live.LiveStore.close>` retries the final flush for
a bounded time (``storage.stop_wait_for_space_seconds``) so an operator who frees space while the
collector stops loses nothing and needs no restart; whatever still cannot be written is journaled
(the journal writes into space it reserved ahead) and described by a :class:`StopReport`, whose
:meth:`~StopReport.message` is the one line the ``collect`` command ends with (exit status 1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["StopReport", "retry_until_stored"]

log = logging.getLogger(__name__)

_FIRST_RETRY_SECONDS = 0.25
_MAX_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class StopReport:
    """Rows not in part files when the store closed (all zero after a clean stop)."""

    rows_left: int  # accepted rows that are in no part file
    rows_unjournaled: int  # of those, rows not even in the journal: lost when the process exits
    journal_dir: Path
    data_dir: str
    waited_seconds: float = 0.0
    last_error: str = ""  # the last storage write error ("OSError: [Errno 28] ...")

    @property
    def clean(self) -> bool:
        return self.rows_left == 0

    @property
    def rows_journaled(self) -> int:
        return self.rows_left - self.rows_unjournaled

    def message(self) -> str:
        """One line for the operator: where the rows are and what to do (empty when clean)."""
        if self.clean:
            return ""
        cause = f" ({self.last_error})" if self.last_error else ""
        waited = f" after waiting {self.waited_seconds:.0f} s for space" if self.waited_seconds else ""
        line = (f"{self.rows_left:,} rows could not be written to part files{cause}{waited}; "
                f"{self.rows_journaled:,} of them are in the journal {self.journal_dir}: free disk space "
                f"(or make {self.data_dir} writable) and start the collector again, its recovery writes them")
        if self.rows_unjournaled:
            line += f"; {self.rows_unjournaled:,} rows could not be journaled either and are lost"
        return line


class _Flushable(Protocol):
    def flush(self) -> dict[str, int]: ...
    def sync(self) -> None: ...
    @property
    def buffered_rows(self) -> int: ...


def retry_until_stored(
    store: _Flushable,
    seconds: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Flush (and journal what a flush leaves) until every row is in a part file or ``seconds``
    have passed; return the time spent waiting. The first flush always runs; retries back off
    from 0.25 s to 5 s so a disk that is still full is not hammered."""
    started = clock()
    deadline = started + max(0.0, seconds)
    delay, retried = _FIRST_RETRY_SECONDS, False
    store.flush()
    store.sync()
    if store.buffered_rows and seconds > 0:
        log.warning("stopping: %d rows cannot be written to part files yet; retrying for up to %.0f s "
                    "(free disk space now and they are stored before the collector exits)",
                    store.buffered_rows, seconds)
    while store.buffered_rows and clock() < deadline:
        sleep(min(delay, max(0.0, deadline - clock())))
        delay, retried = min(delay * 2, _MAX_RETRY_SECONDS), True
        store.flush()
        store.sync()
    return clock() - started if retried else 0.0
