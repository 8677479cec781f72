"""Graceful removal of real servers, like kube-proxy's graceful_termination.go.

A destination that leaves the desired state while it still carries connections first gets weight 0
(no new connections), and is deleted once its active connections reach 0 or the drain timeout passes.
UDP and SCTP have no connection end to wait for, so they are deleted at once, as in kube-proxy.
Deleting a whole service needs no draining: the kernel drops its destinations with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from kubelvs.netstate import (
    DeleteDestination,
    Destination,
    DestKey,
    DestStats,
    EditDestination,
    IpvsOp,
    Proto,
)

logger = logging.getLogger(__name__)

NO_DRAIN = (Proto.UDP, Proto.SCTP)


class Drainer:
    """Remembers when each leftover destination started draining; decides its next op."""

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._clock = clock
        self._since: dict[DestKey, float] = {}

    @property
    def draining(self) -> frozenset[DestKey]:
        return frozenset(self._since)

    def ops(self, leftovers: Mapping[DestKey, Destination], stats: Mapping[DestKey, DestStats]) -> list[IpvsOp]:
        """Ops for destinations that are in the kernel but no longer desired (their service still is)."""
        now = self._clock()
        for key in set(self._since) - set(leftovers):
            del self._since[key]  # desired again, or gone
        ops: list[IpvsOp] = []
        for key, dest in sorted(leftovers.items()):
            active = stats[key].active_conns if key in stats else 0
            since = self._since.setdefault(key, now)
            if key.service.protocol in NO_DRAIN or self.timeout <= 0 or active == 0:
                ops.append(DeleteDestination(key))
                del self._since[key]
            elif now - since >= self.timeout:
                logger.info("drain of %s timed out with %d active connections; deleting", key, active)
                ops.append(DeleteDestination(key))
                del self._since[key]
            elif dest.weight != 0:
                logger.info("draining %s: weight 0 until its %d active connections end", key, active)
                ops.append(EditDestination(dest._replace(weight=0)))
        return ops
