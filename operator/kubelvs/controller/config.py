"""Operator-wide settings that come from flags: the VIP pools kube-lvs may claim, the classless
LoadBalancer Services it serves."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kubelvs.api.judgement import Network, parse_pools, warn_without_pools

logger = logging.getLogger(__name__)

__all__ = ["Network", "OperatorConfig", "parse_pools", "warn_at_start"]

POOLS_FLAG = "--vip-pools CIDR,... (or env KUBELVS_VIP_POOLS)"


@dataclass(frozen=True)
class OperatorConfig:
    """What every reconcile pass needs besides the objects themselves."""

    vip_pools: tuple[Network, ...] = ()
    """Networks VIPs must lie in; empty means any address may be claimed."""
    default_load_balancer: bool = False
    """Also serve LoadBalancer Services that name no loadBalancerClass (--default-load-balancer)."""


def warn_at_start(config: OperatorConfig, log: logging.Logger) -> None:
    """What the operator says once when it starts about its settings (no VIP pools: a warning)."""
    warn_without_pools(config.vip_pools, log, POOLS_FLAG)
