"""LoadBalancer Services against the emulator: an address from a VIPPool (selectors, requests, MetalLB's
aliases, sharing keys, dual-stack, exhaustion and recovery), a VirtualServer per port with the annotations'
LVS settings, the status and Events, bad annotations reported without a change, and everything made taken
back when a port goes, the type or class changes or the Service is deleted. The operator serves classless
Services too here (``--default-load-balancer``)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from conftest import API_VERSION, condition, events, settled
from emulator import wait_for
from lb_emulated import allocated, ingress, lb_service, pool_status, served, service, vip_pool, virtual_servers

from kubelvs.controller.config import OperatorConfig

pytestmark = pytest.mark.usefixtures("operator", "pools")


@pytest.fixture(scope="module")
def operator_config() -> OperatorConfig:
    bound = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/64"))
    return OperatorConfig(vip_pools=bound, default_load_balancer=True)


@pytest.fixture(scope="module")
def pools(api: Any, operator: Any) -> None:
    api.create("vippools", vip_pool("public", "192.0.2.200-192.0.2.215", "2001:db8::/126"))
    api.create("vippools", vip_pool("tiny", "192.0.2.250", serviceSelector={"matchLabels": {"tier": "tiny"}}))
    api.create("vippools", vip_pool("manual", "192.0.2.240/30", autoAssign=False))
    wait_for(lambda: condition({"status": pool_status(api, "manual")}, "Accepted"))


def test_a_service_gets_an_address_a_virtual_server_per_port_and_a_status(api: Any) -> None:
    annotations = {
        "lvs.kubelvs.io/scheduler": "mh",
        "lvs.kubelvs.io/health-check": "http",
        "lvs.kubelvs.io/health-check-path": "/healthz",
    }
    affinity = {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}
    api.create("services", lb_service("web", ("http", 80), ("https", 443), annotations=annotations, **affinity))
    body = served(api, "web")
    assert body["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.200", "ipMode": "Proxy"}]
    assert "192.0.2.200 from VIPPool public" in allocated(api, "web")["message"]
    made = wait_for(lambda: (found := virtual_servers(api, "web")) and len(found) == 2 and found)
    http = made["web-http"]
    assert http["spec"] == {
        "address": "192.0.2.200",
        "port": 80,
        "protocol": "TCP",
        "backends": {"service": "web", "port": "http"},
        "forwarding": "nat",
        "natReturnPath": "snat",
        "scheduler": "mh",
        "healthCheck": {"type": "http", "http": {"path": "/healthz"}},
        "persistence": {"timeout": 60},
    }
    owner = http["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Service",
        "web",
        body["metadata"]["uid"],
        True,
    )
    assert made["web-https"]["spec"]["port"] == 443
    settled(api, "virtualservers", "web-http", "Accepted", "True")  # the generated object passes judgement
    assert wait_for(lambda: pool_status(api, "public").get("allocatedIPv4") == 1)
    assert pool_status(api, "public")["availableIPv4"] == 15
    assert wait_for(lambda: events(api, "Service", "web", "Allocated"))


def test_local_traffic_policy_keeps_the_client_address_through_the_gateway(api: Any) -> None:
    gateway = {"lvs.kubelvs.io/gateway": "10.0.0.254"}
    api.create("services", lb_service("local", externalTrafficPolicy="Local", annotations=gateway))
    served(api, "local")
    spec = wait_for(lambda: virtual_servers(api, "local").get("local-http"))["spec"]
    assert spec["natReturnPath"] == "route"
    assert spec["directors"] == {"gateway": {"address": "10.0.0.254"}}
    api.create("services", lb_service("local-bare", externalTrafficPolicy="Local"))
    message = allocated(served(api, "local-bare", "InvalidSettings") and api, "local-bare")["message"]
    assert "spec.directors.gateway" in message and "natReturnPath is route" in message
    assert virtual_servers(api, "local-bare") == {}


def test_dual_stack_gets_one_address_and_virtual_server_per_family(api: Any) -> None:
    spec = {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"}
    api.create("services", lb_service("dual", **spec))
    served(api, "dual")
    assert ingress(api, "dual")[1] == "2001:db8::"
    made = wait_for(lambda: (found := virtual_servers(api, "dual")) and len(found) == 2 and found)
    assert made["dual-http-v6"]["spec"]["address"] == "2001:db8::"


def test_requested_addresses_metallb_aliases_and_pools(api: Any) -> None:
    api.create("services", lb_service("asks", annotations={"lvs.kubelvs.io/address": "192.0.2.241"}))
    api.create("services", lb_service("metallb", annotations={"metallb.io/loadBalancerIPs": "192.0.2.242"}))
    api.create("services", lb_service("legacy", loadBalancerIP="192.0.2.243"))
    api.create("services", lb_service("outside", annotations={"lvs.kubelvs.io/address": "192.0.2.9"}))
    api.create("services", lb_service("taken", annotations={"lvs.kubelvs.io/address": "192.0.2.241"}))
    for name, address in (("asks", "192.0.2.241"), ("metallb", "192.0.2.242"), ("legacy", "192.0.2.243")):
        served(api, name)
        assert ingress(api, name) == [address]
    served(api, "outside", "AddressOutsidePools")
    served(api, "taken", "AddressInUse")
    assert "default/asks" in allocated(api, "taken")["message"]
    assert wait_for(lambda: events(api, "Service", "taken", "AddressInUse"))
    assert virtual_servers(api, "taken") == {}


def test_a_sharing_key_shares_an_address_between_disjoint_ports(api: Any) -> None:
    key = {"metallb.io/allow-shared-ip": "dns", "lvs.kubelvs.io/pool": "manual"}
    api.create("services", lb_service("dns-udp", ("dns", 53, "UDP"), annotations=key))
    served(api, "dns-udp")
    api.create("services", lb_service("dns-tcp", ("dns", 53, "TCP"), annotations=key))
    served(api, "dns-tcp")
    assert ingress(api, "dns-tcp") == ingress(api, "dns-udp")
    shared = ingress(api, "dns-udp")[0]
    clash = {**key, "lvs.kubelvs.io/address": shared}
    api.create("services", lb_service("dns-again", ("dns", 53, "UDP"), annotations=clash))
    served(api, "dns-again", "AddressInUse")


def test_exhaustion_is_reported_and_served_once_an_address_frees(api: Any) -> None:
    tiny = {"labels": {"tier": "tiny"}, "annotations": {"lvs.kubelvs.io/pool": "tiny"}}
    api.create("services", lb_service("first", **tiny))
    served(api, "first")
    api.create("services", lb_service("second", **tiny))
    served(api, "second", "PoolExhausted")
    api.delete("v1", "services", "default", "first")
    served(api, "second")
    assert ingress(api, "second") == ["192.0.2.250"]
    assert wait_for(lambda: virtual_servers(api, "first") == {})


def test_a_bad_annotation_is_reported_and_changes_nothing(api: Any) -> None:
    api.create("services", lb_service("steady"))
    served(api, "steady")
    before = wait_for(lambda: virtual_servers(api, "steady").get("steady-http"))
    bad = {"metadata": {"annotations": {"lvs.kubelvs.io/scheduler": "fastest"}}}
    api.patch("v1", "services", "default", "steady", bad)
    served(api, "steady", "InvalidSettings")
    message = allocated(api, "steady")["message"]
    assert "annotation lvs.kubelvs.io/scheduler" in message and "'fastest'" in message and "rr" in message
    assert ingress(api, "steady") == [before["spec"]["address"]]
    assert virtual_servers(api, "steady")["steady-http"]["spec"] == before["spec"]
    assert wait_for(lambda: events(api, "Service", "steady", "InvalidSettings"))
    api.patch(
        "v1", "services", "default", "steady", {"metadata": {"annotations": {"lvs.kubelvs.io/scheduler": "rr"}}}
    )
    served(api, "steady")
    assert wait_for(lambda: virtual_servers(api, "steady")["steady-http"]["spec"].get("scheduler") == "rr")


def test_other_classes_are_never_touched(api: Any) -> None:
    api.create("services", lb_service("theirs", load_balancer_class="example.com/other"))
    api.create("services", lb_service("classless", load_balancer_class=None))
    served(api, "classless")
    assert allocated(api, "theirs") is None and ingress(api, "theirs") == []
    assert virtual_servers(api, "theirs") == {}


def test_what_was_made_goes_with_a_port_the_type_and_the_service(api: Any) -> None:
    api.create("services", lb_service("going", ("http", 80), ("https", 443)))
    served(api, "going")
    wait_for(lambda: len(virtual_servers(api, "going")) == 2)
    api.patch("v1", "services", "default", "going", {"spec": {"ports": [{"name": "http", "port": 80}]}})
    assert wait_for(lambda: list(virtual_servers(api, "going")) == ["going-http"])
    api.patch("v1", "services", "default", "going", {"spec": {"type": "ClusterIP", "loadBalancerClass": None}})
    assert wait_for(lambda: virtual_servers(api, "going") == {})
    assert wait_for(lambda: allocated(api, "going") is None and ingress(api, "going") == [])
    api.create("services", lb_service("deleted"))
    served(api, "deleted")
    wait_for(lambda: virtual_servers(api, "deleted"))
    api.delete("v1", "services", "default", "deleted")
    assert wait_for(lambda: virtual_servers(api, "deleted") == {})


def test_a_virtual_server_someone_deletes_is_made_again(api: Any) -> None:
    api.create("services", lb_service("healed"))
    served(api, "healed")
    wait_for(lambda: virtual_servers(api, "healed"))
    api.delete(API_VERSION, "virtualservers", "default", "healed-http")
    assert wait_for(
        lambda: (
            (vs := virtual_servers(api, "healed").get("healed-http"))
            and not vs["metadata"].get("deletionTimestamp")
        )
    )


def test_bad_pools_are_refused_with_why(api: Any) -> None:
    api.create("vippools", vip_pool("overlap", "192.0.2.202/31"))
    api.create("vippools", vip_pool("stray", "198.51.100.0/30"))
    api.create("vippools", vip_pool("broken", "192.0.2.1/24"))
    for name, reason, words in (
        ("overlap", "Overlaps", "older VIPPool public"),
        ("stray", "OutsideVipPools", "--vip-pools"),
        ("broken", "Invalid", "host bits"),
    ):
        accepted = wait_for(lambda n=name: condition({"status": pool_status(api, n)}, "Accepted"))
        assert (accepted["status"], accepted["reason"]) == ("False", reason)
        assert words in accepted["message"]


def test_a_service_status_write_keeps_other_controllers_conditions(api: Any) -> None:
    api.create("services", lb_service("shared-status"))
    served(api, "shared-status")
    theirs = {
        "type": "example.com/Checked",
        "status": "True",
        "reason": "Fine",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    conditions = [*service(api, "shared-status")["status"]["conditions"], theirs]
    api.patch(
        "v1", "services", "default", "shared-status", {"status": {"conditions": conditions}}, subresource="status"
    )
    api.patch(
        "v1",
        "services",
        "default",
        "shared-status",
        {"metadata": {"annotations": {"lvs.kubelvs.io/scheduler": "x"}}},
    )
    served(api, "shared-status", "InvalidSettings")
    assert condition(service(api, "shared-status"), "example.com/Checked") == theirs
