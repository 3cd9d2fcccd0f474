"""The part-writer helper process's entry point (``partjob.py``): its own module, so that running
it does not import it a second time through ``kalshi_collector.storage``."""

import os
import sys

from kalshi_collector.storage.partjob import serve

if __name__ == "__main__":
    # Writing parts can wait a little; the collector's read loop cannot. Nice 5 (CFS weight 335
    # against the loop's 1024) lets the loop go first, yet keeps the helper ahead of ordinary
    # background work: at nice 10 a 10-minute run at 20k markets on a machine shared with three
    # other busy processes got so little CPU that flushes took 5-12 s and 2 million rows piled up
    # in memory (RSS 5.8 GB).
    os.nice(5)
    serve(sys.stdin.buffer, sys.stdout.buffer)
