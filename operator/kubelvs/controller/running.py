"""Start kopf with kube-lvs's handlers, settings and reconciler: shared by ``kubelvs operator`` and tests."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import kopf

from kubelvs import GROUP
from kubelvs.controller import handlers
from kubelvs.controller.config import OperatorConfig, warn_at_start
from kubelvs.controller.load_balancer_writes import LoadBalancerWriter
from kubelvs.controller.load_balancers import LoadBalancers
from kubelvs.controller.reconciling import Reconciler
from kubelvs.controller.writing import StatusWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    """Where the operator looks and whether it competes with other replicas."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to serve; empty means all (cluster-wide)."""
    standalone: bool = False
    """No peering at all (tests, single-replica installs)."""
    peering: str | None = None
    """Name of the (Cluster)KopfPeering object the replicas meet in; None lets kopf detect it."""
    liveness: str | None = None
    """kopf's liveness endpoint, e.g. ``http://0.0.0.0:8081/healthz``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Further keyword arguments for kopf.run (tests pass stop_flag / ready_flag here)."""


def settings() -> kopf.OperatorSettings:
    """kopf settings under kube-lvs's own names, and no Events made from ordinary log lines."""
    result = kopf.OperatorSettings()
    result.persistence.finalizer = f"{GROUP}/finalizer"
    result.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    result.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    result.posting.reporting_component = "kubelvs-operator"
    result.posting.level = logging.WARNING
    return result


def serve(
    config: OperatorConfig,
    scope: Scope,
    writer: StatusWriter | None = None,
    load_balancer_writer: LoadBalancerWriter | None = None,
) -> None:
    """Run the operator until it is stopped (a signal, or ``stop_flag`` in ``scope.extra``)."""
    warn_at_start(config, logger)
    reconciler = Reconciler(config, writer or StatusWriter.from_environment(), handlers.announce)
    load_balancers = LoadBalancers(
        load_balancer_writer or LoadBalancerWriter.from_environment(),
        handlers.announce,
        config.default_load_balancer,
        config.vip_pools,
    )
    namespaces: Sequence[str] = scope.namespaces
    kopf.run(
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        standalone=scope.standalone,
        peering_name=None if scope.standalone else scope.peering,
        liveness_endpoint=scope.liveness,
        registry=handlers.REGISTRY,
        settings=settings(),
        memo=kopf.Memo(reconciler=reconciler, load_balancers=load_balancers),
        **scope.extra,
    )
