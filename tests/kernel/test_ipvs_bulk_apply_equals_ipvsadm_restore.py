"""1,000 services x 10 destinations: ``apply`` builds exactly the table ``ipvsadm -R`` builds from the same
rules, with no failed op. Both are timed; the figures land in the junit properties (``record_property``)."""

from __future__ import annotations

import time
from pathlib import Path

from netns import Netns

from kubelvs.kernel import ipvs_wire as wire
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

SERVICES, DESTS = 1000, 10


def _rules() -> tuple[list[AddService | AddDestination], str]:
    ops: list[AddService | AddDestination] = []
    lines = []
    for s in range(SERVICES):
        key = ServiceKey(Family.INET, Proto.TCP, f"10.{100 + s // 250}.{s % 250}.1", 80)
        ops.append(AddService(Service(key, scheduler="wrr")))
        lines.append(f"-A -t {key.address}:80 -s wrr")
        for d in range(DESTS):
            dest = Destination(DestKey(key, f"10.200.{s % 250}.{d + 1}", 8080), forwarding=Fwd.MASQ, weight=d + 1)
            ops.append(AddDestination(dest))
            lines.append(f"-a -t {key.address}:80 -r {dest.key.address}:8080 -m -w {d + 1}")
    return ops, "\n".join(lines) + "\n"


def test_bulk_apply_builds_the_same_table_as_ipvsadm_restore(netns: Netns, tmp_path: Path, record_property):
    ops, restore = _rules()
    (tmp_path / "rules").write_text(restore)
    theirs, ours = netns.namespace("restore"), netns.namespace("apply")

    started = time.monotonic()
    theirs.exec("sh", "-c", f"ipvsadm -R < {tmp_path / 'rules'}", timeout=600)
    restore_seconds = time.monotonic() - started

    started = time.monotonic()
    for seq, op in enumerate(ops):
        wire.op_message(op, 30, seq)
    pack_seconds = time.monotonic() - started

    with ours.entered():
        ipvs = KernelIpvsTable()
    started = time.monotonic()
    results = ipvs.apply(ops)
    apply_seconds = time.monotonic() - started

    started = time.monotonic()
    services = ipvs.services()
    read_services_seconds = time.monotonic() - started
    started = time.monotonic()
    sample = ipvs.destinations(sorted(services)[:100])
    read_100_services_dests_seconds = time.monotonic() - started
    ipvs.close()

    for name, value in [
        ("objects", len(ops)),
        ("ipvsadm_restore_s", round(restore_seconds, 2)),
        ("apply_s", round(apply_seconds, 2)),
        ("packing_alone_s", round(pack_seconds, 2)),  # a separate pass: apply packs again
        ("read_1000_services_s", round(read_services_seconds, 2)),
        ("read_dests_of_100_services_s", round(read_100_services_dests_seconds, 2)),
    ]:
        record_property(name, value)
        print(f"bulk: {name} = {value}")

    assert [r for r in results if r is not None] == []
    assert len(services) == SERVICES
    assert len(sample) == 100 * DESTS
    saved_theirs = sorted(theirs.exec("ipvsadm", "-Sn", timeout=600).stdout.splitlines())
    saved_ours = sorted(ours.exec("ipvsadm", "-Sn", timeout=600).stdout.splitlines())
    assert len(saved_ours) == len(ops)
    assert saved_ours == saved_theirs
