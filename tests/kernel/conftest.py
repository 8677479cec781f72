"""Kernel tests: they run only inside the test VM (``python -m kubelvs.testbed pytest``), never on the host.

Fixtures:
- ``netns``: a :class:`netns.Netns`; its namespaces and servers are removed after the test.
- ``lvs``: the default :class:`netns.LvsTopology` (client, dir1, rs1, rs2, router, switch);
  ``lvs_factory(directors=2, real_servers=3, rs_segment="remote", ipv6=True)`` builds another shape.
- ``ipvs_ns``: a fresh namespace, so a test starts from an empty IPVS table; ``ipvs``: a
  ``KernelIpvsTable`` of that namespace.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import netns as netns_module  # tests/kernel is on sys.path (pytest's rootdir-less "prepend" import mode)
import pytest

KERNEL_TESTS = Path(__file__).parent
HOW_TO_RUN = (
    "tests/kernel needs a real IPVS kernel and root; run them in the VM with\n"
    "    .venv/bin/python -m kubelvs.testbed pytest [PYTEST ARGS]\n"
    "(or deselect them on the host with -m 'not kernel')."
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # before -m deselection, so `-m kernel` and `-m "not kernel"` see the marker
    for item in items:
        if item.path.is_relative_to(KERNEL_TESTS):
            item.add_marker(pytest.mark.kernel)


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.environ.get("KUBELVS_IN_VM") != "1" and any(i.path.is_relative_to(KERNEL_TESTS) for i in session.items):
        pytest.exit(HOW_TO_RUN, returncode=1)  # fail, never skip: a skipped kernel test proves nothing


@pytest.fixture
def netns() -> Iterator[netns_module.Netns]:
    owner = netns_module.Netns()
    try:
        yield owner
    finally:
        owner.cleanup()


@pytest.fixture
def lvs_factory(netns: netns_module.Netns) -> Callable[..., netns_module.LvsTopology]:
    def build(**options: object) -> netns_module.LvsTopology:
        return netns_module.build_lvs(netns, **options)  # type: ignore[arg-type]

    return build


@pytest.fixture
def lvs(lvs_factory: Callable[..., netns_module.LvsTopology]) -> netns_module.LvsTopology:
    return lvs_factory()


@pytest.fixture
def ipvs_ns(netns: netns_module.Netns) -> netns_module.Namespace:
    return netns.namespace("ipvs")


@pytest.fixture
def ipvs(ipvs_ns: netns_module.Namespace) -> Iterator[Any]:
    from kubelvs.kernel.ipvs import KernelIpvsTable  # pyroute2 is slow to import in the guest: only when used

    with ipvs_ns.entered():
        table = KernelIpvsTable()
    try:
        yield table
    finally:
        table.close()
