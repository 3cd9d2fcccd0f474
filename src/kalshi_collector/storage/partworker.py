"""The part-writer helper process's entry point (``partjob.py``): its own module, so that running
it does not import it a second time through ``kalshi_collector.storage``."""

import os
import sys

from kalshi_collector.storage.partjob import serve

if __name__ == "__main__":
    # Writing parts can wait; the collector's read loop cannot: on a busy machine the scheduler
    # gives the helper's compression what the read loop leaves over.
    os.nice(10)
    serve(sys.stdin.buffer, sys.stdout.buffer)
