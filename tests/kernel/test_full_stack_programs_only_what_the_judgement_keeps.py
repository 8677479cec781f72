"""The whole system in the VM obeys one judgement: of two claimants of one VIP:port in different namespaces the
older one's real servers are in the kernel on both directors (and only its backend holds the VIP on lo),
whatever the namespaces are called; the operator rejects the newer one, which no director programs; a
VirtualServer whose VIP is a director's own address is rejected, never programmed, never bound; deleting the
older claimant hands the VIP to the newer one on both directors.

The operator and the agents run with the chart's command lines (:mod:`kubelvs.testbed.stack`); the kernel
is Debian's with real IPVS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelvs.testbed import stack as st

pytestmark = pytest.mark.fullstack

SHARED_VIP = "192.0.2.120"
DIRECTOR_ADDRESS = st.NODE_ADDRESSES["dir-b"]  # inside the VIP pools, and a node's own address
RS1, RS2 = st.NODE_ADDRESSES["rs1"], st.NODE_ADDRESSES["rs2"]


def virtual_server(namespace: str, name: str, vip: str) -> dict[str, Any]:
    spec = {"address": vip, "port": 80, "forwarding": "dr", "directors": {"nodeSelector": st.DIRECTOR_LABELS}}
    return {
        "apiVersion": st.API_VERSION,
        "kind": "VirtualServer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def real_server(namespace: str, name: str, parent: str, address: str) -> dict[str, Any]:
    return {
        "apiVersion": st.API_VERSION,
        "kind": "RealServer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"virtualServer": parent, "address": address, "port": 80},
    }


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[st.Stack]:
    xml = getattr(request.config.option, "xmlpath", None)  # the testbed's rwdir: logs outlive the VM there
    workdir = Path(xml).parent / "full-stack-judgement" if xml else tmp_path_factory.mktemp("judgement")
    running = st.Stack(workdir)
    try:
        running.start(progress=lambda line: print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True))
        yield running
    finally:
        for child in running.children.values():
            if child.name.startswith(("agent-dir", "operator")):
                print(f"--- {child.name} (exit {child.exit_code()}) ---\n{child.tail(15)}")
        running.close()


def accepted(stack: st.Stack, plural: str, namespace: str, name: str) -> tuple[str, str] | None:
    """(status, reason) of the operator's Accepted condition, None before it has judged."""
    status = stack.api.get(st.API_VERSION, plural, namespace, name).get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Accepted":
            return condition.get("status"), condition.get("reason")
    return None


def real_servers_of(netns: str, vip: str) -> set[str]:
    """The real servers of ``vip``:80 in ``ipvsadm -Ln`` of one node; an empty set when there is no service."""
    found: set[str] = set()
    inside = False
    for line in st.ipvsadm(netns, "-Ln").splitlines():
        parts = line.split()
        if parts[:1] == ["TCP"]:
            inside = parts[1] == f"{vip}:80"
        elif inside and parts[:1] == ["->"] and parts[1][0].isdigit():
            found.add(parts[1].rsplit(":", 1)[0])
    return found


def services_of(netns: str) -> set[str]:
    return {line.split()[1] for line in st.ipvsadm(netns, "-Ln").splitlines() if line.startswith("TCP")}


def addresses_of(netns: str) -> set[str]:
    out = st.run(["ip", "-n", netns, "-o", "addr", "show"]).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines()}


def test_the_older_claimant_and_no_node_address_are_programmed_on_every_director(stack: st.Stack) -> None:
    stack.api.create("virtualservers", virtual_server("zz", "web", SHARED_VIP))
    stack.api.create("realservers", real_server("zz", "web-1", "web", RS1))
    time.sleep(1.1)  # creationTimestamp counts seconds: zz/web is the older, though aa sorts first
    stack.api.create("virtualservers", virtual_server("aa", "web", SHARED_VIP))
    stack.api.create("realservers", real_server("aa", "web-1", "web", RS2))
    stack.api.create("virtualservers", virtual_server("default", "on-node", DIRECTOR_ADDRESS))
    stack.api.create("realservers", real_server("default", "on-node-1", "on-node", RS1))

    st.wait_until(lambda: accepted(stack, "virtualservers", "zz", "web") == ("True", "Accepted"), timeout=300)
    assert st.wait_until(lambda: accepted(stack, "virtualservers", "aa", "web") is not None, timeout=60) >= 0
    assert accepted(stack, "virtualservers", "aa", "web") == ("False", "ServiceConflict")
    st.wait_until(lambda: accepted(stack, "virtualservers", "default", "on-node") is not None, timeout=60)
    assert accepted(stack, "virtualservers", "default", "on-node") == ("False", "VIPIsNodeAddress")

    for director in st.DIRECTORS:
        st.wait_until(lambda d=director: real_servers_of(d, SHARED_VIP) == {RS1}, timeout=120)
    st.wait_until(lambda: len(st.vip_holders(SHARED_VIP)) == 1, timeout=120)
    st.wait_until(lambda: SHARED_VIP in addresses_of("rs1"), timeout=120)  # the older one's DR backend
    time.sleep(3)  # a few passes more: nothing the judgement keeps out may appear meanwhile
    for director in st.DIRECTORS:
        assert real_servers_of(director, SHARED_VIP) == {RS1}, director
        assert f"{DIRECTOR_ADDRESS}:80" not in services_of(director), director
    assert SHARED_VIP not in addresses_of("rs2")  # the newer claimant's backend does not take the VIP
    assert DIRECTOR_ADDRESS not in addresses_of("dir-a")  # never bound where it is not the node's own

    # the older claimant goes: the operator accepts the newer, and both directors program its real server
    stack.api.delete(st.API_VERSION, "virtualservers", "zz", "web")
    st.wait_until(lambda: accepted(stack, "virtualservers", "aa", "web") == ("True", "Accepted"), timeout=120)
    for director in st.DIRECTORS:
        st.wait_until(lambda d=director: real_servers_of(d, SHARED_VIP) == {RS2}, timeout=120)
    st.wait_until(lambda: SHARED_VIP in addresses_of("rs2"), timeout=120)
