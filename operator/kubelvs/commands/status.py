"""``kubelvs status [--stats|--rate] [-o json|yaml]``: the live IPVS table, ipvsadm-style, with owners.

Owners come from manifests (the CR each service and destination is derived from, through the planner's
own :func:`kubelvs.planner.ipvs_rules`), else from the agent's ownership record, which only knows that
kube-lvs programmed a service. Lines nobody claims (kube-proxy's, an admin's) show ``-``. Counters are the
kernel's own: a service's line shows the service's counters, not a sum of its current destinations'.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kubelvs.agent import ownership
from kubelvs.api import manifests
from kubelvs.commands import output, paths
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
        help="the agent's ownership record, used without --manifests",
    )
    numbers = parser.add_mutually_exclusive_group()
    numbers.add_argument("--stats", action="store_true", help="counters instead of settings (ipvsadm -Ln --stats)")
    numbers.add_argument("--rate", action="store_true", help="rates instead of settings (ipvsadm -Ln --rate)")
    output.add_argument(parser, "ipvsadm -Ln's columns and each line's owner")


def owners_from_manifests(paths: list[str]) -> dict[ServiceKey | DestKey, str]:
    """Every service and destination the manifests describe -> ``VirtualServer ns/name`` / ``RealServer ...``."""
    loaded = manifests.load(paths)
    for finding in loaded.findings:
        print(finding, file=sys.stderr)
    return owners_of(loaded)


def owners_of(loaded: manifests.ManifestSet) -> dict[ServiceKey | DestKey, str]:
    """The CR each service and destination of a set of manifests comes from."""
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

    paths.require(args.manifests or [])
    owners = owners_from_manifests(args.manifests) if args.manifests else owners_from_record(args.state_file)
    # no ip_vs, no privilege: the kernel's errors go to the CLI's one handler, which says what to do
    with KernelIpvsTable() as table:
        services = table.services()
        keys = sorted(services)
        destinations = table.destinations(keys)
        dest_stats = table.stats(keys)
        service_stats = table.service_stats(keys)
    if args.output != "table":
        data = listing.as_data(services.values(), destinations.values(), dest_stats, service_stats, owners)
        output.emit(data, args.output)
        return 0
    layout = listing.Layout.STATS if args.stats else listing.Layout.RATE if args.rate else listing.Layout.LIST
    for line in listing.render(
        layout, services.values(), destinations.values(), dest_stats, service_stats, owners
    ):
        print(line)
    return 0
