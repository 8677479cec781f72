"""``kubelvs validate PATH...``: the API's own checks, offline, over a set of manifests."""

from __future__ import annotations

import argparse
import sys

from kubelvs.api import manifests


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories; - for stdin")


def run(args: argparse.Namespace) -> int:
    result = manifests.load(args.paths)
    for finding in result.findings:
        print(finding, file=sys.stderr)
    if result.findings:
        return 1
    print(f"ok: {len(result.virtual_servers)} VirtualServer(s), {len(result.real_servers)} RealServer(s)")
    return 0
