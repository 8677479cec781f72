"""``kubelvs status [--manifests PATH...]``: the live IPVS table with counters, rates and owners.

Owners come from manifests (the CR each service and destination is derived from, through the planner's
own :func:`kubelvs.planner.ipvs_rules`), else from the agent's ownership record, which only knows that
kube-lvs programmed a service. Lines nobody claims (kube-proxy's, an admin's) show ``-``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kubelvs.agent import ownership
from kubelvs.api import manifests
from kubelvs.formats import listing
from kubelvs.netstate import DestKey, ServiceKey
from kubelvs.planner import ipvs_rules

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests", nargs="+", metavar="PATH", help="name the CR that owns each line (files or directories)"
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=ownership.DEFAULT_PATH,
        help=f"the agent's ownership record, used without --manifests (default: {ownership.DEFAULT_PATH})",
    )


def owners_from_manifests(paths: list[str]) -> dict[ServiceKey | DestKey, str]:
    """Every service and destination the manifests describe -> ``VirtualServer ns/name`` / ``RealServer ...``."""
    loaded = manifests.load(paths)
    for finding in loaded.findings:
        print(finding, file=sys.stderr)
    owners: dict[ServiceKey | DestKey, str] = {}
    for vs in loaded.virtual_servers:
        services, _ = ipvs_rules([vs], [])
        owners.update((key, f"VirtualServer {vs.key}") for key in services)
        for rs in loaded.real_servers:
            if rs.virtual_server_key == vs.key:
                _, destinations = ipvs_rules([vs], [rs])
                owners.update((key, f"RealServer {rs.key}") for key in destinations)
    return owners


def owners_from_record(path: Path) -> dict[ServiceKey | DestKey, str]:
    record = ownership.Store(path).load()
    return {key: f"kube-lvs ({path})" for key in record.services}


def run(args: argparse.Namespace) -> int:
    from kubelvs.kernel.ipvs import KernelIpvsTable  # only here: the other commands never load netlink

    owners = owners_from_manifests(args.manifests) if args.manifests else owners_from_record(args.state_file)
    try:
        with KernelIpvsTable() as table:
            services = table.services()
            keys = sorted(services)
            destinations = table.destinations(keys)
            stats = table.stats(keys)
    except Exception as error:  # at the edge: no IPVS module, no privilege -> one clear line, no traceback
        print(f"cannot read the IPVS table: {error} (needs root and the ip_vs module)", file=sys.stderr)
        return 1
    for line in listing.render(services.values(), destinations.values(), stats, owners):
        print(line)
    return 0
