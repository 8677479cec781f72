"""What a LoadBalancer Service asks for, read from its fields and annotations (kube-lvs' and MetalLB's), and
the VirtualServers made from it; a value that cannot be used names the annotation, the value and why."""

from __future__ import annotations

import ipaddress

import pytest
from lb_objects import service

from kubelvs.loadbalancer.generation import virtual_servers
from kubelvs.loadbalancer.requests import is_served, read


def test_class_and_type_decide_what_is_served() -> None:
    assert is_served(service("a"), default_class=False)
    assert not is_served(service("a", load_balancer_class="example.com/other"), default_class=True)
    assert not is_served(service("a", load_balancer_class=None), default_class=False)
    assert is_served(service("a", load_balancer_class=None), default_class=True)
    cluster_ip = service("a")
    cluster_ip["spec"]["type"] = "ClusterIP"
    assert not is_served(cluster_ip, default_class=True)


def test_annotations_and_fields_become_the_virtual_server_spec() -> None:
    request = read(
        service(
            "web",
            ("http", 80, "TCP"),
            ("dns", 53, "UDP"),
            annotations={
                "lvs.kubelvs.io/scheduler": "sh",
                "lvs.kubelvs.io/forwarding": "dr",
                "lvs.kubelvs.io/health-check": "https",
                "lvs.kubelvs.io/health-check-path": "/ready",
                "lvs.kubelvs.io/directors": "zone=a, role=lb",
            },
            sessionAffinity="ClientIP",
        )
    )
    assert request.problems == ()
    made, problems = virtual_servers(request, (ipaddress.ip_address("192.0.2.1"),))
    assert problems == []
    assert sorted(made) == ["web-dns", "web-http"]
    spec = made["web-dns"]["spec"]
    assert spec == {
        "forwarding": "dr",
        "scheduler": "sh",
        "healthCheck": {"type": "https", "http": {"path": "/ready"}},
        "directors": {"nodeSelector": {"zone": "a", "role": "lb"}},
        "persistence": {"timeout": 10800},
        "natReturnPath": "snat",
        "address": "192.0.2.1",
        "port": 53,
        "protocol": "UDP",
        "backends": {"service": "web", "port": "dns"},
    }


def test_an_unnamed_port_is_named_by_its_number_and_ipv6_gets_its_suffix() -> None:
    made, _ = virtual_servers(read(service("api", 8443)), (ipaddress.ip_address("2001:db8::5"),))
    assert list(made) == ["api-8443-v6"]
    assert made["api-8443-v6"]["spec"]["backends"] == {"service": "api", "port": 8443}


def test_metallb_aliases_are_read_and_ours_win() -> None:
    request = read(
        service(
            "web",
            annotations={
                "metallb.io/loadBalancerIPs": "192.0.2.7",
                "metallb.universe.tf/allow-shared-ip": "old-key",
                "metallb.io/address-pool": "theirs",
                "lvs.kubelvs.io/pool": "ours",
            },
        )
    )
    assert [a.compressed for a in request.requested] == ["192.0.2.7"]
    assert (request.sharing_key, request.pool) == ("old-key", "ours")


@pytest.mark.parametrize(
    ("annotations", "spec", "words"),
    [
        (
            {"lvs.kubelvs.io/scheduler": "fastest"},
            {},
            ("annotation lvs.kubelvs.io/scheduler", "'fastest'", "rr, wrr"),
        ),
        (
            {"lvs.kubelvs.io/forwarding": "magic"},
            {},
            ("annotation lvs.kubelvs.io/forwarding", "'magic'", "dr, nat, tun"),
        ),
        ({"lvs.kubelvs.io/health-check": "ping"}, {}, ("annotation lvs.kubelvs.io/health-check", "'ping'")),
        (
            {"lvs.kubelvs.io/health-check-path": "/x"},
            {},
            ("health-check-path", "needs lvs.kubelvs.io/health-check http"),
        ),
        (
            {"lvs.kubelvs.io/directors": "zone"},
            {},
            ("annotation lvs.kubelvs.io/directors", "'zone' is not a key=value"),
        ),
        ({"lvs.kubelvs.io/address": "192.0.2.300"}, {}, ("annotation lvs.kubelvs.io/address", "'192.0.2.300'")),
        ({"lvs.kubelvs.io/address": "192.0.2.1,192.0.2.2"}, {}, ("at most one address per IP family",)),
        ({"lvs.kubelvs.io/address": "2001:db8::1"}, {}, ("IPv6, which spec.ipFamilies does not ask for",)),
        ({"lvs.kubelvs.io/gateway": "gw"}, {}, ("annotation lvs.kubelvs.io/gateway", "'gw'")),
        ({"lvs.kubelvs.io/pool": "x" * 5000}, {}, ("annotation lvs.kubelvs.io/pool", "5000 characters")),
        (
            {},
            {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}},
            ("timeoutSeconds", "0"),
        ),
    ],
)
def test_a_bad_value_is_a_problem_naming_it(
    annotations: dict[str, str], spec: dict[str, object], words: tuple[str, ...]
) -> None:
    problems = [str(problem) for problem in read(service("web", annotations=annotations, **spec)).problems]
    assert any(all(word in problem for word in words) for problem in problems), problems


def test_a_setting_the_virtual_server_refuses_is_a_problem_and_makes_nothing() -> None:
    local = read(
        service("web", externalTrafficPolicy="Local", annotations={"lvs.kubelvs.io/gateway": "2001:db8::1"})
    )
    made, problems = virtual_servers(local, (ipaddress.ip_address("192.0.2.1"),))
    assert made == {}
    assert any("spec.directors.gateway" in str(problem) for problem in problems), problems
