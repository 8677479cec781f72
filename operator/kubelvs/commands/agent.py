"""``kubelvs agent``: the node agent, in-cluster (API server) or ``--standalone`` (manifest files)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kubelvs.agent import options

if TYPE_CHECKING:
    from kubelvs.agent.reconciler import Kernel


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.cleanup:
        return _cleanup(args)
    if not args.standalone:
        from kubelvs.agent import cluster

        return cluster.run(args)
    from kubelvs.agent import standalone

    try:
        checked = options.standalone_options(args)
    except ValueError as error:
        print(f"kubelvs agent: {error}", file=sys.stderr)
        return 2
    kernel = _open_kernel()
    if kernel is None:
        return 2
    try:
        return standalone.StandaloneAgent(checked, kernel).run(args.once)
    finally:
        _close(kernel)


def _cleanup(args: argparse.Namespace) -> int:
    """``--cleanup``: 0 when the node holds nothing of kube-lvs any more, 1 if something could not go."""
    from kubelvs.agent import cleanup
    from kubelvs.agent.ownership import Store

    try:
        checked = options.cleanup_options(args)
    except ValueError as error:
        print(f"kubelvs agent: {error}", file=sys.stderr)
        return 2
    kernel = _open_kernel()
    if kernel is None:
        return 2
    from kubelvs.kernel.tunnel import TUNNEL6, NetlinkTunnel  # loads what _open_kernel did: pyroute2

    try:
        outcome = cleanup.clean(
            kernel,
            Store(checked.state_file),
            NetlinkTunnel(),
            checked.vip_pools,
            checked.sync_daemon,
            tunnel6=NetlinkTunnel(TUNNEL6),
        )
    finally:
        _close(kernel)
    print(f"kubelvs agent --cleanup: {outcome}", file=sys.stderr)
    return 1 if outcome.errors else 0


def _open_kernel() -> Kernel | None:
    """The kernel adapters, or None (said on stderr) when they cannot load."""
    from kubelvs.agent import standalone

    try:
        return standalone.open_kernel()
    except ImportError as error:
        print(f"kubelvs agent: kernel adapters unavailable: {error}", file=sys.stderr)
        return None


def _close(kernel: Kernel) -> None:
    close = getattr(kernel.ipvs, "close", None)  # the IPVS adapter holds netlink sockets
    if close is not None:
        close()
