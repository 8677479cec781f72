"""Every service and destination shape is programmed by ``apply``, read back equal, and ipvsadm agrees."""

from __future__ import annotations

import pytest
from ipvsadm_view import dest_line, option, rules, service_line

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
TCP6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8:1::100", 443)
FWM4 = ServiceKey(Family.INET, Proto.NONE, "", 0, fwmark=7)
FWM6 = ServiceKey(Family.INET6, Proto.NONE, "", 0, fwmark=8)
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]


def _program(ipvs, service: Service, dests: list[Destination]) -> None:
    ops = [AddService(service), *(AddDestination(d) for d in dests)]
    assert ipvs.apply(ops) == [None] * len(ops)
    assert ipvs.services() == {service.key: service}
    assert ipvs.destinations([service.key]) == {d.key: d for d in dests}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_round_trips(ipvs, ipvs_ns, scheduler):
    service = Service(TCP4, scheduler=scheduler)
    dests = [Destination(DestKey(TCP4, f"10.9.0.{i}", 80), weight=i) for i in (11, 12)]
    _program(ipvs, service, dests)
    lines = rules(ipvs_ns)
    assert option(service_line(lines, TCP4), "-s") == scheduler
    assert option(dest_line(lines, TCP4, "10.9.0.12", 80), "-w") == "12"


@pytest.mark.parametrize(
    ("service", "switches"),
    [
        pytest.param(Service(UDP4, scheduler="rr"), {"-s": "rr"}, id="udp"),
        pytest.param(Service(SCTP4, scheduler="wrr"), {"-s": "wrr"}, id="sctp"),
        pytest.param(Service(TCP6, scheduler="mh", netmask=128), {"-s": "mh"}, id="tcp6"),
        pytest.param(Service(FWM4, scheduler="wlc"), {"-s": "wlc"}, id="fwmark"),
        pytest.param(Service(FWM6, scheduler="sh", netmask=128), {"-s": "sh"}, id="fwmark6"),
        pytest.param(
            Service(TCP4, flags=SvcFlag.PERSISTENT, timeout=300, netmask=24),
            {"-p": "300", "-M": "255.255.255.0"},
            id="persistence-netmask",
        ),
        pytest.param(
            Service(TCP6, flags=SvcFlag.PERSISTENT, timeout=600, netmask=64),
            {"-p": "600", "-M": "64"},
            id="persistence-v6-prefix",
        ),
        pytest.param(
            Service(TCP4, scheduler="sh", flags=SvcFlag.SCHED1 | SvcFlag.SCHED2),
            {"-b": "sh-fallback,sh-port"},
            id="sh-flags",
        ),
        pytest.param(Service(UDP4, scheduler="rr", flags=SvcFlag.ONEPACKET), {"-o": None}, id="one-packet"),
    ],
)
def test_service_shapes_round_trip(ipvs, ipvs_ns, service, switches):
    port = 0 if service.key.fwmark else service.key.port
    address = "2001:db8:9::11" if service.key.family == Family.INET6 else "10.9.0.11"
    _program(ipvs, service, [Destination(DestKey(service.key, address, port), forwarding=Fwd.DROUTE)])
    line = service_line(rules(ipvs_ns), service.key)
    for flag, value in switches.items():
        assert flag in line, line
        if value is not None:
            assert option(line, flag) == value, line


@pytest.mark.parametrize(
    ("dest", "switch", "extra"),
    [
        pytest.param(Destination(DestKey(TCP4, "10.9.0.11", 8080), forwarding=Fwd.MASQ), "-m", {}, id="nat"),
        pytest.param(Destination(DestKey(TCP4, "10.9.0.11", 80), forwarding=Fwd.DROUTE), "-g", {}, id="dr"),
        pytest.param(Destination(DestKey(TCP4, "198.51.100.11", 80), forwarding=Fwd.TUNNEL), "-i", {}, id="tun"),
        pytest.param(
            Destination(
                DestKey(TCP4, "10.9.0.11", 8080), forwarding=Fwd.MASQ, upper_threshold=100, lower_threshold=20
            ),
            "-m",
            {},
            id="thresholds",
        ),
        pytest.param(Destination(DestKey(TCP4, "10.9.0.11", 80), weight=0), "-g", {"-w": "0"}, id="quiesced"),
        pytest.param(
            Destination(DestKey(TCP6, "2001:db8:9::11", 8443), forwarding=Fwd.MASQ), "-m", {}, id="v6-nat"
        ),
        pytest.param(
            Destination(DestKey(TCP6, "198.51.100.11", 443), forwarding=Fwd.TUNNEL, family=Family.INET),
            "-i",
            {},
            id="tun-v4-dest-of-v6-service",
        ),
    ],
)
def test_forwarding_methods_and_thresholds_round_trip(ipvs, ipvs_ns, dest, switch, extra):
    service = Service(
        dest.key.service, scheduler="wlc", netmask=128 if dest.key.service.family == Family.INET6 else 32
    )
    _program(ipvs, service, [dest])
    line = dest_line(rules(ipvs_ns), service.key, dest.key.address, dest.key.port)
    assert switch in line, line
    for flag, value in extra.items():
        assert option(line, flag) == value, line


def test_thresholds_show_in_ipvsadm_listing(ipvs, ipvs_ns):
    # ipvsadm -S leaves thresholds out; its --thresholds listing has them
    dest = Destination(
        DestKey(TCP4, "10.9.0.11", 8080), forwarding=Fwd.MASQ, upper_threshold=100, lower_threshold=20
    )
    _program(ipvs, Service(TCP4), [dest])
    listing = ipvs_ns.exec("ipvsadm", "-Ln", "--thresholds").stdout.splitlines()
    (row,) = [line.split() for line in listing if "10.9.0.11:8080" in line]
    assert row[:4] == ["->", "10.9.0.11:8080", "100", "20"]  # -> address Uthreshold Lthreshold
