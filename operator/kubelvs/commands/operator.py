"""``kubelvs operator``: run the kopf operator that admits VirtualServers/RealServers and writes their status.

One active replica: kopf peering. Replicas that share a peering object see each other; the one with the
highest priority (ties: the oldest) handles objects and the others pause. In a cluster:

1. Install kopf's peering CRDs (``ClusterKopfPeering`` for ``--all-namespaces``, ``KopfPeering`` for
   ``--namespace``; the Helm chart's ``operator.peering.createCRD``) and one object of it, named e.g.
   ``kubelvs`` (``kopf.dev/v1``, no spec needed).
2. Start every replica with ``--peering kubelvs``; kopf then insists on that object (startup fails
   without it) and needs get/list/watch/patch on it (the chart's RBAC grants exactly that).
3. Without a peering CRD, run a single replica with ``--standalone`` (and a Recreate rollout so two
   pods never overlap). Tests always use ``--standalone``.

kopf peering is a pause protocol, not a lock: during a takeover both replicas may run for a moment.
That is harmless here because every pass writes the same status for the same world.

Credentials: the in-cluster service account, else ``$KUBECONFIG``. Metrics (prometheus-client) are
served on ``--metrics-address`` (one concrete address; the chart passes the pod IP) and ``--metrics-port``
(0 turns them off).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from prometheus_client import start_http_server

from kubelvs.address_text import listen_address
from kubelvs.controller.config import OperatorConfig, parse_pools
from kubelvs.controller.running import Scope, serve

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        metavar="NS",
        help="serve this namespace (repeatable)",
    )
    where.add_argument("-A", "--all-namespaces", action="store_true", help="serve every namespace")
    parser.add_argument(
        "--vip-pools",
        default=os.environ.get("KUBELVS_VIP_POOLS", ""),
        metavar="CIDR,...",
        help="networks VIPs must lie in (env KUBELVS_VIP_POOLS); empty allows any address (warned at start)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=os.environ.get("KUBELVS_METRICS_PORT", "8080"),  # a string: argparse checks it like a flag
        metavar="PORT",
        help="Prometheus metrics port (0: off; env KUBELVS_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-address",
        default=os.environ.get("KUBELVS_METRICS_ADDRESS", "127.0.0.1"),
        metavar="IP",
        help="the one address metrics listen on (the chart passes the pod IP; env KUBELVS_METRICS_ADDRESS)",
    )
    parser.add_argument(
        "--default-load-balancer",
        action="store_true",
        default=os.environ.get("KUBELVS_DEFAULT_LOAD_BALANCER", "") == "true",
        help="also serve LoadBalancer Services that name no loadBalancerClass (env KUBELVS_DEFAULT_LOAD_BALANCER)",
    )
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument("--peering", metavar="NAME", help="kopf peering object the replicas meet in")
    peering.add_argument("--standalone", action="store_true", help="no peering: the only replica")
    parser.add_argument(
        "--liveness", metavar="URL", help="kopf liveness endpoint, e.g. http://0.0.0.0:8081/healthz"
    )


def run(args: argparse.Namespace) -> int:
    try:
        pools = parse_pools(args.vip_pools)
    except ValueError as error:
        print(f"kubelvs operator: {error}", file=sys.stderr)
        return 2
    if not 0 <= args.metrics_port <= 65535:
        print(f"kubelvs operator: --metrics-port {args.metrics_port} is not a port (0..65535)", file=sys.stderr)
        return 2
    try:
        address = listen_address(args.metrics_address)
    except ValueError as error:
        print(f"kubelvs operator: {error}", file=sys.stderr)
        return 2
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=address)
        logger.info("serving metrics on %s:%d", address, args.metrics_port)
    scope = Scope(
        namespaces=tuple(args.namespaces or ()),
        standalone=args.standalone,
        peering=args.peering,
        liveness=args.liveness,
    )
    serve(OperatorConfig(vip_pools=pools, default_load_balancer=args.default_load_balancer), scope)
    return 0
