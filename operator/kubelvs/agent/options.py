"""The flags of ``kubelvs agent`` in both modes, and the checked options made of them (names as the chart passes).

Every flag is defined here once; a bad value is a ValueError naming the flag and the value, so the command
can refuse to start with one clear line.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kubelvs.address_text import listen_address
from kubelvs.agent.election import ElectionSettings
from kubelvs.agent.facts import parse_labels
from kubelvs.agent.metrics import DEFAULT_PORT as DEFAULT_METRICS_PORT
from kubelvs.agent.ownership import DEFAULT_PATH
from kubelvs.api.durations import parse_duration
from kubelvs.planner.facts import Network, parse_pools


@dataclass(frozen=True)
class StandaloneOptions:
    """``kubelvs agent --standalone``: manifests on disk, every director group held."""

    manifests: tuple[str, ...]
    node: str
    labels: dict[str, str]
    vip_pools: tuple[Network, ...]
    state_file: Path | None
    resync_period: float
    drain_timeout: float
    timeouts: tuple[int, int, int]  # tcp, tcpfin, udp; 0 leaves one unchanged
    min_pass_interval: float = 0.0  # a file edit is one event: nothing to gather
    settle_heap: bool = False  # the agent owns its process (the command line): tune and freeze the GC heap
    metrics_port: int | None = None  # /metrics, /healthz, /readyz only when --metrics-port is given
    metrics_address: str = "127.0.0.1"


@dataclass(frozen=True)
class ClusterOptions:
    """``kubelvs agent``: objects from the API server, director groups held by election."""

    node: str
    lease_namespace: str
    vip_pools: tuple[Network, ...] = ()
    state_file: Path | None = DEFAULT_PATH
    resync_period: float = 30.0
    drain_timeout: float = 300.0
    timeouts: tuple[int, int, int] = (0, 0, 0)
    election: ElectionSettings = field(default_factory=ElectionSettings)
    sync_daemon: tuple[str, int] | None = None  # (interface, syncid) of IPVS connection sync, or off
    metrics_port: int | None = None  # serve Prometheus metrics here; None: do not serve
    metrics_address: str = "127.0.0.1"  # one explicit address: a hostNetwork pod must not serve on its VIPs
    min_pass_interval: float = 0.05  # under a stream of watch events, at most 20 passes a second
    settle_heap: bool = False  # the agent owns its process (the command line): tune and freeze the GC heap


@dataclass(frozen=True)
class CleanupOptions:
    """``kubelvs agent --cleanup``: what the node's record and the flags say kube-lvs owns."""

    vip_pools: tuple[Network, ...]
    state_file: Path | None
    sync_daemon: tuple[str, int] | None  # (interface, syncid) whose daemons are the agent's


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of ``kubelvs agent``."""
    parser.add_argument("--standalone", action="store_true", help="read manifests from files, no API server")
    parser.add_argument("--manifests", nargs="+", metavar="PATH", default=[], help="files or directories")
    parser.add_argument("--node", default=socket.gethostname(), help="this node's name (default: hostname)")
    parser.add_argument("--node-labels", default="", metavar="K=V,...", help="labels directors are chosen by")
    parser.add_argument(
        "--vip-pools",
        default="",
        metavar="CIDR,...",
        help="networks kube-lvs may claim VIPs in; empty allows any address (warned at start)",
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit (non-zero on any error)")
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="remove everything kube-lvs programmed on this node (from --state-file, inside --vip-pools), "
        "restore the sysctls it changed, and exit (1 if anything could not be removed); needs no API server",
    )
    parser.add_argument("--state-file", default=str(DEFAULT_PATH), help="record of what the agent programmed")
    parser.add_argument("--resync-period", default="30s", help="full reconcile at least this often")
    parser.add_argument("--drain-timeout", default="5m", help="longest wait for a removed real server to drain")
    parser.add_argument("--tcp-timeout", type=int, default=0, help="ipvsadm --set tcp (seconds; 0: unchanged)")
    parser.add_argument("--tcpfin-timeout", type=int, default=0, help="ipvsadm --set tcpfin (0: unchanged)")
    parser.add_argument("--udp-timeout", type=int, default=0, help="ipvsadm --set udp (0: unchanged)")
    cluster = parser.add_argument_group("in-cluster mode")
    add = cluster.add_argument
    add("--namespace", default=os.environ.get("POD_NAMESPACE", "kube-lvs"), help="where the Leases live")
    add("--lease-duration", default="1500ms", help="followers take over after this long unrenewed")
    add("--renew-deadline", default="1s", help="the holder stops leading without renewal this long")
    add("--renew-period", default="500ms", help="how often the holder renews")
    add("--retry-period", default="250ms", help="how often followers read the Lease")
    add("--no-fail-static", action="store_true", help="step down when the API server is unreachable")
    add("--sync-interface", default="", help="IPVS connection sync daemon interface")
    add("--sync-id", type=int, default=0, help="IPVS connection sync daemon syncid")
    add("--no-sync-daemon", action="store_true", help="do not run the IPVS connection sync daemon")
    add(
        "--metrics-port",
        type=int,
        default=None,
        help=f"Prometheus /metrics, /healthz and /readyz; 0: off (in-cluster {DEFAULT_METRICS_PORT} unless given; "
        "--standalone serves them only when given)",
    )
    add(
        "--metrics-address",
        default="127.0.0.1",
        help="the one address /metrics listens on (the chart passes the node IP); never all of a host's",
    )


def _drain_timeout(text: str) -> float:
    return 0.0 if text in ("0", "0s") else parse_duration(text)


def standalone_options(args: argparse.Namespace) -> StandaloneOptions:
    """Options of the standalone mode; ValueError names a bad value."""
    if not args.manifests:
        raise ValueError("--standalone needs --manifests PATH...")
    return StandaloneOptions(
        manifests=tuple(args.manifests),
        node=args.node,
        labels=parse_labels(args.node_labels),
        vip_pools=parse_pools(args.vip_pools),
        state_file=Path(args.state_file) if args.state_file else None,
        resync_period=parse_duration(args.resync_period),
        drain_timeout=_drain_timeout(args.drain_timeout),
        timeouts=(args.tcp_timeout, args.tcpfin_timeout, args.udp_timeout),
        settle_heap=True,
        metrics_port=_metrics_port(args.metrics_port, None),
        metrics_address=listen_address(args.metrics_address),
    )


def _metrics_port(given: int | None, otherwise: int | None) -> int | None:
    if given is None:
        return otherwise
    if not 0 <= given <= 65535:
        raise ValueError(f"--metrics-port {given} is not a port (0..65535)")
    return given or None


def cluster_options(args: argparse.Namespace) -> ClusterOptions:
    """Options of the in-cluster mode; ValueError names a bad value."""
    settings = ElectionSettings(
        lease_duration=parse_duration(args.lease_duration),
        renew_deadline=parse_duration(args.renew_deadline),
        renew_period=parse_duration(args.renew_period),
        retry_period=parse_duration(args.retry_period),
        fail_static=not args.no_fail_static,
    )
    sync = None
    if not args.no_sync_daemon:
        if not args.sync_interface:
            raise ValueError("--sync-interface is required for the IPVS sync daemon (or pass --no-sync-daemon)")
        sync = (args.sync_interface, args.sync_id)
    return ClusterOptions(
        node=args.node,
        lease_namespace=args.namespace,
        vip_pools=parse_pools(args.vip_pools),
        state_file=Path(args.state_file) if args.state_file else None,
        resync_period=parse_duration(args.resync_period),
        drain_timeout=_drain_timeout(args.drain_timeout),
        timeouts=(args.tcp_timeout, args.tcpfin_timeout, args.udp_timeout),
        election=settings,
        sync_daemon=sync,
        metrics_port=_metrics_port(args.metrics_port, DEFAULT_METRICS_PORT),
        metrics_address=listen_address(args.metrics_address),
        settle_heap=True,
    )


def cleanup_options(args: argparse.Namespace) -> CleanupOptions:
    """Options of ``--cleanup``, either mode; ValueError names a bad value."""
    return CleanupOptions(
        vip_pools=parse_pools(args.vip_pools),
        state_file=Path(args.state_file) if args.state_file else None,
        sync_daemon=(args.sync_interface, args.sync_id) if args.sync_interface else None,
    )
