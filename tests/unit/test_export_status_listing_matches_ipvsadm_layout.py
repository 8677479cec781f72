"""``kubelvs status`` lays the live table out like ``ipvsadm -Ln --stats`` (then rates, connections, owner)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs.commands.status import owners_from_manifests
from kubelvs.formats import ipvsadm, listing
from kubelvs.netstate import Destination, DestKey, DestStats, Family, Fwd, Proto, Service, ServiceKey

DATA = Path(__file__).parent / "data"


def test_left_part_is_ipvsadm_stats_listing_column_for_column() -> None:
    table = ipvsadm.parse((DATA / "ipvsadm-Sn.txt").read_text())
    lines = listing.render(table.services.values(), table.destinations.values(), {}, {})
    captured = (DATA / "ipvsadm-Ln-stats.txt").read_text().splitlines()[1:]  # after the version banner
    width = len(captured[0])
    assert [line[:width].rstrip() for line in lines] == [line.rstrip() for line in captured]


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


def test_service_sums_its_destinations_and_names_owners() -> None:
    key = ServiceKey(Family.INET, Proto.TCP, "192.0.2.1", 80)
    a, b = DestKey(key, "198.51.100.1", 80), DestKey(key, "198.51.100.2", 80)
    stats = {
        a: DestStats(active_conns=2, conns=10, inbytes=1000, cps=1),
        b: DestStats(active_conns=3, inactive_conns=1, conns=5, inbytes=500, cps=2),
    }
    owners = {key: "VirtualServer default/web", a: "RealServer default/web-1"}
    lines = listing.render([Service(key)], [Destination(a, Fwd.MASQ), Destination(b, Fwd.MASQ)], stats, owners)
    service_line = lines[2].split()
    assert service_line[:3] == ["TCP", "192.0.2.1:80", "15"]
    assert service_line[3:] == [
        "0",
        "0",
        "1500",
        "0",
        "3",
        "0",
        "0",
        "0",
        "0",
        "5",
        "1",
        "VirtualServer",
        "default/web",
    ]
    assert lines[3].endswith("RealServer default/web-1")
    assert lines[4].endswith("  -")  # nobody claims it


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
    lines = listing.render([Service(ours), Service(theirs)], [], {}, owners)
    assert lines[2].startswith("TCP  10.96.0.1:443") and lines[2].endswith("  -")
    assert lines[3].startswith("TCP  192.0.2.1:80") and lines[3].endswith(f"kube-lvs ({path})")
