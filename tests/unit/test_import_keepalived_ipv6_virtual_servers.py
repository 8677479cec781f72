"""keepalived.conf's IPv6 virtual servers (``virtual_server 2001:db8::1 80``, ``real_server 2001:db8::10 80``,
``virtual_server fwmark 1`` with ``ip_family inet6``) as CRs that validate and export as ipvsadm writes them
(issue 17; the VM test tests/kernel/test_ipv6_services_round_trip_through_ipvsadm_import_and_export.py restores
that export with the real ipvsadm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs import cli
from kubelvs.api import manifests as api_manifests
from kubelvs.api.enums import AddressFamily, Forwarding, HealthCheckType, Protocol, Scheduler
from kubelvs.formats import keepalived, manifests

DATA = Path(__file__).parent / "data"
CONF = DATA / "keepalived-ipv6.conf"


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    converted = keepalived.convert(CONF.read_text(), CONF.name, "default")
    assert not [note for note in converted.notes if note.level == "error"], converted.notes
    path = tmp_path / "ipv6.yaml"
    path.write_text(manifests.render(converted.documents))
    return path


def test_each_ipv6_virtual_server_and_real_server_becomes_a_valid_object(imported: Path) -> None:
    loaded = api_manifests.load([str(imported)])
    assert loaded.findings == []
    services = {vs.metadata.name: vs.spec for vs in loaded.virtual_servers}
    assert sorted(services) == ["fwm-1-ipv6", "tcp-2001-db8--1-80", "udp-2001-db8--1-53"]
    web, dns, marked = services["tcp-2001-db8--1-80"], services["udp-2001-db8--1-53"], services["fwm-1-ipv6"]
    assert (web.address, web.port, web.protocol, web.scheduler, web.forwarding) == (
        "2001:db8::1",
        80,
        Protocol.TCP,
        Scheduler.RR,
        Forwarding.NAT,
    )
    assert web.health_check is not None and web.health_check.type is HealthCheckType.HTTP
    assert (dns.address, dns.port, dns.protocol, dns.forwarding) == (
        "2001:db8::1",
        53,
        Protocol.UDP,
        Forwarding.DR,
    )
    assert dns.persistence is not None and (dns.persistence.timeout, dns.persistence.netmask) == (60, "/64")
    assert (marked.fwmark, marked.address_family) == (1, AddressFamily.IPV6)
    real = {(rs.spec.virtual_server, rs.spec.address, rs.spec.port, rs.spec.weight) for rs in loaded.real_servers}
    assert real == {
        ("tcp-2001-db8--1-80", "2001:db8::10", None, 1),
        ("tcp-2001-db8--1-80", "2001:db8::11", 8080, 3),
        ("udp-2001-db8--1-53", "2001:db8::12", None, 2),
        ("fwm-1-ipv6", "2001:db8::10", None, 2),
    }


def test_the_export_writes_bracketed_ipv6_services_as_ipvsadm_does(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["export", str(imported)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "-A -t [2001:db8::1]:80 -s rr",
        "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 1",
        "-a -t [2001:db8::1]:80 -r [2001:db8::11]:8080 -m -w 3",
        "-A -u [2001:db8::1]:53 -s wrr -p 60 -M 64",
        "-a -u [2001:db8::1]:53 -r [2001:db8::12]:53 -g -w 2",
        "-A -f 1 -6 -s wlc",
        "-a -f 1 -6 -r [2001:db8::10]:0 -g -w 2",
    ]
