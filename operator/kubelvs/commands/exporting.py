"""``kubelvs export PATH...``: the ``ipvsadm -Sn`` lines of the IPVS state a set of manifests describes.

The state comes from the planner's own :func:`kubelvs.planner.ipvs_rules`, so the export is exactly what
a director programs; the lines come from :func:`kubelvs.formats.ipvsadm.render`, in ipvsadm's order.
``ipvsadm -Sn`` omits thresholds; ``--thresholds`` adds ``-x``/``-y`` for an ``ipvsadm -R`` that keeps them.
``-o json|yaml`` prints the same state in the shape of ``kubelvs status -o json`` (without counters, which
only a kernel has), each line's owner the CR it comes from.
"""

from __future__ import annotations

import argparse
import logging
import sys

from kubelvs.api import manifests
from kubelvs.commands import output, paths
from kubelvs.commands.status import owners_of
from kubelvs.formats import ipvsadm, listing
from kubelvs.planner import ipvs_rules

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or directories; - for stdin")
    parser.add_argument(
        "--thresholds",
        action="store_true",
        help="also print -x/-y (ipvsadm -S leaves them out; ipvsadm -R understands them)",
    )
    output.add_argument(parser, "the ipvsadm -Sn lines, for ipvsadm -R")


def run(args: argparse.Namespace) -> int:
    paths.require(args.paths)
    loaded = manifests.load(args.paths)
    for finding in loaded.findings:
        print(f"{finding} (left out of the export)", file=sys.stderr)
    services, destinations = ipvs_rules(loaded.virtual_servers, loaded.real_servers)
    if args.output != "table":
        data = listing.as_data(services.values(), destinations.values(), None, None, owners_of(loaded))
        output.emit(data, args.output)
    else:
        for line in ipvsadm.render(services.values(), destinations.values(), thresholds=args.thresholds):
            print(line)
    return 1 if loaded.findings else 0
