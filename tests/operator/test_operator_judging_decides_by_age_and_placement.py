"""The pure judgement behind the operator: age decides conflicts, deleting objects free their claims,
VIP pools and node addresses bound every address a service would bind. No API server needed."""

from __future__ import annotations

import ipaddress

import pytest
from conftest import real_server, virtual_server

from kubelvs.api.rejections import Rejection
from kubelvs.controller.judging import judge

POOLS = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/64"))


def created(obj, timestamp, deleting=False):
    obj["metadata"]["creationTimestamp"] = timestamp
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:09Z"
    return obj


def keyed(*objects):
    return {f"{obj['metadata']['namespace']}/{obj['metadata']['name']}": obj for obj in objects}


def test_the_older_object_keeps_the_service_whatever_the_names():
    older = created(virtual_server("zz", address="192.0.2.1"), "2026-01-01T00:00:01Z")
    newer = created(virtual_server("aa", address="192.0.2.1"), "2026-01-01T00:00:02Z")

    result = judge(keyed(older, newer), {}, {}, POOLS)

    assert result.virtual_servers["default/zz"].accepted
    assert result.virtual_servers["default/aa"].rejection is Rejection.SERVICE_CONFLICT
    assert "older VirtualServer default/zz" in result.virtual_servers["default/aa"].message


def test_an_object_being_deleted_claims_nothing():
    older = created(virtual_server("zz", address="192.0.2.1"), "2026-01-01T00:00:01Z", deleting=True)
    newer = created(virtual_server("aa", address="192.0.2.1"), "2026-01-01T00:00:02Z")
    orphan = created(real_server("zz-1", "zz"), "2026-01-01T00:00:01Z")

    result = judge(keyed(older, newer), keyed(orphan), {}, POOLS)

    assert "default/zz" not in result.virtual_servers
    assert result.virtual_servers["default/aa"].accepted
    assert result.real_servers["default/zz-1"].rejection is Rejection.VIRTUAL_SERVER_MISSING


@pytest.mark.parametrize(
    ("spec", "nodes", "pools", "rejection", "path"),
    [
        pytest.param(
            {"address": "198.51.100.1"}, {}, POOLS, Rejection.VIP_OUTSIDE_POOLS, "spec.address", id="outside",
        ),
        pytest.param({"address": "198.51.100.1"}, {}, (), None, None, id="no-pools-allow-any-address"),
        pytest.param(
            {"address": "2001:db8::1"}, {"n1": frozenset({"2001:db8::1"})}, POOLS,
            Rejection.VIP_IS_NODE_ADDRESS, "spec.address", id="ipv6-node-address",
        ),
        pytest.param(
            {"address": None, "port": None, "protocol": None, "fwmark": 7,
             "fwmarkMatch": {"destination": "203.0.113.7", "ports": [80]}},
            {}, POOLS, Rejection.VIP_OUTSIDE_POOLS, "spec.fwmarkMatch.destination", id="fwmark-destination",
        ),
    ],
)  # fmt: skip
def test_placement_of_the_vip(spec, nodes, pools, rejection, path):
    obj = virtual_server("web", **spec)
    obj["spec"] = {key: value for key, value in obj["spec"].items() if value is not None}

    verdict = judge(keyed(obj), {}, nodes, pools).virtual_servers["default/web"]

    assert verdict.rejection is rejection
    if path is not None:
        assert verdict.problems[0].path == path
