"""Pods as real servers, on the real kernel: a VirtualServer's backends follow a Service's EndpointSlice while
every pod is replaced, one at a time, as a Deployment does (new pod ready -> old pod terminating -> old pod
gone), under steady traffic from a client. Nothing is lost, a terminating pod keeps its connection, rr spreads
new connections over the ready pods only, snat works with no route back to the client, and route mode shows the
pod the client's own address.

::

    client 192.0.2.10 ── front ── director (VIP 192.0.2.100, gateway 10.9.0.254) ── back ── node 10.9.0.2
                                                                                  cni0 10.244.0.1/24 ─┬─ pod-1 .11
                                                                                                       ├─ ...
The node routes the pods' traffic and has no route to the client: only the director's SNAT, or the policy route
the node's agent adds for its pods' replies (natReturnPath: route), brings an answer back.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentrun import DIRECTORS, agent, start, vs, write
from netns import Namespace, Netns

from kubelvs.testbed.namespaces import inside

VIP = "192.0.2.100"
PORT = 8080
GATEWAY = {"address": "10.9.0.254", "interface": "back"}

# A pod's server: one line in, "<pod> <peer address>" out, for as long as the connection lasts.
POD_SERVER = """
import socketserver, sys
name = sys.argv[1]
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write(f"{name} {self.client_address[0]}\\n".encode())
            self.wfile.flush()
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
with Server(("0.0.0.0", 8080), Handler) as server:
    print("ready", flush=True)
    server.serve_forever()
"""


def pod_address(index: int) -> str:
    return f"10.244.0.{10 + index}"


def manifests(pods: dict[int, str], return_path: str = "snat") -> list[dict[str, Any]]:
    """The VirtualServer, its Service and the EndpointSlice of ``pods`` (index -> ready | terminating)."""
    spec: dict[str, Any] = {
        "address": VIP,
        "port": 80,
        "scheduler": "rr",
        "forwarding": "nat",
        "natReturnPath": return_path,
        "directors": {**DIRECTORS, "interface": "front", "gateway": GATEWAY},
        "backends": {"service": "web", "port": "http"},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": PORT}]},
    }
    conditions = {
        "ready": {"ready": True, "serving": True, "terminating": False},
        "terminating": {"ready": False, "serving": True, "terminating": True},
    }
    endpoints = [
        {"addresses": [pod_address(i)], "conditions": conditions[state], "nodeName": "node"}
        for i, state in sorted(pods.items())
    ]
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-x7k2p", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": PORT, "protocol": "TCP"}],
        "endpoints": endpoints,
    }
    return [vs("web", **spec), service, endpoint_slice]


class Cluster:
    """The client, the director, one node and its pods."""

    def __init__(self, netns: Netns) -> None:
        self.netns = netns
        self.client, self.director, self.node = (netns.namespace(n) for n in ("client", "dir", "node"))
        netns.veth(self.client, "eth0", self.director, "front")
        netns.veth(self.director, "back", self.node, "uplink")
        self.client.ip_batch(["addr add 192.0.2.10/24 dev eth0"])
        self.director.ip_batch(
            [
                "addr add 192.0.2.1/24 dev front",
                "addr add 10.9.0.1/24 dev back",
                "route add 10.244.0.0/24 via 10.9.0.2",
            ]
        )
        self.node.ip_batch(
            [
                "addr add 10.9.0.2/24 dev uplink",
                "link add cni0 type bridge forward_delay 0 stp_state 0",
                "link set cni0 up",
                "addr add 10.244.0.1/24 dev cni0",
            ]
        )
        self.node.sysctl("net.ipv4.ip_forward", "1")
        self.pods: dict[int, Namespace] = {}

    def add_pod(self, index: int) -> None:
        pod = self.netns.namespace(f"pod-{index}")
        self.netns.veth(self.node, f"veth{index}", pod, "eth0")
        self.node.ip("link", "set", f"veth{index}", "master", "cni0")
        pod.ip_batch([f"addr add {pod_address(index)}/24 dev eth0", "route add default via 10.244.0.1"])
        self.pods[index] = pod
        pod.start(sys.executable, "-c", POD_SERVER, f"pod-{index}")

    def stop_pod(self, index: int) -> None:
        pod = self.pods.pop(index)
        for server in [s for s in self.netns.servers if f" in {pod.name}" in s.what]:
            server.stop()


def ask(sock: socket.socket) -> str:
    sock.sendall(b"hi\n")
    return sock.recv(200).decode().strip()


def new_connections(cluster: Cluster, count: int) -> list[str]:
    answers = []
    with inside(cluster.client.name):
        for _ in range(count):
            with socket.create_connection((VIP, 80), timeout=3) as sock:
                answers.append(ask(sock))
    return answers


class Traffic:
    """A request on a new connection every 20 ms from the client; failures are counted, never retried."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.answers: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._go = threading.Event()  # cleared: paused (between two requests)
        self._go.set()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No request of the traffic's own in flight or started during the block."""
        self._idle.clear()
        self._go.clear()
        self._idle.wait(10)
        try:
            yield
        finally:
            self._go.set()

    def _run(self) -> None:
        with inside(self.cluster.client.name):
            while not self._stop.is_set():
                if not self._go.is_set():
                    self._idle.set()
                    self._go.wait()
                try:
                    with socket.create_connection((VIP, 80), timeout=2) as sock:
                        sock.settimeout(2)
                        self.answers.append(ask(sock))
                except OSError as error:
                    self.failures.append(f"{time.monotonic():.2f} {error!r}")
                self._stop.wait(0.02)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def weights(cluster: Cluster) -> dict[str, int]:
    """Destination address -> weight of the VIP's service, as ipvsadm lists it."""
    lines = cluster.director.exec("ipvsadm", "-Ln", "-t", f"{VIP}:80", check=False).stdout.splitlines()  # none yet
    rows = [line.split() for line in lines if line.strip().startswith("->")]
    return {row[1].split(":")[0]: int(row[3]) for row in rows if row[3].isdigit()}  # not the header row


def until(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def cluster(netns: Netns) -> Cluster:
    return Cluster(netns)


def test_a_rolling_update_of_every_pod_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "manifests" / "web.yaml"
    for index in (1, 2):
        cluster.add_pod(index)
    write(path, manifests({1: "ready", 2: "ready"}))
    log = tmp_path / "director.log"
    running = start(cluster.director, path.parent, tmp_path, log, "--vip-pools", "192.0.2.0/24")
    try:
        # a python start-up can take minutes under emulation: the scenario's clock starts after it
        until(lambda: "pass over" in log.read_text(), "the agent's first pass", timeout=600)
        until(lambda: weights(cluster) == {pod_address(1): 1, pod_address(2): 1}, "both pods programmed")
        answers = new_connections(cluster, 4)
        assert {a.split()[0] for a in answers} == {"pod-1", "pod-2"}
        # snat: the pod sees a director's address, and the node has no route to the client at all
        assert {a.split()[1] for a in answers} <= {"10.9.0.1", "10.9.0.254"}, answers

        with Traffic(cluster) as traffic:
            live = {1: "ready", 2: "ready"}
            for old, new in ((1, 3), (2, 4)):
                cluster.add_pod(new)  # the new pod starts, then turns ready
                live[new] = "ready"
                write(path, manifests(live))
                until(lambda new=new: weights(cluster).get(pod_address(new)) == 1, f"pod-{new} ready")
                if old == 1:  # rr over the ready pods: pod-1, pod-2 and pod-3 take turns
                    with traffic.paused():
                        spread = [a.split()[0] for a in new_connections(cluster, 6)]
                    assert sorted(spread) == ["pod-1", "pod-1", "pod-2", "pod-2", "pod-3", "pod-3"], spread
                with inside(cluster.client.name):
                    held = socket.create_connection((VIP, 80), timeout=3)
                with held:
                    holder = int(ask(held).split()[0].removeprefix("pod-"))
                    live[old] = "terminating"  # the old pod is told to stop: weight 0, its connections go on
                    write(path, manifests(live))
                    until(lambda old=old: weights(cluster).get(pod_address(old)) == 0, f"pod-{old} draining")
                    fresh = {a.split()[0] for a in new_connections(cluster, 4)}
                    assert f"pod-{old}" not in fresh, fresh
                    assert ask(held).split()[0] == f"pod-{holder}"  # established, terminating or not
                time.sleep(0.5)  # requests in flight to the old pod end; then the pod is gone
                cluster.stop_pod(old)
                del live[old]
                write(path, manifests(live))
                until(lambda old=old: pod_address(old) not in weights(cluster), f"pod-{old} removed")
            time.sleep(1)
        assert traffic.failures == [], traffic.failures
        assert len(traffic.answers) > 50, len(traffic.answers)
        assert {a.split()[0] for a in traffic.answers[-10:]} <= {"pod-3", "pod-4"}

        # route: the node's agent routes its pods' replies through the gateway; the pod sees the client
        write(path, manifests(live, return_path="route"))
        agent(cluster.node, path, tmp_path)
        until(lambda: "10.9.0.254" in cluster.director.ip("addr", "show", "back").stdout, "gateway bound")
        until(lambda: not cluster.director.exec("nft", "list", "ruleset").stdout.count("masquerade"), "snat gone")
        seen = {a.split()[1] for a in new_connections(cluster, 4)}
        assert seen == {"192.0.2.10"}, seen
    except AssertionError as error:
        raise AssertionError(f"{error}; director.log ends:\n{log.read_text()[-4000:]}") from error
    finally:
        running.terminate()
        running.wait(timeout=60)
