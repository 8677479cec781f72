"""Operator-wide settings that come from flags: the VIP pools kube-lvs may claim."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kubelvs.api.judgement import Network, parse_pools

logger = logging.getLogger(__name__)

__all__ = ["Network", "OperatorConfig", "parse_pools"]


@dataclass(frozen=True)
class OperatorConfig:
    """What every reconcile pass needs besides the objects themselves."""

    vip_pools: tuple[Network, ...] = ()
    """Networks VIPs must lie in; empty means any address may be claimed."""
