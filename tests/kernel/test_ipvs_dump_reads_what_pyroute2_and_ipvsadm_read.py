"""The lean dump reader returns, on a table of every shape, exactly what pyroute2's dumps return and what
``ipvsadm -Sn`` lists; and the kernel runs one dump at a time per socket, so GET_DEST dumps go one by one."""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from ipvsadm_view import option, rules, service_line, service_name
from netns import Namespace

from kubelvs.kernel import ipvs_dump as dump
from kubelvs.kernel import netlink
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
    SvcFlag,
)

TCP4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
UDP4 = ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 53)
SCTP4 = ServiceKey(Family.INET, Proto.SCTP, "192.0.2.100", 3868)
PERSIST4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.101", 443)
SH4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.102", 8000)
TCP6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8:1::100", 443)
PERSIST6 = ServiceKey(Family.INET6, Proto.UDP, "2001:db8:1::101", 5060)
FWM4 = ServiceKey(Family.INET, Proto.NONE, "", 0, fwmark=7)
FWM6 = ServiceKey(Family.INET6, Proto.NONE, "", 0, fwmark=0x7FFFFFFF)  # ipvsadm prints marks as signed

SERVICES = [
    Service(TCP4, scheduler="wlc"),
    Service(UDP4, scheduler="rr", flags=SvcFlag.ONEPACKET),
    Service(SCTP4, scheduler="wrr"),
    Service(PERSIST4, scheduler="lc", flags=SvcFlag.PERSISTENT, timeout=300, netmask=24),
    Service(SH4, scheduler="sh", flags=SvcFlag.SCHED1 | SvcFlag.SCHED2),
    Service(TCP6, scheduler="mh", netmask=128),
    Service(PERSIST6, scheduler="sed", flags=SvcFlag.PERSISTENT, timeout=600, netmask=64),
    Service(FWM4, scheduler="nq"),
    Service(FWM6, scheduler="fo", netmask=128),
]
DESTS = [
    Destination(DestKey(TCP4, "10.9.0.11", 8080), forwarding=Fwd.MASQ, weight=3),
    Destination(DestKey(TCP4, "10.9.0.12", 80), forwarding=Fwd.DROUTE, weight=0),
    Destination(
        DestKey(TCP4, "198.51.100.11", 80), forwarding=Fwd.TUNNEL, upper_threshold=1000, lower_threshold=10
    ),
    Destination(DestKey(TCP4, "2001:db8:2::11", 80), forwarding=Fwd.TUNNEL, family=Family.INET6),
    Destination(DestKey(UDP4, "10.9.0.13", 53), forwarding=Fwd.MASQ, weight=65535),
    Destination(DestKey(SCTP4, "10.9.0.14", 3868), forwarding=Fwd.DROUTE),
    Destination(DestKey(PERSIST4, "10.9.0.15", 443), forwarding=Fwd.DROUTE, upper_threshold=5),
    Destination(DestKey(SH4, "10.9.0.16", 8000), forwarding=Fwd.MASQ),
    Destination(DestKey(SH4, "10.9.0.17", 8001), forwarding=Fwd.MASQ, weight=2),
    Destination(DestKey(TCP6, "2001:db8:9::11", 8443), forwarding=Fwd.MASQ, lower_threshold=3, upper_threshold=9),
    Destination(DestKey(TCP6, "198.51.100.12", 443), forwarding=Fwd.TUNNEL, family=Family.INET),
    Destination(DestKey(PERSIST6, "2001:db8:9::12", 5060), forwarding=Fwd.DROUTE),
    Destination(DestKey(FWM4, "10.9.0.18", 0), forwarding=Fwd.DROUTE),
    Destination(DestKey(FWM4, "10.9.0.19", 0), forwarding=Fwd.TUNNEL, weight=7),
    Destination(DestKey(FWM6, "2001:db8:9::13", 0), forwarding=Fwd.DROUTE),
]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # pyroute2_reference: the unit tests' too
FWD_SWITCH = {Fwd.MASQ: "-m", Fwd.DROUTE: "-g", Fwd.TUNNEL: "-i"}


def _dest_line(lines: list[list[str]], dest: Destination) -> list[str]:
    # ipvsadm -S puts "-6" between an IPv6 fwmark service's name and "-r": match on the name, then "-r"
    name = ["-a", *service_name(dest.key.service)]
    host = f"[{dest.key.address}]" if ":" in dest.key.address else dest.key.address
    found = [
        line for line in lines if line[: len(name)] == name and option(line, "-r") == f"{host}:{dest.key.port}"
    ]
    assert len(found) == 1, f"{dest.key} in {lines}"
    return found[0]


def _reference_reader(ns: Namespace) -> Any:
    from pyroute2 import IPVS  # pyroute2 is slow to import in the guest: only when used

    with ns.entered():
        return IPVS()


def test_lean_reads_equal_pyroute2_and_ipvsadm_on_every_shape(ipvs: Any, ipvs_ns: Namespace) -> None:
    import pyroute2_reference  # pyroute2 is slow to import in the guest: only when used

    ops = [*(AddService(s) for s in SERVICES), *(AddDestination(d) for d in DESTS)]
    assert ipvs.apply(ops) == [None] * len(ops)

    services = ipvs.services()
    keys = sorted(services)
    destinations = ipvs.destinations(keys)
    stats = ipvs.stats(keys)
    reference = _reference_reader(ipvs_ns)
    try:
        assert services == pyroute2_reference.reference_services(reference)
        assert destinations == pyroute2_reference.reference_destinations(reference, keys)
        assert stats == pyroute2_reference.reference_stats(reference, keys)
    finally:
        reference.close()

    assert services == {s.key: s for s in SERVICES}
    assert destinations == {d.key: d for d in DESTS}
    assert set(stats) == set(destinations)

    lines = rules(ipvs_ns)
    assert len([line for line in lines if line[0] == "-A"]) == len(services)
    assert len([line for line in lines if line[0] == "-a"]) == len(destinations)
    for service in services.values():
        assert option(service_line(lines, service.key), "-s") == service.scheduler
    for dest in destinations.values():
        line = _dest_line(lines, dest)
        assert option(line, "-w") == str(dest.weight), line
        assert FWD_SWITCH[dest.forwarding] in line, line


def test_a_vanished_service_reads_as_no_destinations(ipvs: Any) -> None:
    assert ipvs.apply([AddService(Service(TCP4)), AddDestination(DESTS[0])]) == [None, None]
    assert ipvs.destinations([UDP4, TCP4]) == {DESTS[0].key: DESTS[0]}
    assert ipvs.stats([UDP4]) == {}


def test_a_second_dump_sent_with_the_first_is_refused_busy(ipvs: Any, ipvs_ns: Namespace) -> None:
    # measured, so the reader need not guess: batching GET_DEST dumps into one send() does not work
    many = [
        Destination(DestKey(k, f"10.9.{n}.{i}", 80), forwarding=Fwd.DROUTE)
        for n, k in enumerate((TCP4, UDP4))
        for i in range(1, 11)
    ]
    ops = [AddService(Service(TCP4)), AddService(Service(UDP4)), *(AddDestination(d) for d in many)]
    assert ipvs.apply(ops) == [None] * len(ops)
    reference = _reference_reader(ipvs_ns)
    family_id = reference.prid
    reference.close()
    with ipvs_ns.entered():
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
    try:
        sock.bind((0, 0))
        sock.settimeout(10)
        sock.send(dump.dest_dump_request(family_id, 1, TCP4) + dump.dest_dump_request(family_id, 2, UDP4))
        answers: dict[int, list[int]] = {1: [], 2: []}  # seq -> reply types, then the errno of the end
        ended: set[int] = set()
        while ended != {1, 2}:
            for kind, _flags, seq, payload in netlink.messages(sock.recv(1 << 20)):
                answers[seq].append(kind)
                if kind in (netlink.NLMSG_DONE, netlink.NLMSG_ERROR):
                    answers[seq].append(netlink.error_code(payload))
                    ended.add(seq)
    finally:
        sock.close()
    print(f"two GET_DEST dumps in one send(): {answers}")
    assert answers[2] == [netlink.NLMSG_ERROR, errno.EBUSY]
    assert answers[1][-2:] == [netlink.NLMSG_DONE, 0] and len(answers[1]) == 10 + 2


@pytest.mark.parametrize("service", [TCP6, FWM6], ids=["tcp6", "fwmark6"])
def test_v6_services_read_back_through_the_lean_reader(ipvs: Any, service: ServiceKey) -> None:
    svc = Service(service, scheduler="rr", netmask=128)
    dest = Destination(DestKey(service, "2001:db8:9::20", 0 if service.fwmark else 80), forwarding=Fwd.DROUTE)
    assert ipvs.apply([AddService(svc), AddDestination(dest)]) == [None, None]
    assert ipvs.services() == {service: svc}
    assert ipvs.destinations([service]) == {dest.key: dest}
