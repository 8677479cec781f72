"""The in-cluster agent in a director namespace, against the API server emulator (kubelvs.testbed.apiserver)
served over HTTP from a namespace of its own; then the API server goes away for a while (configurable:
KUBELVS_FAULT_OUTAGE seconds, default 15) and comes back.

"Goes away" is done on the wire, as a crashed API server looks to its clients: every open connection is
reset (``ss -K``) and every new one refused with a TCP reset (nftables), while the emulator keeps its objects
and the test keeps writing to it through loopback. During the outage the kernel keeps its rules and the VIP,
health checks keep running (a backend that dies is quiesced), and a change made meanwhile is not seen;
once the API server is back the agent resyncs: the change is programmed and status is written again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _fault_launcher import KUBECONFIG, launcher, spawn
from agentrun import API, DIRECTOR_LABEL, DIRECTORS, rs, service_lines, vs, write
from agentrun import agent as backend_agent
from netns import LvsTopology, Namespace, Netns

OUTAGE = float(os.environ.get("KUBELVS_FAULT_OUTAGE", "15"))
API_ADDRESS, DIRECTOR_SIDE, API_PORT = "172.31.255.1", "172.31.255.2", 6443
SERVICE = "TCP 192.0.2.100:80"
CHECK = {"type": "tcp", "interval": "1s", "connectTimeout": "1s", "retries": 1, "delayBeforeRetry": "500ms"}
OUTAGE_RULES = f"""
table inet kubelvs_test_outage {{
    chain input {{
        type filter hook input priority 0;
        iifname "eth0" tcp dport {API_PORT} counter reject with tcp reset
    }}
}}
"""


def objects(weight_1: int = 1) -> list[dict[str, Any]]:
    return [
        vs("web", address="192.0.2.100", port=80, scheduler="rr", directors=DIRECTORS, healthCheck=CHECK),
        rs("web-1", "web", "10.9.0.11", weight=weight_1),
        rs("web-2", "web", "10.9.0.12"),
    ]


def wait_for(condition: Callable[[], Any], what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        tail = "\n".join(log.read_text().splitlines()[-40:])
        assert time.monotonic() < deadline, f"timed out waiting for {what}; the agent's log ends:\n{tail}"
        time.sleep(0.25)


def weights(ns: Namespace) -> dict[str, int]:
    """Destination -> weight of SERVICE, from ipvsadm (``-> 10.9.0.11:80 Route 1``)."""
    return {line.split()[1]: int(line.split()[3]) for line in service_lines(ns, SERVICE)[1:]}


@pytest.fixture
def api(netns: Netns, lvs: LvsTopology) -> Iterator[tuple[Namespace, Any]]:
    """The emulator in namespace ``api``, at API_ADDRESS:API_PORT, one veth away from dir1 (its ``api0``)."""
    from kubelvs.testbed.apiserver import serve

    ns = netns.namespace("api")
    netns.veth(ns, "eth0", lvs.directors[0], "api0")
    ns.address("eth0", f"{API_ADDRESS}/30")
    lvs.directors[0].address("api0", f"{DIRECTOR_SIDE}/30")
    with contextlib.ExitStack() as stack:
        with ns.entered():  # the emulator's thread, and so its sockets, live in ``api``
            served = stack.enter_context(serve(host=API_ADDRESS, port=API_PORT))
        yield ns, served


def client_call(ns: Namespace, url: str, call: Callable[[Any], Any]) -> Any:
    """Talk to the emulator from inside its namespace (loopback traffic: the outage rule spares it)."""
    from kubelvs.testbed.apiclient import Client

    with ns.entered():
        return call(Client(url))


def test_api_outage_keeps_rules_and_health_checks_then_resyncs(
    lvs: LvsTopology, api: tuple[Namespace, Any], tmp_path: Path
) -> None:
    from kubelvs.testbed.apiserver import NodeSpec, seed, write_kubeconfig

    api_ns, served = api
    dir1, (rs1, rs2), client = lvs.directors[0], lvs.real_servers, lvs.client
    backends = {server.name: server.http_server(80) for server in (rs1, rs2)}
    manifests = write(tmp_path / "backends.yaml", objects())
    for server in (rs1, rs2):  # DR backends: the VIP on lo, ARP settings (standalone, from the same objects)
        backend_agent(server, manifests, tmp_path)

    label, _, value = DIRECTOR_LABEL.partition("=")
    client_call(api_ns, served.url, lambda c: seed(c, [NodeSpec("dir1", {label: value}, (lvs.address(dir1),))]))
    for obj in objects():
        plural = "virtualservers" if obj["kind"] == "VirtualServer" else "realservers"
        body = {**obj, "metadata": {**obj["metadata"], "namespace": "default"}}
        client_call(api_ns, served.url, lambda c, p=plural, b=body: c.create(p, b))
    write_kubeconfig(f"http://{API_ADDRESS}:{API_PORT}", KUBECONFIG)  # the zygote's KUBECONFIG

    log = tmp_path / "agent.log"
    argv = [
        "agent", "--node", dir1.name, "--namespace", "kube-lvs",
        "--no-sync-daemon", "--metrics-port", "0", "--resync-period", "5s",
        # one candidate, on an emulated CPU shared with other VMs: generous timings, so it never flaps
        "--lease-duration", "20s", "--renew-deadline", "15s", "--renew-period", "3s", "--retry-period", "1s",
        "--state-file", str(tmp_path / "dir1.json"), "--vip-pools", "192.0.2.0/24",
    ]  # fmt: skip
    launcher()
    agent = spawn(argv, dir1.name, log)
    try:
        programmed = {"10.9.0.11:80": 1, "10.9.0.12:80": 1}
        wait_for(lambda: weights(dir1) == programmed, "the agent's first program", log, 300)
        wait_for(lambda: "192.0.2.100/32" in dir1.ip("addr", "show", "eth0").stdout, "the VIP (Lease held)", log)
        assert set(client.http_get(lvs.vip, 80, count=4)) == {"rs1", "rs2"}

        # the API server goes away
        subprocess.run(["ip", "netns", "exec", api_ns.name, "nft", "-f", "-"], input=OUTAGE_RULES, text=True,
                       check=True, timeout=60)  # fmt: skip
        api_ns.exec("ss", "-K", "state", "established", f"( sport = :{API_PORT} )")
        started = time.monotonic()
        rules_before = service_lines(dir1, SERVICE)

        # a change made meanwhile: not seen while the API server is gone
        client_call(
            api_ns,
            served.url,
            lambda c: c.patch(API, "realservers", "default", "web-1", {"spec": {"weight": 3}}),
        )
        # a backend dies: the health checks (which need no API server) quiesce it
        backends["rs2"].stop()
        wait_for(lambda: weights(dir1).get("10.9.0.12:80") == 0, "rs2 to be quiesced during the outage", log, 60)
        assert weights(dir1) == {"10.9.0.11:80": 1, "10.9.0.12:80": 0}  # weight 3 not seen, nothing else moved
        assert service_lines(dir1, SERVICE)[0] == rules_before[0]
        assert "192.0.2.100/32" in dir1.ip("addr", "show", "eth0").stdout  # fail-static: the VIP stays
        assert set(client.http_get(lvs.vip, 80, count=4)) == {"rs1"}
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
        assert weights(dir1) == {"10.9.0.11:80": 1, "10.9.0.12:80": 0}
        refused = api_ns.exec("nft", "list", "table", "inet", "kubelvs_test_outage").stdout
        assert "counter packets 0 " not in refused, refused  # the agent did try, and was turned away
        assert agent.alive(), log.read_text()

        # the API server is back: the agent relists and programs the change made meanwhile
        api_ns.exec("nft", "delete", "table", "inet", "kubelvs_test_outage")
        resynced = {"10.9.0.11:80": 3, "10.9.0.12:80": 0}
        wait_for(lambda: weights(dir1) == resynced, "the resync after the outage", log, 90)

        def status(plural: str, name: str) -> dict[str, Any]:
            got = client_call(api_ns, served.url, lambda c: c.get(API, plural, "default", name))
            return dict(got.get("status") or {})

        wait_for(
            lambda: status("realservers", "web-2").get("effectiveWeight") == 0, "status written again", log, 60
        )
        assert status("realservers", "web-1").get("effectiveWeight") == 3
        assert status("virtualservers", "web").get("activeDirector") == "dir1"
        assert set(client.http_get(lvs.vip, 80, count=3)) == {"rs1"}
    finally:
        code = agent.stop(signal.SIGTERM, timeout=60)
    assert code == 0, log.read_text()
