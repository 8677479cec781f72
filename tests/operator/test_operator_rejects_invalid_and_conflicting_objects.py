"""Invalid and conflicting objects are rejected with the offending field, Stalled for kstatus, and a Warning."""

from __future__ import annotations

import pytest
from conftest import add_node, condition, events, fetch, real_server, settled, virtual_server
from emulator import wait_for
from prometheus_client import REGISTRY

pytestmark = pytest.mark.usefixtures("operator")

KINDS = {"virtualservers": "VirtualServer", "realservers": "RealServer"}


@pytest.fixture(scope="module", autouse=True)
def director_node(api):
    add_node(api, "node-a", "192.0.2.250")


def vs(name, **spec):
    return ("virtualservers", virtual_server(name, **spec))


def rs(name, parent, **spec):
    return ("realservers", real_server(name, parent, **spec))


CASES = [
    pytest.param(
        [vs("bad-flags", address="192.0.2.30", schedulerFlags=["sh-port"])],
        "virtualservers", "bad-flags", "InvalidSpec", "spec.schedulerFlags[0]",
        id="invalid-spec",
    ),
    pytest.param(
        [vs("far-away", address="198.51.100.5")],
        "virtualservers", "far-away", "VIPOutsidePools", "198.51.100.5 is outside the VIP pools",
        id="vip-outside-pools",
    ),
    pytest.param(
        [vs("on-a-node", address="192.0.2.250")],
        "virtualservers", "on-a-node", "VIPIsNodeAddress", "node node-a",
        id="vip-is-a-node-address",
    ),
    pytest.param(
        [vs("first", address="192.0.2.31"), vs("second", address="192.0.2.31")],
        "virtualservers", "second", "ServiceConflict", "TCP 192.0.2.31:80 is already the service",
        id="one-service-identity-twice",
    ),
    pytest.param(
        [rs("orphan", "nowhere")],
        "realservers", "orphan", "VirtualServerMissing", "VirtualServer 'nowhere' does not exist",
        id="real-server-without-its-virtual-server",
    ),
    pytest.param(
        [vs("bad-parent", address="192.0.2.32", onePacket=True), rs("child", "bad-parent")],
        "realservers", "child", "VirtualServerNotAccepted", "'bad-parent' is not accepted (InvalidSpec",
        id="real-server-of-an-invalid-virtual-server",
    ),
    pytest.param(
        [vs("dr", address="192.0.2.33", port=80), rs("dr-1", "dr", port=8080)],
        "realservers", "dr-1", "IncompatibleWithVirtualServer", "dr forwarding cannot remap ports",
        id="dr-port-mismatch",
    ),
    pytest.param(
        [
            vs("tun", address="192.0.2.34", port=53, protocol="UDP", forwarding="tun"),
            rs("tun-1", "tun", port=5353),
        ],
        "realservers", "tun-1", "IncompatibleWithVirtualServer", "tun forwarding cannot remap ports",
        id="tun-port-mismatch",
    ),
    pytest.param(
        [
            vs("dup", address="192.0.2.35"),
            rs("dup-1", "dup", address="10.0.0.9"),
            rs("dup-2", "dup", address="10.0.0.9"),
        ],
        "realservers", "dup-2", "DuplicateDestination",
        "10.0.0.9:80 is already the older RealServer default/dup-1",
        id="one-destination-twice",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("objects", "plural", "name", "reason", "text"), CASES)
def test_rejection_names_the_problem(api, objects, plural, name, reason, text):
    for kind_plural, body in objects:
        api.create(kind_plural, body)

    obj = settled(api, plural, name, "Accepted", "False", reason)
    accepted = condition(obj, "Accepted")
    assert text in accepted["message"]
    assert condition(obj, "Stalled")["status"] == "True"  # kstatus: Failed, until a human acts
    assert condition(obj, "Ready")["status"] == "False"
    assert condition(obj, "Reconciling") is None
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]

    # An object may be judged before its VirtualServer is seen (a transient VirtualServerMissing): wait
    # for the event of the settled reason, not merely the first one.
    warning = wait_for(
        lambda: [e for e in events(api, KINDS[plural], name, "Rejected") if reason in e["message"]]
    )[0]
    assert warning["type"] == "Warning"
    assert text in warning["message"]


def test_the_older_of_two_conflicting_services_keeps_it(api):
    first = settled(api, "virtualservers", "first", "Accepted", "True")
    assert condition(first, "Stalled") is None
    assert "default/first" in condition(fetch(api, "virtualservers", "second"), "Accepted")["message"]


def test_rejections_are_counted_by_reason():
    settled_reasons = {"VIPOutsidePools", "ServiceConflict", "DuplicateDestination"}
    for reason in settled_reasons:
        kind = "RealServer" if reason == "DuplicateDestination" else "VirtualServer"
        value = REGISTRY.get_sample_value("kubelvs_operator_rejections_total", {"kind": kind, "reason": reason})
        assert value is not None and value >= 1, reason
