"""1,000 services x 10 destinations: the lean reader and pyroute2's reader return the same table, and both are
timed against an ``ipvsadm -Ln`` dump of it in the same boot. Figures are printed and recorded, not asserted."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from netns import Netns

from kubelvs.kernel.ipvs import KernelIpvsTable
from kubelvs.netstate import (
    AddDestination,
    AddService,
    Destination,
    DestKey,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # pyroute2_reference: the unit tests' too
SERVICES, DESTS = 1000, 10


def _ops() -> list[AddService | AddDestination]:
    ops: list[AddService | AddDestination] = []
    for s in range(SERVICES):
        key = ServiceKey(Family.INET, Proto.TCP, f"10.{100 + s // 250}.{s % 250}.1", 80)
        ops.append(AddService(Service(key, scheduler="wrr")))
        for d in range(DESTS):
            dest = Destination(DestKey(key, f"10.200.{s % 250}.{d + 1}", 8080), forwarding=Fwd.MASQ, weight=d + 1)
            ops.append(AddDestination(dest))
    return ops


T = TypeVar("T")


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_lean_and_pyroute2_readers_timed_against_ipvsadm_listing(
    netns: Netns, record_property: Callable[[str, object], None]
) -> None:
    import pyroute2_reference  # pyroute2 is slow to import in the guest: only when used
    from pyroute2 import IPVS

    ns = netns.namespace("bench")
    with ns.entered():
        ipvs = KernelIpvsTable()
        reference = IPVS()
    try:
        ops = _ops()
        assert ipvs.apply(ops) == [None] * len(ops)

        listing, ipvsadm_s = _timed(lambda: ns.exec("ipvsadm", "-Ln", timeout=600).stdout)
        services, lean_services_s = _timed(ipvs.services)
        keys = sorted(services)
        dests, lean_dests_s = _timed(lambda: ipvs.destinations(keys))
        stats, lean_stats_s = _timed(lambda: ipvs.stats(keys))
        ref_services, ref_services_s = _timed(lambda: pyroute2_reference.reference_services(reference))
        ref_dests, ref_dests_s = _timed(lambda: pyroute2_reference.reference_destinations(reference, keys))
        _, ipvsadm_again_s = _timed(lambda: ns.exec("ipvsadm", "-Ln", timeout=600).stdout)
    finally:
        reference.close()
        ipvs.close()

    for name, value in [
        ("ipvsadm_Ln_s", ipvsadm_s),
        ("ipvsadm_Ln_again_s", ipvsadm_again_s),
        ("lean_services_s", lean_services_s),
        ("lean_destinations_s", lean_dests_s),
        ("lean_services_plus_destinations_s", lean_services_s + lean_dests_s),
        ("lean_stats_s", lean_stats_s),
        ("pyroute2_services_s", ref_services_s),
        ("pyroute2_destinations_s", ref_dests_s),
    ]:
        record_property(name, round(value, 3))
        print(f"dump timing: {name} = {value:.3f}")

    assert len(listing.splitlines()) == 3 + SERVICES * (DESTS + 1)
    assert services == ref_services and len(services) == SERVICES
    assert dests == ref_dests and len(dests) == SERVICES * DESTS
    assert set(stats) == set(dests)
