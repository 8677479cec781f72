"""Network namespaces for kernel tests: namespaces, veth pairs, the LVS topology, and the programs run in them.

Runs inside the test VM only (root, disposable kernel). Everything a test creates is owned by one
:class:`Netns` and removed by :meth:`Netns.cleanup` (the ``netns`` fixture does that after each test).
Namespaces are built by :class:`kubelvs.testbed.namespaces.Builder`, the demo's own builder; the servers and
the client started inside them are ``nsprog.py``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubelvs.testbed.namespaces import Builder, inside, run

PROGRAM = Path(__file__).resolve().with_name("nsprog.py")
# stdlib only, so no site-packages (-S) and no environment (-I): python starts several times faster under TCG
SELF = (sys.executable, "-I", "-S", str(PROGRAM))
READY = "ready"


@dataclass
class Server:
    """A server process in a namespace; ``stop()`` kills it (cleanup does it for you)."""

    process: subprocess.Popen[str]
    what: str = ""

    def wait_ready(self) -> Server:
        """Block until the process prints ``ready``; raise with its stderr if it prints anything else or dies."""
        assert self.process.stdout is not None and self.process.stderr is not None
        line = self.process.stdout.readline().strip()
        if line != READY:
            self.stop()
            raise RuntimeError(f"{self.what} did not start: {line} {self.process.stderr.read()}")
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@dataclass
class Namespace:
    """One network namespace, with ``lo`` up. Every method runs ``ip``/commands inside it."""

    name: str
    owner: Netns

    def exec(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``ip netns exec NAME argv...``; returns the finished process (stdout/stderr as text)."""
        return run(["ip", "netns", "exec", self.name, *argv], check=check, timeout=timeout)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ip -n NAME args...``, e.g. ``ns.ip("route", "add", "default", "via", "10.9.0.1")``."""
        return run(["ip", "-n", self.name, *args], check=check)

    def ip_batch(self, lines: list[str]) -> None:
        """Many ``ip`` commands (without the leading ``ip``) in one process: ``ip -n NAME -batch -``."""
        run(["ip", "-n", self.name, "-batch", "-"], input="\n".join(lines) + "\n")

    def sysctl(self, key: str, value: str) -> None:
        """Set ``key`` (dotted or slashed form, e.g. ``net.ipv4.ip_forward``) inside the namespace."""
        self.exec("sysctl", "-qw", f"{key}={value}")

    def address(self, device: str, cidr: str) -> None:
        """Add ``cidr`` (e.g. ``10.9.0.11/24`` or ``2001:db8::1/64``, IPv6 without DAD) to ``device``."""
        self.ip("addr", "add", cidr, "dev", device, *(["nodad"] if ":" in cidr else []))

    def route(self, destination: str, *, via: str | None = None, device: str | None = None) -> None:
        """``ip route add destination [via GW] [dev DEV]``; ``destination`` may be ``default``."""
        args = ["route", "add", destination]
        if via:
            args = ["-6" if ":" in via else "-4", *args, "via", via]
        if device:
            args += ["dev", device]
        self.ip(*args)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move this thread into the namespace for the block; sockets opened inside stay in it afterwards.

        ``with ns.entered(): table = KernelIpvsTable()`` gives a table of this namespace's IPVS.
        """
        with inside(self.name):
            yield

    def start(self, *argv: str) -> Server:
        """Start a long-running command in the namespace and wait for its first line (``ready``)."""
        return self.launch(*argv).wait_ready()

    def launch(self, *argv: str) -> Server:
        """Start a long-running command without waiting; call ``wait_ready()`` (start several, then wait)."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = Server(process, f"{' '.join(argv)} in {self.name}")
        self.owner.servers.append(server)
        return server

    def http_server(self, port: int = 80, *, answer: str | None = None, address: str = "") -> Server:
        """A tiny HTTP server on ``address:port`` (all addresses by default) answering ``answer`` (the ns name)."""
        return self.start(*SELF, "http-server", answer or self.name, str(port), address)

    def udp_server(self, port: int = 53, *, answer: str | None = None, address: str = "") -> Server:
        """A UDP server answering every datagram with ``answer`` (the ns name by default)."""
        return self.start(*SELF, "udp-server", answer or self.name, str(port), address)

    def http_get(self, address: str, port: int = 80, count: int = 1, timeout: float = 3) -> list[str]:
        """``count`` HTTP GETs to ``address:port``, each on a new connection; the bodies, or ``"ERR <why>"``."""
        done = self.exec(
            *SELF, "http-get", address, str(port), str(count), str(timeout),
            timeout=30 + count * timeout,
        )  # fmt: skip
        return done.stdout.splitlines()

    def udp_ask(self, address: str, port: int = 53, count: int = 1, timeout: float = 3) -> list[str]:
        """``count`` datagrams to ``address:port``, each from a new socket (new source port); the answers."""
        done = self.exec(
            *SELF, "udp-ask", address, str(port), str(count), str(timeout),
            timeout=30 + count * timeout,
        )  # fmt: skip
        return done.stdout.splitlines()


@dataclass
class Netns:
    """Creates namespaces and links, and removes all of them (and their servers) in :meth:`cleanup`."""

    namespaces: list[Namespace] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)

    def namespace(self, name: str) -> Namespace:
        """A new namespace called ``name`` with ``lo`` up (the name is global inside the VM)."""
        run(["ip", "netns", "add", name])
        ns = Namespace(name, self)
        self.namespaces.append(ns)
        ns.ip("link", "set", "lo", "up")
        return ns

    def adopt(self, names: list[str]) -> dict[str, Namespace]:
        """Namespaces a :class:`Builder` makes, from now on this owner's to remove."""
        adopted = {name: Namespace(name, self) for name in names}
        self.namespaces.extend(adopted.values())
        return adopted

    def veth(self, a: Namespace, a_device: str, b: Namespace, b_device: str) -> None:
        """A veth pair ``a:a_device <-> b:b_device``, both ends up."""
        run(["ip", "-n", a.name, "link", "add", a_device, "type", "veth", "peer", b_device, "netns", b.name])
        a.ip("link", "set", a_device, "up")
        b.ip("link", "set", b_device, "up")

    def http_servers(self, namespaces: list[Namespace], port: int = 80) -> list[Server]:
        """An HTTP server answering its namespace's name in each of ``namespaces``, started in parallel."""
        launched = [ns.launch(*SELF, "http-server", ns.name, str(port), "") for ns in namespaces]
        return [server.wait_ready() for server in launched]

    def bridge(self, ns: Namespace, name: str) -> None:
        """A bridge ``name`` in ``ns``, up (no STP, no forwarding delay)."""
        ns.ip("link", "add", name, "type", "bridge", "forward_delay", "0", "stp_state", "0")
        ns.ip("link", "set", name, "up")

    def plug(self, switch: Namespace, bridge: str, ns: Namespace, device: str, port: str) -> None:
        """Connect ``ns:device`` to ``bridge`` in ``switch`` through a veth whose bridge end is ``port``."""
        self.veth(switch, port, ns, device)
        switch.ip("link", "set", port, "master", bridge)

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns.name], check=False)
        self.servers.clear()
        self.namespaces.clear()


FRONT = "192.0.2"  # client side (TEST-NET-1)
BACK = "10.9.0"  # director <-> real servers, one L2 segment
REMOTE = "198.51.100"  # real servers only reachable through the router (TEST-NET-2)
V6 = {FRONT: "2001:db8:1::", BACK: "2001:db8:9::", REMOTE: "2001:db8:51::"}
ROUTER_HOST, CLIENT_HOST, FIRST_RS_HOST = 254, 10, 11


@dataclass
class LvsTopology:
    """A small LVS network, nothing load-balanced yet: programming IPVS and binding the VIP is the test's job.

    ::

        client ─┐front 192.0.2.0/24   ┌─ router (192.0.2.254, 10.9.0.254, 198.51.100.254), forwarding
        dir1..N ┤ (bridge in switch)  │
                 back 10.9.0.0/24 ────┼─ rs1..M  (rs_segment="back": DR/NAT/TUN on one L2 segment)
                 remote 198.51.100/24 ┘─ rs1..M  (rs_segment="remote": reachable only by routing, for TUN)

    - ``client``: ``eth0`` 192.0.2.10/24, default route via the router.
    - ``directors[i]`` (``dir1``...): ``eth0`` 192.0.2.(i+1)/24 on front, ``eth1`` 10.9.0.(i+1)/24 on back,
      ``ip_forward=1``, default route via the router. The VIP (``vip``, 192.0.2.100) is bound nowhere.
    - ``real_servers[j]`` (``rs1``...): ``eth0`` 10.9.0.(11+j)/24 (or 198.51.100.(11+j)/24), default route via
      the router, *not* a director: NAT replies need a policy route or SNAT (as kube-lvs sets up); DR replies
      from the VIP go straight back through the router; for DR put the VIP on the real server's ``lo``.
    - ``ipv6=True`` adds 2001:db8:1::/64 (front), 2001:db8:9::/64 (back), 2001:db8:51::/64 (remote) with the
      same host numbers (``vip6`` = 2001:db8:1::100), no DAD.

    The addresses are in ``addresses[ns.name]``: ``{"front"|"back"|"remote": "a.b.c.d"}``.
    Namespace names are global in the VM, so build one topology per test (the ``lvs`` fixtures clean up).
    """

    switch: Namespace
    router: Namespace
    client: Namespace
    directors: list[Namespace]
    real_servers: list[Namespace]
    addresses: dict[str, dict[str, str]]
    vip: str = f"{FRONT}.100"
    vip6: str = f"{V6[FRONT]}100"

    def address(self, ns: Namespace, segment: str = "back") -> str:
        """The IPv4 address of ``ns`` on ``segment`` (``front``, ``back`` or ``remote``)."""
        return self.addresses[ns.name][segment]

    def address6(self, ns: Namespace, segment: str = "back") -> str:
        """The IPv6 address of ``ns`` on ``segment`` (only with ``ipv6=True``)."""
        return self.addresses[ns.name][segment + "6"]


def build_lvs(
    netns: Netns, *, directors: int = 1, real_servers: int = 2, rs_segment: str = "back", ipv6: bool = False
) -> LvsTopology:
    """Build an :class:`LvsTopology` out of namespaces owned by ``netns``, with the test bed's :class:`Builder`."""
    if rs_segment not in ("back", "remote"):
        raise ValueError(f"rs_segment must be 'back' or 'remote', not {rs_segment!r}")
    segments = {"front": FRONT, "back": BACK, **({"remote": REMOTE} if rs_segment == "remote" else {})}
    dir_names = [f"dir{i + 1}" for i in range(directors)]
    rs_names = [f"rs{j + 1}" for j in range(real_servers)]
    forwarding = ("net.ipv4.ip_forward=1", *(("net.ipv6.conf.all.forwarding=1",) if ipv6 else ()))
    net = Builder(switch="switch")
    net.namespace("switch")
    for name in ["router", "client", *dir_names, *rs_names]:
        net.namespace(name, *(forwarding if name == "router" or name in dir_names else ()))
    for segment in segments:
        net.bridge(segment)
    addresses: dict[str, dict[str, str]] = {name: {} for name in net.namespaces}

    def attach(name: str, device: str, segment: str, host: int) -> None:
        prefix = segments[segment]
        cidrs = [f"{prefix}.{host}/24", *([f"{V6[prefix]}{host}/64"] if ipv6 else [])]
        net.plug(segment, name, device, *cidrs)
        addresses[name][segment] = f"{prefix}.{host}"
        if ipv6:
            addresses[name][segment + "6"] = f"{V6[prefix]}{host}"

    def default_route(name: str, segment: str) -> None:
        net.line(name, f"route add default via {segments[segment]}.{ROUTER_HOST}")
        if ipv6:
            net.line(name, f"route add default via {V6[segments[segment]]}{ROUTER_HOST}")

    for index, segment in enumerate(segments):
        attach("router", f"eth{index}", segment, ROUTER_HOST)
    attach("client", "eth0", "front", CLIENT_HOST)
    default_route("client", "front")
    for i, name in enumerate(dir_names):
        attach(name, "eth0", "front", i + 1)
        attach(name, "eth1", "back", i + 1)
        default_route(name, "front")
    for j, name in enumerate(rs_names):
        attach(name, "eth0", rs_segment, FIRST_RS_HOST + j)
        default_route(name, rs_segment)
    ns = netns.adopt(net.namespaces)  # owned before it is built, so a half-built topology is removed too
    net.apply()
    return LvsTopology(
        ns["switch"], ns["router"], ns["client"], [ns[n] for n in dir_names], [ns[n] for n in rs_names], addresses
    )
