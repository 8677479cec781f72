"""``kubelvs status`` lays the live table out like ``ipvsadm -Ln`` (or ``--stats``, ``--rate``), then the owner;
``-o json`` carries the same table with every counter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubelvs.commands.status import owners_from_manifests
from kubelvs.formats import ipvsadm, listing
from kubelvs.formats.listing import Layout
from kubelvs.netstate import (
    Destination,
    DestKey,
    DestStats,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    ServiceStats,
    SvcFlag,
)

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("layout", "capture"),
    [
        pytest.param(Layout.LIST, "ipvsadm-Ln.txt", id="list"),
        pytest.param(Layout.STATS, "ipvsadm-Ln-stats.txt", id="stats"),
        pytest.param(Layout.RATE, "ipvsadm-Ln-rate.txt", id="rate"),
    ],
)
def test_each_line_is_ipvsadms_then_the_owner(layout: Layout, capture: str) -> None:
    """The fixtures are what ipvsadm 1.31 printed in the VM for the table of ipvsadm-Sn.txt."""
    table = ipvsadm.parse((DATA / "ipvsadm-Sn.txt").read_text())
    lines = listing.render(layout, table.services.values(), table.destinations.values(), {}, {}, {})
    captured = (DATA / capture).read_text().splitlines()[1:]  # after the version banner
    assert lines[0].endswith("  Owner")
    assert lines[0].removesuffix("  Owner") == captured[0].rstrip()
    assert lines[1] == captured[1].rstrip()
    assert all(line.endswith("  -") for line in lines[2:])  # nobody claims a line here
    assert [line.removesuffix("  -").rstrip() for line in lines[2:]] == [line.rstrip() for line in captured[2:]]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(0, "        0", id="zero"),
        pytest.param(99_999_999, " 99999999", id="largest-exact"),
        pytest.param(100_000_000, "  100000K", id="kilo"),
        pytest.param(5_000_000_000, "    5000M", id="mega"),
        pytest.param(300_000_000_000, "     300G", id="giga"),
        pytest.param(7 * 10**15, "    7000T", id="tera"),
    ],
)
def test_large_numbers_scale_like_ipvsadm(value: int, text: str) -> None:
    assert listing.largenum(value) == text


KEY = ServiceKey(Family.INET, Proto.TCP, "192.0.2.1", 80)
A, B = DestKey(KEY, "198.51.100.1", 80), DestKey(KEY, "198.51.100.2", 80)
DEST_STATS = {
    A: DestStats(active_conns=2, conns=10, inbytes=1000, cps=1),
    B: DestStats(active_conns=3, inactive_conns=1, conns=5, inbytes=500, cps=2),
}
# the kernel's service counters keep what a deleted destination counted: more than the sum of A's and B's
SERVICE_STATS = {KEY: ServiceStats(conns=40, inpkts=7, inbytes=4000, cps=6, outbps=123_456_789_000)}
OWNERS = {KEY: "VirtualServer default/web", A: "RealServer default/web-1"}
SERVICE = Service(KEY, scheduler="sh", flags=SvcFlag.PERSISTENT | SvcFlag.SCHED2, timeout=600, netmask=24)
DESTS = [Destination(A, Fwd.MASQ, weight=3), Destination(B, Fwd.TUNNEL, weight=0)]


def test_list_shows_settings_connections_and_owners() -> None:
    lines = listing.render(Layout.LIST, [SERVICE], DESTS, DEST_STATS, SERVICE_STATS, OWNERS)
    assert (
        lines[2] == "TCP  192.0.2.1:80 sh (sh-port) persistent 600 mask 255.255.255.0  VirtualServer default/web"
    )
    assert lines[3].split() == ["->", "198.51.100.1:80", "Masq", "3", "2", "0", "RealServer", "default/web-1"]
    assert lines[4].split() == ["->", "198.51.100.2:80", "Tunnel", "0", "3", "1", "-"]


def test_stats_and_rate_show_the_services_own_counters() -> None:
    stats = listing.render(Layout.STATS, [SERVICE], DESTS, DEST_STATS, SERVICE_STATS, OWNERS)
    assert stats[2].split() == ["TCP", "192.0.2.1:80", "40", "7", "0", "4000", "0", "VirtualServer", "default/web"]
    assert stats[3].split() == [
        "->",
        "198.51.100.1:80",
        "10",
        "0",
        "0",
        "1000",
        "0",
        "RealServer",
        "default/web-1",
    ]
    rate = listing.render(Layout.RATE, [SERVICE], DESTS, DEST_STATS, SERVICE_STATS, OWNERS)
    assert rate[2].split() == ["TCP", "192.0.2.1:80", "6", "0", "0", "0", "123G", "VirtualServer", "default/web"]
    assert rate[4].split() == ["->", "198.51.100.2:80", "2", "0", "0", "0", "0", "-"]


def test_a_service_the_kernel_gave_no_counters_for_shows_zeros() -> None:
    lines = listing.render(Layout.STATS, [SERVICE], [], {}, {}, {})
    assert lines[2].split() == ["TCP", "192.0.2.1:80", "0", "0", "0", "0", "0", "-"]


def test_data_carries_settings_counters_and_owners() -> None:
    data = listing.as_data([SERVICE], DESTS, DEST_STATS, SERVICE_STATS, OWNERS)
    [service] = json.loads(json.dumps(data))["services"]  # plain JSON values only
    assert {k: v for k, v in service.items() if k not in ("stats", "destinations")} == {
        "service": "TCP 192.0.2.1:80",
        "family": "inet",
        "protocol": "TCP",
        "address": "192.0.2.1",
        "port": 80,
        "fwmark": 0,
        "scheduler": "sh",
        "flags": ["sh-port"],
        "persistence": {"timeout": 600, "netmask": "255.255.255.0"},
        "owner": "VirtualServer default/web",
    }
    assert service["stats"]["conns"] == 40 and service["stats"]["outbps"] == 123_456_789_000
    first, second = service["destinations"]
    assert first["forward"] == "Masq" and first["weight"] == 3 and first["activeConns"] == 2
    assert first["owner"] == "RealServer default/web-1" and first["stats"]["inbytes"] == 1000
    assert second["forward"] == "Tunnel" and second["inactiveConns"] == 1 and second["owner"] is None


def test_data_of_a_fwmark_service_has_no_protocol_or_address() -> None:
    key = ServiceKey(Family.INET6, Proto.NONE, "", 0, fwmark=8)
    [service] = listing.as_data([Service(key, scheduler="rr", flags=SvcFlag.ONEPACKET)], [], {}, {}, {})[
        "services"
    ]
    assert service["service"] == "FWM 8 IPv6" and service["family"] == "inet6"
    assert service["protocol"] is None and service["address"] is None and service["fwmark"] == 8
    assert service["flags"] == ["ops"] and service["persistence"] is None


def test_owners_from_manifests_name_each_cr() -> None:
    examples = Path(__file__).parents[2] / "examples"
    owners = owners_from_manifests([str(examples)])
    values = set(owners.values())
    assert any(v.startswith("VirtualServer ") for v in values)
    assert any(v.startswith("RealServer ") for v in values)
    assert all(isinstance(k, ServiceKey) for k, v in owners.items() if v.startswith("VirtualServer "))
    assert all(isinstance(k, DestKey) for k, v in owners.items() if v.startswith("RealServer "))


def test_without_manifests_the_agents_record_marks_its_services(tmp_path: Path) -> None:
    from kubelvs.agent import ownership
    from kubelvs.commands.status import owners_from_record

    ours = ServiceKey(Family.INET, Proto.TCP, "192.0.2.1", 80)
    path = tmp_path / "owned.json"
    ownership.Store(path).save(ownership.Record(services={ours}))
    owners = owners_from_record(path)
    assert owners == {ours: f"kube-lvs ({path})"}
    theirs = ServiceKey(Family.INET, Proto.TCP, "10.96.0.1", 443)  # e.g. kube-proxy's
    lines = listing.render(Layout.LIST, [Service(ours), Service(theirs)], [], {}, {}, owners)
    assert lines[2].startswith("TCP  10.96.0.1:443") and lines[2].endswith("  -")
    assert lines[3].startswith("TCP  192.0.2.1:80") and lines[3].endswith(f"kube-lvs ({path})")
