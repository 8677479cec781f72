"""Prometheus metrics of the operator (served by prometheus-client on ``--metrics-port``)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

RECONCILES = Counter(
    "kubelvs_operator_reconciles_total",
    "Reconcile passes over all VirtualServers and RealServers, by outcome.",
    ["outcome"],
)
REJECTIONS = Counter(
    "kubelvs_operator_rejections_total",
    "Objects that became rejected (or were rejected for a new reason), by kind and reason.",
    ["kind", "reason"],
)
STATUS_WRITES = Counter(
    "kubelvs_operator_status_writes_total",
    "Status patches sent to the API server, by kind and outcome.",
    ["kind", "outcome"],
)
OBJECTS = Gauge(
    "kubelvs_operator_objects",
    "Objects the operator judges now, by kind and acceptance.",
    ["kind", "accepted"],
)
LOAD_BALANCER_PASSES = Counter(
    "kubelvs_operator_load_balancer_passes_total",
    "Passes over the LoadBalancer Services and VIPPools, by outcome.",
    ["outcome"],
)
LOAD_BALANCER_WRITES = Counter(
    "kubelvs_operator_load_balancer_writes_total",
    "Writes of the load-balancer controller, by what was written and outcome.",
    ["write", "outcome"],
)
