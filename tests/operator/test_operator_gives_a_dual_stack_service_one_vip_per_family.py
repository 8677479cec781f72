"""Dual-stack LoadBalancer Services against the emulator (issue 17): ``RequireDualStack`` gets one address of each
family, in ``spec.ipFamilies`` order, both written to ``status.loadBalancer.ingress``, a VirtualServer per family
and port, and both counted in the pool's status; from a pool with one family it gets none (never half);
``PreferDualStack`` takes what the pool has."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from conftest import condition, settled
from emulator import wait_for
from lb_emulated import allocated, ingress, lb_service, pool_status, served, vip_pool, virtual_servers

from kubelvs.controller.config import OperatorConfig

pytestmark = pytest.mark.usefixtures("operator", "pools")
V4_ONLY = {"lvs.kubelvs.io/pool": "v4-only"}


@pytest.fixture(scope="module")
def operator_config() -> OperatorConfig:
    bound = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/64"))
    return OperatorConfig(vip_pools=bound, default_load_balancer=True)


@pytest.fixture(scope="module")
def pools(api: Any, operator: Any) -> None:
    api.create("vippools", vip_pool("dual", "192.0.2.10-192.0.2.11", "2001:db8::10-2001:db8::11"))
    api.create("vippools", vip_pool("v4-only", "192.0.2.20/31", autoAssign=False))
    for name in ("dual", "v4-only"):
        wait_for(lambda n=name: condition({"status": pool_status(api, n)}, "Accepted"))


def test_require_dual_stack_gets_an_address_of_each_family_in_status_and_a_virtual_server_each(api: Any) -> None:
    spec = {"ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "RequireDualStack"}
    api.create("services", lb_service("both", ("http", 80), **spec))
    body = served(api, "both")
    assert body["status"]["loadBalancer"]["ingress"] == [
        {"ip": "2001:db8::10", "ipMode": "Proxy"},  # spec.ipFamilies' order: IPv6 first here
        {"ip": "192.0.2.10", "ipMode": "Proxy"},
    ]
    message = allocated(api, "both")["message"]
    assert "2001:db8::10" in message and "192.0.2.10" in message, message
    made = wait_for(lambda: (found := virtual_servers(api, "both")) and len(found) == 2 and found)
    assert sorted(vs["spec"]["address"] for vs in made.values()) == ["192.0.2.10", "2001:db8::10"]
    assert {vs["spec"]["port"] for vs in made.values()} == {80}
    for name in made:
        settled(api, "virtualservers", name, "Accepted", "True")  # each family's object passes judgement
    assert wait_for(lambda: pool_status(api, "dual").get("allocatedIPv6") == 1)
    status = pool_status(api, "dual")
    assert (status["allocatedIPv4"], status["availableIPv4"], status["availableIPv6"]) == (1, 1, 1)


def test_require_dual_stack_from_a_pool_of_one_family_takes_nothing(api: Any) -> None:
    spec = {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"}
    api.create("services", lb_service("half", annotations=V4_ONLY, **spec))
    served(api, "half", "NoPool")
    assert "has no IPv6 addresses" in allocated(api, "half")["message"], allocated(api, "half")
    assert ingress(api, "half") == []
    assert virtual_servers(api, "half") == {}
    assert pool_status(api, "v4-only").get("allocatedIPv4", 0) == 0


def test_prefer_dual_stack_takes_the_family_the_pool_has(api: Any) -> None:
    spec = {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack"}
    api.create("services", lb_service("prefer", annotations=V4_ONLY, **spec))
    served(api, "prefer")
    assert ingress(api, "prefer") == ["192.0.2.20"]
    made = wait_for(lambda: virtual_servers(api, "prefer"))
    assert [vs["spec"]["address"] for vs in made.values()] == ["192.0.2.20"]
