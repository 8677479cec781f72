"""VIPs, the NAT gateway, fwmarkMatch.destination and real servers refuse special address classes.

Every class of :data:`kubelvs.api.address_classes.ADDRESS_CLASSES` is tried in every address field, through
:func:`kubelvs.api.objects.parse_object` (what ``kubelvs validate``, the operator and both agents run), and
the problem must name the field, the value and the class. Ordinary addresses (public, RFC 1918, shared,
the documentation ranges the examples use, ULA) stay accepted. Both READMEs carry the module's table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import crd_admission
import pytest

from kubelvs import cli
from kubelvs.api.address_classes import ADDRESS_CLASSES, AddressClass, Role, address_class, markdown_table
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object

REPO = Path(__file__).parents[3]

# Addresses of each class, as a user writes them, and the text the model normalises them to.
SAMPLES: dict[str, list[tuple[str, str]]] = {
    "an address with a zone id": [("fe80::1%eth0", "fe80::1%eth0"), ("2001:db8::1%2", "2001:db8::1%2")],
    "an IPv4-mapped IPv6 address": [
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ],
    "an unspecified address": [("0.0.0.0", "0.0.0.0"), ("::", "::"), ("0:0:0:0:0:0:0:0", "::")],
    "a loopback address": [("127.0.0.1", "127.0.0.1"), ("127.255.0.9", "127.255.0.9"), ("::1", "::1")],
    "the limited broadcast address": [("255.255.255.255", "255.255.255.255")],
    "a multicast address": [
        ("224.0.0.18", "224.0.0.18"),  # VRRP's group
        ("239.255.255.250", "239.255.255.250"),
        ("ff02::1", "ff02::1"),
        ("FF05::1:3", "ff05::1:3"),
    ],
    "a link-local address": [
        ("169.254.169.254", "169.254.169.254"),  # the cloud metadata service
        ("169.254.0.1", "169.254.0.1"),
        ("fe80::1", "fe80::1"),
        ("febf::1", "febf::1"),
    ],
    'a "this network" address': [("0.0.0.1", "0.0.0.1"), ("0.255.255.255", "0.255.255.255")],
    "a reserved address": [("240.0.0.1", "240.0.0.1"), ("255.255.255.254", "255.255.255.254")],
}

ORDINARY = [
    "192.0.2.10",  # TEST-NET-1, what the examples and tests use
    "198.51.100.7",
    "203.0.113.200",
    "10.1.2.3",  # RFC 1918
    "172.16.0.1",
    "192.168.13.202",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "8.8.8.8",  # public
    "2001:db8::10",  # the IPv6 documentation prefix
    "fd00::1",  # ULA
    "2606:4700::1111",  # public IPv6
]


def _object(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "lvs.kubelvs.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}


def _v6(address: str) -> bool:
    return ":" in address


# Each address field: its path, its role, and an object that carries ``address`` there (and is valid otherwise).
FIELDS = {
    "spec.address": (Role.VIP, lambda a: _object("VirtualServer", {"address": a, "port": 80})),
    "spec.directors.gateway.address": (
        Role.VIP,
        lambda a: _object(
            "VirtualServer",
            {
                "address": "2001:db8::10" if _v6(a) else "192.0.2.10",
                "port": 80,
                "forwarding": "nat",
                "directors": {"gateway": {"address": a}},
            },
        ),
    ),
    "spec.fwmarkMatch.destination": (
        Role.VIP,
        lambda a: _object("VirtualServer", {"fwmark": 7, "fwmarkMatch": {"destination": a, "ports": [80]}}),
    ),
    "real server spec.address": (
        Role.REAL_SERVER,
        lambda a: _object("RealServer", {"virtualServer": "web", "address": a}),
    ),
}

CASES = [
    pytest.param(field, name, written, normalised, id=f"{field.removeprefix('spec.')}-{written}")
    for field in FIELDS
    for name, samples in SAMPLES.items()
    for written, normalised in samples
]


def _by_name(name: str) -> AddressClass:
    return next(row for row in ADDRESS_CLASSES if row.name == name)


def test_every_class_of_the_table_has_samples() -> None:
    assert sorted(SAMPLES) == sorted(row.name for row in ADDRESS_CLASSES)


@pytest.mark.parametrize(
    ("name", "written"), [(name, written) for name, samples in SAMPLES.items() for written, _ in samples]
)
def test_the_library_puts_each_sample_in_its_class(name: str, written: str) -> None:
    parsed = parse_object(_object("RealServer", {"virtualServer": "web", "address": written}))
    text = parsed.spec.address if isinstance(parsed, RealServer) else written
    assert address_class(text) is _by_name(name)


@pytest.mark.parametrize(("field", "name", "written", "normalised"), CASES)
def test_each_address_field_refuses_its_classes_naming_field_value_and_class(
    field: str, name: str, written: str, normalised: str
) -> None:
    role, build = FIELDS[field]
    path = field.removeprefix("real server ")
    verdict = _by_name(name).verdict(role)
    found = parse_object(build(written))
    if not verdict.refused:
        assert isinstance(found, VirtualServer | RealServer), [str(p) for p in found]  # type: ignore[union-attr]
        return
    assert isinstance(found, list), f"{written} accepted as {field}"
    assert [str(p) for p in found if p.path == path] == [f"{path}: {normalised} is {name}; {verdict.why}"]


def test_the_messages_read_as_the_issue_asks() -> None:
    found = parse_object(_object("VirtualServer", {"address": "127.0.0.1", "port": 80}))
    assert [str(p) for p in found] == [  # type: ignore[union-attr]
        "spec.address: 127.0.0.1 is a loopback address; a VIP must be reachable from clients"
    ]
    found = parse_object(_object("RealServer", {"virtualServer": "web", "address": "169.254.169.254"}))
    assert [p.path for p in found] == ["spec.address"]  # type: ignore[union-attr]
    assert "169.254.169.254 is a link-local address" in str(found[0])  # type: ignore[index]


def test_reserved_240_is_refused_as_a_vip_but_allowed_for_real_servers() -> None:
    assert isinstance(parse_object(_object("VirtualServer", {"address": "240.1.2.3", "port": 80})), list)
    real_server = parse_object(_object("RealServer", {"virtualServer": "web", "address": "240.1.2.3"}))
    assert isinstance(real_server, RealServer)


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("address", ORDINARY)
def test_ordinary_addresses_are_accepted_everywhere(field: str, address: str) -> None:
    _, build = FIELDS[field]
    found = parse_object(build(address))
    assert isinstance(found, VirtualServer | RealServer), [str(p) for p in found]  # type: ignore[union-attr]
    assert address_class(address) is None


def test_validate_refuses_a_loopback_real_server_and_keeps_its_neighbours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        "apiVersion: lvs.kubelvs.io/v1alpha1\nkind: VirtualServer\nmetadata: {name: web}\n"
        "spec: {address: 192.0.2.10, port: 80}\n---\n"
        "apiVersion: lvs.kubelvs.io/v1alpha1\nkind: RealServer\nmetadata: {name: local}\n"
        "spec: {virtualServer: web, address: 127.0.0.1}\n---\n"
        "apiVersion: lvs.kubelvs.io/v1alpha1\nkind: RealServer\nmetadata: {name: web-1}\n"
        "spec: {virtualServer: web, address: 192.0.2.21}\n"
    )
    assert cli.main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: RealServer default/local: spec.address: 127.0.0.1 is a loopback address; "
        f"{_by_name('a loopback address').real_server.why}"
    ]


@pytest.mark.parametrize("field", list(FIELDS))
def test_the_crd_refuses_a_zone_id_in_every_address_field(field: str) -> None:
    _, build = FIELDS[field]
    path = field.removeprefix("real server ")
    errors = crd_admission.admission_errors(build("fe80::1%eth0"))
    assert [p for p, message in errors if "zone id" in message] == [path], errors
    assert crd_admission.admission_errors(build("fe80::1")) == []  # the other classes: the operator alone


def _section(text: str) -> str:
    found = re.search(r"<!-- address-classes -->\n(.*?)<!-- /address-classes -->", text, re.DOTALL)
    assert found, "no <!-- address-classes --> ... <!-- /address-classes --> block"
    return found.group(1)


@pytest.mark.parametrize("readme", ["README.md", "charts/kubelvs/README.md"])
def test_the_readmes_carry_the_modules_table(readme: str) -> None:
    assert _section((REPO / readme).read_text()) == markdown_table(), (
        f"{readme} is stale: put the output of `.venv/bin/python -c 'from kubelvs.api.address_classes "
        'import markdown_table; print(markdown_table(), end="")\'` between its address-classes markers'
    )
