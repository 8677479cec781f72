"""``kubelvs agent``: the node agent, in-cluster (API server) or ``--standalone`` (manifest files)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import socket
import sys
from pathlib import Path

from kubelvs.agent.facts import parse_labels
from kubelvs.agent.ownership import DEFAULT_PATH
from kubelvs.api.durations import parse_duration
from kubelvs.planner import parse_pools

CLUSTER_MODULE = "kubelvs.agent.cluster"


def _cluster_available() -> bool:
    return importlib.util.find_spec(CLUSTER_MODULE) is not None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--standalone", action="store_true", help="read manifests from files, no API server")
    parser.add_argument("--manifests", nargs="+", metavar="PATH", default=[], help="files or directories")
    parser.add_argument("--node", default=socket.gethostname(), help="this node's name (default: hostname)")
    parser.add_argument("--node-labels", default="", metavar="K=V,...", help="labels directors are chosen by")
    parser.add_argument("--vip-pools", default="", metavar="CIDR,...", help="addresses kube-lvs may claim")
    parser.add_argument("--once", action="store_true", help="one pass, then exit (non-zero on any error)")
    parser.add_argument("--state-file", default=str(DEFAULT_PATH), help="record of what the agent programmed")
    parser.add_argument("--resync-period", default="30s", help="full reconcile at least this often")
    parser.add_argument("--drain-timeout", default="5m", help="longest wait for a removed real server to drain")
    parser.add_argument("--tcp-timeout", type=int, default=0, help="ipvsadm --set tcp (seconds; 0: unchanged)")
    parser.add_argument("--tcpfin-timeout", type=int, default=0, help="ipvsadm --set tcpfin (0: unchanged)")
    parser.add_argument("--udp-timeout", type=int, default=0, help="ipvsadm --set udp (0: unchanged)")
    if _cluster_available():
        cluster = importlib.import_module(CLUSTER_MODULE)
        if hasattr(cluster, "add_arguments"):
            cluster.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not args.standalone:
        if not _cluster_available():
            print("kubelvs agent: in-cluster mode not available yet; use --standalone", file=sys.stderr)
            return 2
        result: int = importlib.import_module(CLUSTER_MODULE).run(args)
        return result
    from kubelvs.agent import standalone

    if not args.manifests:
        print("kubelvs agent: --standalone needs --manifests PATH...", file=sys.stderr)
        return 2
    try:
        options = standalone.Options(
            manifests=tuple(args.manifests),
            node=args.node,
            labels=parse_labels(args.node_labels),
            vip_pools=parse_pools(args.vip_pools),
            state_file=Path(args.state_file) if args.state_file else None,
            resync_period=parse_duration(args.resync_period),
            drain_timeout=0.0 if args.drain_timeout in ("0", "0s") else parse_duration(args.drain_timeout),
            timeouts=(args.tcp_timeout, args.tcpfin_timeout, args.udp_timeout),
        )
    except ValueError as error:
        print(f"kubelvs agent: {error}", file=sys.stderr)
        return 2
    try:
        kernel = standalone.open_kernel()
    except ImportError as error:
        print(f"kubelvs agent: kernel adapters unavailable: {error}", file=sys.stderr)
        return 2
    try:
        return standalone.StandaloneAgent(options, kernel).run(args.once)
    finally:
        close = getattr(kernel.ipvs, "close", None)  # the IPVS adapter holds netlink sockets
        if close is not None:
            close()
