"""Allocation is derived from what the API holds, never from memory: an operator that stops and starts again
(a restart, or another replica taking over) gives every Service the address it had, even when a newer
Service asked for one of them while no operator ran. Without --default-load-balancer a Service that names
no class is not served."""

from __future__ import annotations

import ipaddress
from typing import Any

from conftest import running_operator
from lb_emulated import allocated, ingress, lb_service, served, vip_pool, virtual_servers

from kubelvs.controller.config import OperatorConfig

CONFIG = OperatorConfig(vip_pools=(ipaddress.ip_network("192.0.2.0/24"),))


def test_a_restarted_operator_keeps_every_address(api: Any) -> None:
    api.create("vippools", vip_pool("restart", "192.0.2.180-192.0.2.181"))
    with running_operator(CONFIG):
        api.create("services", lb_service("a"))
        served(api, "a")
        api.create("services", lb_service("b"))
        served(api, "b")
    held = {name: ingress(api, name) for name in "ab"}
    specs = {name: virtual_servers(api, name)[f"{name}-http"]["spec"] for name in "ab"}
    assert sorted(held.values()) == [["192.0.2.180"], ["192.0.2.181"]]
    api.create("services", lb_service("c", annotations={"lvs.kubelvs.io/address": held["a"][0]}))
    api.create("services", lb_service("d"))
    api.create("services", lb_service("classless", load_balancer_class=None))
    with running_operator(CONFIG):
        served(api, "c", "AddressInUse")
        served(api, "d", "PoolExhausted")
        for name in "ab":
            assert ingress(api, name) == held[name]
            assert virtual_servers(api, name)[f"{name}-http"]["spec"] == specs[name]
        assert allocated(api, "classless") is None
        api.delete("v1", "services", "default", "a")
        served(api, "c")  # a's address is free: the one who asked for it gets it
        assert ingress(api, "c") == held["a"]
        assert allocated(api, "d")["reason"] == "PoolExhausted"
