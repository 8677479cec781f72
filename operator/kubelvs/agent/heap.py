"""The agent's heap once it has settled: long-lived objects moved out of the garbage collector's walk.

An agent keeps its world in memory (mirrors of ten thousand endpoints, the plan, the last kernel state), and
every full collection walks all of it: under endpoint churn that was over a third of each pass (P7).
:meth:`HeapSettler.after_pass` freezes what exists after a pass (``gc.freeze``: the permanent generation);
doing it again now and then (unfreeze, collect, freeze) collects the garbage cycles made in between, so
nothing leaks for longer than ``every``. In between, the survivors of each full collection the thresholds run
are frozen as well: otherwise every full collection walks again all that churn made since the settling (P7:
a full collection walked about 0.1 s each, 4 % of a core).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

SETTLE_EVERY = 600.0  # seconds between full collections
# A young collection every 50,000 net allocations, not 700: each pass makes and drops maps of ten thousand
# entries, which young and middle collections walked again and again (P7 host, 60 s of churn: 31 % of a core,
# p99 82 ms and one collection; with Python's 700 and 10, 54 %, p99 137 ms and 9 s of collections).
THRESHOLDS = (50_000, 20, 10)


class HeapSettler:
    """Freezes the heap after the first pass (and sets the collector's thresholds for a large heap), and
    collects and freezes it again every ``every`` seconds."""

    def __init__(self, every: float = SETTLE_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: float | None = None
        self._full = 0  # full collections seen so far

    def after_pass(self) -> bool:
        """Settle the heap if it is due; True if it did. Between settlings, what a full collection the
        thresholds ran has left is frozen too, so the next one walks only what is newer."""
        now = self._clock()
        if self._last is not None and now - self._last < self._every:
            full = gc.get_stats()[2]["collections"]
            if full != self._full:
                self._full = full
                gc.freeze()
            return False
        self._last = now
        gc.set_threshold(*THRESHOLDS)
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._full = gc.get_stats()[2]["collections"]
        logger.debug("heap settled: %d unreachable objects collected, %d frozen", found, gc.get_freeze_count())
        return True
