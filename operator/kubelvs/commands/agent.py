"""``kubelvs agent``: the node agent, in-cluster (API server) or ``--standalone`` (manifest files)."""

from __future__ import annotations

import argparse
import sys

from kubelvs.agent import options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not args.standalone:
        from kubelvs.agent import cluster

        return cluster.run(args)
    from kubelvs.agent import standalone

    try:
        checked = options.standalone_options(args)
    except ValueError as error:
        print(f"kubelvs agent: {error}", file=sys.stderr)
        return 2
    try:
        kernel = standalone.open_kernel()
    except ImportError as error:
        print(f"kubelvs agent: kernel adapters unavailable: {error}", file=sys.stderr)
        return 2
    try:
        return standalone.StandaloneAgent(checked, kernel).run(args.once)
    finally:
        close = getattr(kernel.ipvs, "close", None)  # the IPVS adapter holds netlink sockets
        if close is not None:
            close()
