"""IPv6 through two in-cluster director agents that share a Lease (issue 17): the holder binds the IPv6 VIP
(without DAD: usable at once) and DR traffic flows; when it crashes (SIGKILL, links down) the other director
takes the Lease, binds the VIP and sends unsolicited neighbour advertisements, and the client's neighbour
entry for the VIP (``ip -6 neigh``) moves from the old holder's MAC to the new one's, long before the client
would have looked again by itself; the gap without answers is printed. Then an IPv6 TCP health check quiesces
a real server whose server died (weight 0 in ``ipvsadm -Ln``) and restores it when it is back.

The emulator (kubelvs.testbed.apiserver) runs in the router's namespace, which both directors reach on the
clients' segment; the agents are forked by the fault tests' zygote (one import of the agent for the module).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _fault_launcher import KUBECONFIG, launcher, spawn
from agentrun import DIRECTOR_LABEL, DIRECTORS, rs, service_lines, vs, write
from agentrun import agent as backend_agent
from netns import LvsTopology, Namespace, Netns, Server, build_lvs

from kubelvs.agent.announcer import GARP_COUNT
from kubelvs.testbed.namespaces import inside
from kubelvs.testbed.stack import Child

API_PORT = 6443
VIP = "2001:db8:1::100"
SERVICE = f"TCP [{VIP}]:80"
CHECK = {"type": "tcp", "interval": "1s", "connectTimeout": "1s", "retries": 2, "delayBeforeRetry": "500ms"}
# the stack's timings for a loaded TCG: a crashed holder's Lease expires after 4 s
ELECTION = ["--lease-duration", "4s", "--renew-deadline", "3s", "--renew-period", "1s", "--retry-period", "250ms"]
# How long the client keeps a confirmed neighbour entry without asking again: ten minutes (the kernel picks
# 0.5-1.5 times it), so an entry that moves within seconds was moved by the advertisement, not by the client.
CLIENT_REACHABLE_MS = 600_000
TAKEOVER_BOUND_S = 30.0  # lease 4 s + a pass of the standby under a loaded TCG; the measured value is printed
MOVE_BOUND_S = 5.0  # from the VIP bound on the new holder to the client's entry naming its MAC
QUIESCE_BOUND_S = 1 * (2 + 1) + 10.0  # interval x (retries + 1) + slack for TCG


def objects() -> list[dict[str, Any]]:
    return [
        vs("web6", address=VIP, port=80, scheduler="rr", forwarding="dr", directors=DIRECTORS, healthCheck=CHECK),
        rs("web6-1", "web6", "2001:db8:9::11", port=80),
        rs("web6-2", "web6", "2001:db8:9::12", port=80),
    ]


@dataclass
class Bed:
    lvs: LvsTopology
    agents: dict[str, Child]
    servers: dict[str, Server]
    logs: Path
    timings: dict[str, float] = field(default_factory=dict)


def mac(ns: Namespace, device: str = "eth0") -> str:
    return ns.ip("-br", "link", "show", device).stdout.split()[2]


def neighbour(ns: Namespace, address: str) -> str:
    """The lladdr ``ns`` caches for ``address`` ("" if none)."""
    words = ns.ip("-6", "neigh", "show", address).stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def vip_line(ns: Namespace) -> str:
    """The VIP's line of ``ip -6 addr show dev eth0`` ("" when it is not bound there)."""
    lines = ns.ip("-6", "-o", "addr", "show", "dev", "eth0").stdout.splitlines()
    return next((line for line in lines if f" {VIP}/" in line), "")


def holders(bed: Bed) -> list[str]:
    return [d.name for d in bed.lvs.directors if vip_line(d)]


def weights(ns: Namespace) -> dict[str, int]:
    """Destination -> weight of SERVICE, from ipvsadm (``-> [2001:db8:9::11]:80 Route 1``)."""
    return {line.split()[1]: int(line.split()[3]) for line in service_lines(ns, SERVICE)[1:]}


def wait_for(condition: Callable[[], Any], what: str, bed: Bed, timeout: float) -> float:
    """Seconds until ``condition()`` held; fails with the agents' logs after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            tails = "\n".join(f"--- {name} ---\n{agent.tail(30)}" for name, agent in bed.agents.items())
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}\n{tails}")
        time.sleep(0.1)
    return time.monotonic() - started


class ClientLoop(threading.Thread):
    """HTTP GETs to the VIP from the client's namespace every 50 ms, each on a new connection (0.5 s timeout)."""

    def __init__(self, client: str) -> None:
        super().__init__(name="ipv6-client-loop", daemon=True)
        self.client, self.done = client, threading.Event()
        self.answers: list[tuple[float, str]] = []  # (monotonic time the request started, answer or "")

    def run(self) -> None:
        with inside(self.client):
            while not self.done.is_set():
                started = time.monotonic()
                self.answers.append((started, self.ask()))
                time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))

    @staticmethod
    def ask() -> str:
        try:
            with socket.create_connection((VIP, 80), timeout=0.5) as sock:
                sock.sendall(f"GET / HTTP/1.0\r\nHost: [{VIP}]\r\n\r\n".encode())
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
            return data.partition(b"\r\n\r\n")[2].decode().strip()
        except OSError:
            return ""

    def stop(self) -> None:
        self.done.set()
        self.join(10)

    def gap(self, after: float) -> float:
        """The longest time between two answered requests around and after ``after``."""
        answered = [at for at, answer in self.answers if answer]
        before = [at for at in answered if at <= after]
        times = before[-1:] + [at for at in answered if at > after]
        return max((later - earlier for earlier, later in itertools.pairwise(times)), default=0.0)


@dataclass(frozen=True)
class Advertisement:
    """One neighbour advertisement as the client received it."""

    source: str
    destination: str
    hop_limit: int
    router: bool
    solicited: bool
    override: bool
    target: str
    target_mac: str  # the Target Link-Layer Address option, "" without one


class AdvertisementListener(threading.Thread):
    """Every neighbour advertisement (ICMPv6 type 136) that reaches the client's namespace, read off a raw
    socket with the destination address and hop limit the kernel saw."""

    def __init__(self, client: str) -> None:
        super().__init__(name="na-listener", daemon=True)
        self.received: list[Advertisement] = []
        self.ready, self.done = threading.Event(), threading.Event()
        with inside(client):  # the socket belongs to the client's namespace for good
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)

    def run(self) -> None:
        self.ready.set()
        while not self.done.is_set():
            if not select.select([self.sock], [], [], 0.2)[0]:
                continue
            data, ancillary, _, (source, *_) = self.sock.recvmsg(1500, socket.CMSG_SPACE(64))
            if data[:1] == bytes([136]) and len(data) >= 24:
                self.received.append(self.parse(data, ancillary, source))

    @staticmethod
    def parse(data: bytes, ancillary: list[tuple[int, int, bytes]], source: str) -> Advertisement:
        destination, hop_limit = "", -1
        for level, kind, value in ancillary:
            if (level, kind) == (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO):
                destination = str(ipaddress.IPv6Address(value[:16]))
            elif (level, kind) == (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT):
                (hop_limit,) = struct.unpack("@i", value[:4])
        (flags,) = struct.unpack("!I", data[4:8])
        target_mac, options = "", data[24:]
        while len(options) >= 8 and options[1]:
            if options[0] == 2:  # Target Link-Layer Address
                target_mac = options[2:8].hex(":")
            options = options[options[1] * 8 :]
        return Advertisement(
            source=source.split("%")[0],
            destination=destination,
            hop_limit=hop_limit,
            router=bool(flags & 0x80000000),
            solicited=bool(flags & 0x40000000),
            override=bool(flags & 0x20000000),
            target=str(ipaddress.IPv6Address(data[8:24])),
            target_mac=target_mac,
        )

    def stop(self) -> None:
        self.done.set()
        self.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    from kubelvs.testbed.apiclient import Client
    from kubelvs.testbed.apiserver import NodeSpec, seed, serve, write_kubeconfig

    owner = Netns()
    logs = tmp_path_factory.mktemp("ipv6-failover")
    agents: dict[str, Child] = {}

    def stop_agents() -> None:  # while the emulator still answers: a stopping agent releases its Lease
        for name, agent in agents.items():
            code = agent.stop(signal.SIGTERM, timeout=30)
            print(f"--- {name} (exit {code}) ---\n{agent.tail(15)}")

    try:
        lvs = build_lvs(owner, directors=2, real_servers=2, ipv6=True)
        lvs.client.sysctl("net.ipv6.neigh.eth0.base_reachable_time_ms", str(CLIENT_REACHABLE_MS))
        started = owner.http_servers(lvs.real_servers)
        servers = {ns.name: server for ns, server in zip(lvs.real_servers, started, strict=True)}
        manifests = write(logs / "objects.yaml", objects())
        for server in lvs.real_servers:  # DR backends: the VIP on lo (standalone, from the same objects)
            backend_agent(server, manifests, logs)
        api_host = lvs.address(lvs.router, "front")
        with contextlib.ExitStack() as stack:
            with lvs.router.entered():  # the emulator's thread, and so its sockets, live in the router's namespace
                served = stack.enter_context(serve(host=api_host, port=API_PORT))
            stack.callback(stop_agents)
            label, _, value = DIRECTOR_LABEL.partition("=")
            with lvs.router.entered():
                api = Client(served.url)
                nodes = [NodeSpec(d.name, {label: value}, (lvs.address(d, "front"),)) for d in lvs.directors]
                seed(api, nodes)
                for obj in objects():
                    plural = "virtualservers" if obj["kind"] == "VirtualServer" else "realservers"
                    api.create(plural, {**obj, "metadata": {**obj["metadata"], "namespace": "default"}})
            write_kubeconfig(f"http://{api_host}:{API_PORT}", KUBECONFIG)  # the zygote's KUBECONFIG
            launcher()
            for director in lvs.directors:
                argv = [
                    "agent", "--node", director.name, "--namespace", "kube-lvs", "--no-sync-daemon",
                    "--metrics-port", "0", "--resync-period", "10s", *ELECTION,
                    "--state-file", str(logs / f"{director.name}.json"), "--vip-pools", "2001:db8:1::/64",
                ]  # fmt: skip
                agents[director.name] = spawn(argv, director.name, logs / f"{director.name}.log")
            yield Bed(lvs, agents, servers, logs)
    finally:
        owner.cleanup()


def test_a_crashed_holder_hands_the_ipv6_vip_over_and_the_clients_neighbour_entry_follows(bed: Bed) -> None:
    lvs, client = bed.lvs, bed.lvs.client
    programmed = {"[2001:db8:9::11]:80": 1, "[2001:db8:9::12]:80": 1}
    for director in lvs.directors:  # hot standby: both program IPVS, one holds the VIP
        wait_for(lambda d=director: weights(d) == programmed, f"{director.name}'s first program", bed, 600)
    wait_for(lambda: len(holders(bed)) == 1, "one holder of the VIP", bed, 120)
    (holder_name,) = holders(bed)
    holder = next(d for d in lvs.directors if d.name == holder_name)
    standby = next(d for d in lvs.directors if d.name != holder_name)
    assert "tentative" not in vip_line(holder) and "dadfailed" not in vip_line(holder), vip_line(holder)
    wait_for(lambda: set(client.http_get(VIP, 80, count=4, timeout=1)) == {"rs1", "rs2"}, "DR traffic", bed, 60)
    assert neighbour(client, VIP) == mac(holder)  # the client asked, and the holder answered
    assert mac(holder) != mac(standby)

    loop, listener = ClientLoop(client.name), AdvertisementListener(client.name)
    loop.start()
    listener.start()
    listener.ready.wait(10)
    wait_for(lambda: sum(1 for _, answer in loop.answers if answer) >= 10, "the client loop's answers", bed, 60)
    bed.agents[holder.name].send(signal.SIGKILL)  # a node that dies with its agent: its links go down too
    holder.ip_batch(["link set eth0 down", "link set eth1 down"])
    fault = time.monotonic()
    try:
        bound = wait_for(lambda: vip_line(standby), f"{standby.name} to bind the VIP", bed, TAKEOVER_BOUND_S)
        moved = wait_for(lambda: neighbour(client, VIP) == mac(standby), "the client's entry to move", bed, 30)
        wait_for(lambda: any(at > fault + bound and answer for at, answer in loop.answers), "answers", bed, 30)
        time.sleep(1)  # the announcer's repeats (0.1 s apart) have gone out by then
    finally:
        loop.stop()
        listener.stop()
    gap = loop.gap(fault)
    bed.timings.update(bound=bound, moved=moved, gap=gap)
    print(
        f"IPv6 failover {holder.name} -> {standby.name}: VIP bound +{bound:.2f} s after the fault, the client's "
        f"neighbour entry at the new MAC {moved:.2f} s later; longest without an answer {gap:.2f} s "
        f"(requests every 50 ms, 0.5 s timeout)"
    )
    assert moved < MOVE_BOUND_S, "the entry moved only when the client looked again: no advertisement arrived"
    unsolicited = [na for na in listener.received if na.target == VIP and not na.solicited]
    print(f"neighbour advertisements for {VIP} the client received: {listener.received}")
    # RFC 4861 7.2.6: to all nodes, hop limit 255, Override set, Solicited clear, the new holder's MAC as target
    # link-layer address; GARP_COUNT of them, as many as gratuitous ARPs for an IPv4 VIP
    assert [(na.destination, na.hop_limit, na.override, na.target_mac) for na in unsolicited] == [
        ("ff02::1", 255, True, mac(standby))
    ] * GARP_COUNT
    assert {na.source for na in unsolicited} == {VIP}
    assert "tentative" not in vip_line(standby) and "dadfailed" not in vip_line(standby), vip_line(standby)
    assert gap < TAKEOVER_BOUND_S
    assert set(client.http_get(VIP, 80, count=4, timeout=1)) == {"rs1", "rs2"}
    bed.agents.pop(holder.name).stop(signal.SIGKILL)


def test_an_ipv6_health_check_quiesces_a_dead_server_and_restores_it(bed: Bed) -> None:
    (holder_name,) = holders(bed)
    holder = next(d for d in bed.lvs.directors if d.name == holder_name)
    rs1, dest = bed.lvs.real_servers[0], "[2001:db8:9::11]:80"
    assert weights(holder)[dest] == 1
    bed.servers[rs1.name].stop()
    took = wait_for(lambda: weights(holder).get(dest) == 0, f"{dest} quiesced", bed, QUIESCE_BOUND_S)
    print(f"{dest} quiesced {took:.2f} s after its server died (bound {QUIESCE_BOUND_S} s)")
    assert weights(holder) == {dest: 0, "[2001:db8:9::12]:80": 1}  # quiesced, not removed
    assert set(bed.lvs.client.http_get(VIP, 80, count=4, timeout=1)) == {"rs2"}
    bed.servers[rs1.name] = rs1.http_server(80)
    back = wait_for(lambda: weights(holder).get(dest) == 1, f"{dest} restored", bed, QUIESCE_BOUND_S)
    print(f"{dest} back at weight 1 {back:.2f} s after its server returned")
    assert set(bed.lvs.client.http_get(VIP, 80, count=4, timeout=1)) == {"rs1", "rs2"}
