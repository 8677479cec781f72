"""Planner skips as log lines: each distinct one is a WARNING once, not a line on every pass.

A skip is something the user must fix (a VIP this node cannot bind because it has no default route, a
VirtualServer outside the VIP pools); said once it is heard, said on every pass it drowns the log. A skip
that goes away and comes back is said again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kubelvs.planner import Skip

logger = logging.getLogger(__name__)


class SkipLog:
    """Remembers the skips of the last pass; warns about the new ones."""

    def __init__(self) -> None:
        self._current: frozenset[str] = frozenset()

    def report(self, skipped: Iterable[Skip]) -> list[str]:
        """Log each skip not seen in the last pass at WARNING; returns the lines it logged."""
        now = [str(skip) for skip in skipped]
        fresh = [line for line in dict.fromkeys(now) if line not in self._current]
        for line in fresh:
            logger.warning("skipped %s", line)
        self._current = frozenset(now)
        return fresh
