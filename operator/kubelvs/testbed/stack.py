"""The whole system inside the VM: an emulated API server, the operator, two directors and two backends.

::

    root namespace: bridge kmgmt 172.31.255.1/24 -- the API server (:6443) and the operator
    client  eth0 192.0.2.10/24 ─┐ kfront (192.0.2.0/24)          router 192.0.2.254 / 10.9.0.254
    dir-a   eth0 192.0.2.1      ├─ both directors share it: the VIP moves between them, gratuitous ARP tells
    dir-b   eth0 192.0.2.2      ┘  the client; eth1 10.9.0.1/.2 on kback (IPVS sync daemon), mgmt0 .11/.12
    rs1     eth0 10.9.0.11 ─┐ kback (10.9.0.0/24), default route via the router; mgmt0 172.31.255.21/.22
    rs2     eth0 10.9.0.12 ─┘ each serves its own name on ports 80 and 8080
    IPv6 beside it: kfront 2001:db8:1::/64, kback 2001:db8:9::/64, the same host numbers (router ::fe), no DAD

Every kube-lvs process is forked from one :mod:`kubelvs.testbed.launcher` (imports once, then forks), in its
namespace, with its log in ``workdir``. Nodes carry labels (``kubelvs.io/director=true`` on dir-a and dir-b).
The operator and the agents run the command lines ``charts/kubelvs`` renders (:mod:`kubelvs.testbed.chart`:
default values, plus the test bed's VIP pools, Lease timings and sync interface), with the env a kubelet gives
their pods: an agent's node address is its ``status.hostIP``, and its metrics listen there. Only inside the VM;
TEST-NET and private ranges only.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelvs.kernel import netlink
from kubelvs.testbed import apiclient, chart
from kubelvs.testbed.namespaces import Builder, inside, run

logger = logging.getLogger(__name__)

API_VERSION = "lvs.kubelvs.io/v1alpha1"
MGMT, FRONT, BACK = "172.31.255", "192.0.2", "10.9.0"
FRONT6, BACK6 = "2001:db8:1::", "2001:db8:9::"  # each segment's IPv6 /64: host N is FRONT6 + str(N)
ROUTER6 = "fe"
API_ADDRESS, API_PORT = f"{MGMT}.1", 6443
ROUTER = 254
DIRECTORS = {"dir-a": 1, "dir-b": 2}
BACKENDS = {"rs1": 11, "rs2": 12}
MGMT_HOSTS = {"dir-a": 11, "dir-b": 12, "rs1": 21, "rs2": 22}
# each Node's InternalIP (the emulator's Nodes report them): an agent's status.hostIP, where its metrics listen
NODE_ADDRESSES = {
    **{name: f"{FRONT}.{host}" for name, host in DIRECTORS.items()},
    **{name: f"{BACK}.{host}" for name, host in BACKENDS.items()},
}
OPERATOR_POD_IP = API_ADDRESS  # the operator runs in the root namespace, whose one address is on kmgmt
# The chart passes one sync interface to every node, so it must be a name every node has: eth0 (the directors'
# front side, where the master's multicast reaches the other director; a backend's eth0 is on kback, where its
# backup daemon hears nothing).
SYNC_INTERFACE = "eth0"
DIRECTOR_LABELS = {"kubelvs.io/director": "true"}
VIP_POOLS = f"{FRONT}.0/24,{BACK}.100/32,{FRONT6}/64"
FORWARDING = ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
SERVER_PORTS = (80, 8080)
# the backends' agents too: at nice 0 they got so little of the guest's CPU that they first programmed their
# node (VIP on lo, NAT return route) 3 minutes after the directors had already won the Lease
FIRST_PASS = "kubelvs.agent.cluster: pass"  # the agent's log line of every completed pass
NICENESS = {"apiserver": -15, "agent-dir-a": -8, "agent-dir-b": -8, "agent-rs1": -8, "agent-rs2": -8}


@dataclass(frozen=True)
class Timings:
    """Lease timings of the director agents: short, so failovers are quick, yet loose enough for a VM under
    software emulation on a shared machine, where one API round trip can take a second."""

    lease_duration: str = "4s"
    renew_deadline: str = "3s"
    renew_period: str = "1s"
    retry_period: str = "250ms"  # the agent's default: a released Lease is taken within a quarter second

    @classmethod
    def agent_defaults(cls) -> Timings:
        """What ``kubelvs agent`` runs with unless told otherwise (its --lease-duration etc. defaults)."""
        return cls(lease_duration="1500ms", renew_deadline="1s", renew_period="500ms", retry_period="250ms")

    def __str__(self) -> str:
        return (
            f"lease {self.lease_duration}, renew deadline {self.renew_deadline}, renewed every "
            f"{self.renew_period}, read by followers every {self.retry_period}"
        )


def build_topology() -> Builder:
    """Create the namespaces and segments drawn in the module docstring; returns the builder (for removal)."""
    net = Builder()
    net.bridge("kmgmt", f"{API_ADDRESS}/24")
    net.bridge("kfront")
    net.bridge("kback")
    net.namespace("router", *FORWARDING)
    net.plug("kfront", "router", "eth0", f"{FRONT}.{ROUTER}/24", f"{FRONT6}{ROUTER6}/64")
    net.plug("kback", "router", "eth1", f"{BACK}.{ROUTER}/24", f"{BACK6}{ROUTER6}/64")
    net.namespace("client")
    net.plug("kfront", "client", "eth0", f"{FRONT}.10/24", f"{FRONT6}10/64")
    _default_routes(net, "client", FRONT, FRONT6)
    for name, host in DIRECTORS.items():
        net.namespace(name, *FORWARDING)
        net.plug("kfront", name, "eth0", *front_addresses(name))
        net.plug("kback", name, "eth1", f"{BACK}.{host}/24", f"{BACK6}{host}/64")
        net.plug("kmgmt", name, "mgmt0", f"{MGMT}.{MGMT_HOSTS[name]}/24")
        _default_routes(net, name, FRONT, FRONT6)
    for name, host in BACKENDS.items():
        net.namespace(name)
        net.plug("kback", name, "eth0", f"{BACK}.{host}/24", f"{BACK6}{host}/64")
        net.plug("kmgmt", name, "mgmt0", f"{MGMT}.{MGMT_HOSTS[name]}/24")
        _default_routes(net, name, BACK, BACK6)
    net.apply()
    return net


def front_addresses(director: str) -> tuple[str, str]:
    """A director's own addresses on eth0 (kfront), IPv4 and IPv6, with their prefix lengths."""
    host = DIRECTORS[director]
    return f"{FRONT}.{host}/24", f"{FRONT6}{host}/64"


def back_address6(node: str) -> str:
    """The IPv6 address of a director's eth1 or a backend's eth0 on kback."""
    return f"{BACK6}{DIRECTORS.get(node) or BACKENDS[node]}"


def _default_routes(net: Builder, netns: str, prefix: str, prefix6: str) -> None:
    net.line(netns, f"route add default via {prefix}.{ROUTER}")
    net.line(netns, f"route add default via {prefix6}{ROUTER6}")


# ---- processes ---------------------------------------------------------------------------------------------


class Launcher:
    """The zygote (:mod:`kubelvs.testbed.launcher`) and its request/answer pipe."""

    def __init__(self, log: Path, env: Mapping[str, str]) -> None:
        self._lock = threading.Lock()
        with log.open("a") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kubelvs.testbed.launcher"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
                # in the zygote's own environment: the kubernetes client reads KUBECONFIG once, at import
                env={**os.environ, **env},
            )

    def wait_ready(self, timeout: float = 900) -> None:
        """Block until the zygote has imported everything (minutes under a loaded TCG)."""
        assert self.process.stdout is not None
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        line = self.process.stdout.readline()
        timer.cancel()
        if not line.startswith('{"ready"'):
            raise RuntimeError(f"the launcher did not start (exit {self.process.poll()}): {line!r}")

    def ask(self, request: Mapping[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Child:
    """A process forked by the launcher: signal it, ask whether it still runs, read its log."""

    name: str
    argv: tuple[str, ...]
    netns: str | None
    log: Path
    pid: int
    launcher: Launcher = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def exit_code(self) -> int | None:
        if self.process is not None:  # started by exec, not forked
            return self.process.poll()
        code: int | None = self.launcher.ask({"status": self.pid})["exit"]
        return code

    def alive(self) -> bool:
        return self.exit_code() is None

    def send(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Signal it and wait for it to end (SIGKILL after ``timeout``); returns its exit code."""
        self.send(signum)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            while self.alive():
                time.sleep(0.05)
        return self.exit_code()

    def logged_at(self, needle: str, after: float) -> float | None:
        """Wall time of the first log line at or after ``after`` (epoch seconds) that contains ``needle``.

        Lines start with logging's ``asctime`` (``2026-01-02 03:04:05,678``, the VM's local time, as here).
        """
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return None
        for line in lines:
            if needle not in line:
                continue
            try:
                at = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            except ValueError:
                continue
            if at >= after:
                return at
        return None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ---- the stack ---------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """Topology, API server, operator, agents and servers; ``start()`` then ``close()``."""

    workdir: Path
    timings: Timings = field(default_factory=Timings)
    operator: bool = True
    """Run the operator (status conditions); the data plane (benchmarks) does without it."""
    net: Builder | None = None
    launcher: Launcher | None = None
    children: dict[str, Child] = field(default_factory=dict)
    rendering: chart.Rendering | None = None
    """The chart's objects (``helm template``), rendered once by ``start()``."""

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def environment(self) -> dict[str, str]:
        passed = {k: v for k, v in os.environ.items() if k == "KUBELVS_TRACEBACK_AFTER"}
        return {"KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1", **passed}

    @property
    def api(self) -> apiclient.Client:
        return apiclient.Client(f"http://{API_ADDRESS}:{API_PORT}")

    def chart_values(self) -> dict[str, str]:
        """The ``--set`` values the test bed needs; everything else is the chart's default."""
        t = self.timings
        values = {
            "config.vipPools": "{" + VIP_POOLS + "}",
            "ipvs.syncDaemon.enabled": "true",
            "ipvs.syncDaemon.interface": SYNC_INTERFACE,
            "leaderElection.leaseDuration": t.lease_duration,
            "leaderElection.renewDeadline": t.renew_deadline,
            "leaderElection.renewPeriod": t.renew_period,
            "leaderElection.retryPeriod": t.retry_period,
        }
        if os.environ.get("KUBELVS_STACK_DEBUG") == "1":
            values["logLevel"] = "debug"
        return values

    def render(self) -> chart.Rendering:
        """The chart as this stack runs it (helm once; HelmMissing without a helm)."""
        if self.rendering is None:
            self.rendering = chart.render(self.chart_values())
        return self.rendering

    def agent_command(self, node: str) -> chart.Command:
        """The agent DaemonSet's container as the kubelet of ``node`` would run it."""
        pod = chart.Pod(f"{chart.RELEASE}-agent-{node}", node, NODE_ADDRESSES[node], NODE_ADDRESSES[node])
        return self.render().agent.command(pod, node_root=self.workdir / "nodes" / node)

    def operator_command(self) -> chart.Command:
        """The operator Deployment's container, its pod in the root namespace."""
        pod = chart.Pod(f"{chart.RELEASE}-operator-0", "vm", OPERATOR_POD_IP, OPERATOR_POD_IP)
        return self.render().operator.command(pod)

    def agent_metrics(self, node: str) -> tuple[str, int]:
        """Where ``node``'s agent serves /metrics: its node address and the chart's port."""
        return NODE_ADDRESSES[node], self.render().agent.ports["metrics"]

    def operator_metrics(self) -> tuple[str, int]:
        return OPERATOR_POD_IP, self.render().operator.ports["metrics"]

    def start(self, progress: Any = logger.info) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        chart.find_helm()  # first: without helm nothing else is worth starting
        self.launcher = Launcher(self.workdir / "launcher.log", self.environment)
        # while the launcher imports: helm took 40 s on a TCG guest sharing its host's CPUs with two others
        progress("rendering charts/kubelvs (helm template): the operator's and the agents' command lines")
        self.render()
        progress("building the network namespaces (client, router, dir-a, dir-b, rs1, rs2)")
        self.net = build_topology()
        progress("importing kube-lvs once in the launcher (the slow part under emulation)")
        self.launcher.wait_ready()
        progress(f"starting the API server emulator on {API_ADDRESS}:{API_PORT}")
        nodes = [f"{name}:{_labels(DIRECTOR_LABELS)}@{NODE_ADDRESSES[name]}" for name in DIRECTORS]
        nodes += [f"{name}@{NODE_ADDRESSES[name]}" for name in BACKENDS]
        self.spawn(
            "apiserver",
            ("apiserver", "--listen", f"{API_ADDRESS}:{API_PORT}", "--kubeconfig-out", str(self.kubeconfig),
             "--kopf-peering", *(f"--node={node}" for node in nodes)),
        )  # fmt: skip
        apiclient.wait_for(lambda: self.kubeconfig.exists() and self.api.list("v1", "nodes"), timeout=120)
        progress("starting the operator and the agents (dir-a, dir-b, rs1, rs2) and the real servers")
        if self.operator:
            for peering in self.render().of_kind("ClusterKopfPeering"):  # the chart's post-install hook
                self.api.create("clusterkopfpeerings", peering)
            command = self.operator_command()
            self.spawn("operator", command.argv, env=command.env)
        for name in DIRECTORS:
            self.start_agent(name)
        for name in BACKENDS:
            self.start_agent(name)
            for port in SERVER_PORTS:
                self.start_server(name, port)

    def spawn(
        self, name: str, argv: Sequence[str], netns: str | None = None, env: Mapping[str, str] | None = None
    ) -> Child:
        """Fork ``argv`` from the launcher in ``netns``; ``env`` is what its pod's container gets besides."""
        assert self.launcher is not None
        log = self.workdir / f"{name}.log"
        environment = {**self.environment, **(env or {})}
        if argv[0] == "kubelvs" and "agent" in argv[:3] and os.environ.get("KUBELVS_STACK_EXEC") == "1":
            return self._exec(name, argv, netns, log, environment)
        request: dict[str, Any] = {"start": list(argv), "netns": netns, "log": str(log), "env": environment}
        # under a saturated emulated CPU an API answer can take longer than the agents' 1 s request timeout:
        # the API server and the directors go first, so elections work on a loaded machine too
        request["nice"] = NICENESS.get(name, 0)
        answer = self.launcher.ask(request)
        child = Child(name, tuple(argv), netns, log, int(answer["pid"]), self.launcher)
        self.children[name] = child
        return child

    def _exec(
        self, name: str, argv: Sequence[str], netns: str | None, log: Path, environment: Mapping[str, str]
    ) -> Child:
        """A separate python (slow to start under TCG, but nothing shared with the launcher)."""
        assert self.launcher is not None
        command = [sys.executable, "-m", "kubelvs.cli", *argv[1:]]
        with log.open("a") as handle:
            process = subprocess.Popen(
                ["ip", "netns", "exec", netns, *command] if netns else command,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=handle,
                env={**os.environ, **environment},
                start_new_session=True,
            )
        child = Child(name, tuple(argv), netns, log, process.pid, self.launcher, process)
        self.children[name] = child
        return child

    def agent_argv(self, node: str) -> tuple[str, ...]:
        """The chart's agent command line on ``node``, exactly as it runs."""
        return self.agent_command(node).argv

    def start_agent(self, node: str) -> Child:
        command = self.agent_command(node)
        return self.spawn(f"agent-{node}", command.argv, netns=node, env=command.env)

    def start_server(self, node: str, port: int) -> Child:
        return self.spawn(f"http-{node}-{port}", ("http-server", node, str(port)), netns=node)

    def agent(self, node: str) -> Child:
        return self.children[f"agent-{node}"]

    def crash_director(self, node: str, links_down: bool = True) -> None:
        """A node that dies with its agent: SIGKILL, and (``links_down``) its links go down too."""
        self.agent(node).send(signal.SIGKILL)
        if links_down:  # one process: each costs up to a second on a loaded TCG
            run(["ip", "-n", node, "-batch", "-"], input="link set eth0 down\nlink set eth1 down\n")

    def restart_director(self, node: str, crashed: bool, programmed: Any) -> None:
        """Bring a failed director back and wait until ``programmed()`` says its agent has done its first pass.

        A crashed node comes back as from a reboot: no IPVS rules, no sync daemons, no floating addresses,
        its links up again with the default route they lost when they went down. Then a new agent starts.
        """
        if crashed:
            ipvsadm(node, "-C")
            for role in ("master", "backup"):
                run(["ip", "netns", "exec", node, "ipvsadm", "--stop-daemon", role], check=False)
            for line in run(["ip", "-n", node, "-o", "-4", "addr", "show"]).stdout.splitlines():
                parts = line.split()  # 3: eth0    inet 192.0.2.100/32 scope global eth0
                if len(parts) > 3 and parts[3].endswith("/32"):
                    run(["ip", "-n", node, "addr", "del", parts[3], "dev", parts[1]], check=False)
            for device in ("eth0", "eth1"):
                run(["ip", "-n", node, "link", "set", device, "up"])
            # a link that went down lost its IPv6 addresses (keep_addr_on_down 0), the VIPs among them
            run(["ip", "-n", node, "addr", "replace", front_addresses(node)[1], "dev", "eth0", "nodad"])
            run(["ip", "-n", node, "addr", "replace", f"{back_address6(node)}/64", "dev", "eth1", "nodad"])
            # without a default route the agent has no interface for the VIP: as holder it would bind nothing
            run(["ip", "-n", node, "route", "replace", "default", "via", f"{FRONT}.{ROUTER}"])
            run(["ip", "-n", node, "-6", "route", "replace", "default", "via", f"{FRONT6}{ROUTER6}"])
        started = time.time()
        agent = self.start_agent(node)
        # its own first pass, not just rules left in place (a graceful stop keeps them): a candidate only then
        wait_until(lambda: programmed() and agent.logged_at(FIRST_PASS, started) is not None, timeout=300)
        time.sleep(2)  # its candidacy follows its first pass

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> None:
        """Create VirtualServers and RealServers (namespace ``default``) through the API."""
        for obj in objects:
            plural = {"VirtualServer": "virtualservers", "RealServer": "realservers"}[obj["kind"]]
            body = {**obj, "metadata": {"namespace": "default", **obj["metadata"]}}
            self.api.create(plural, body)

    def status(self, plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get(API_VERSION, plural, "default", name).get("status") or {}
        return found

    def close(self) -> None:
        for child in reversed(list(self.children.values())):
            if child.alive():
                child.stop(signal.SIGKILL, timeout=5)
        if self.launcher is not None:
            self.launcher.close()
        if self.net is not None:
            self.net.remove()


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


# ---- looking at it: VIP holders, IPVS tables, the client ---------------------------------------------------


def vip_holders(vip: str, directors: Sequence[str] = tuple(DIRECTORS)) -> frozenset[str]:
    """Directors with ``vip`` (IPv4 or IPv6) on an interface that is up (a crashed node's downed links hold
    nothing)."""
    held = set()
    for name in directors:
        out = run(["ip", "-n", name, "-o", "addr", "show", "up"], check=False).stdout
        if f" {vip}/" in out:
            held.add(name)
    return frozenset(held)


def scrape(netns: str | None, address: str, port: int, timeout: float = 10.0) -> str:
    """GET ``/metrics`` from ``netns`` (None: the calling thread's), as a Prometheus there would; OSError if
    nothing answers."""
    url = f"http://{address}:{port}/metrics"
    with inside(netns) if netns else contextlib.nullcontext(), urllib.request.urlopen(url, timeout=timeout) as got:
        text: str = got.read().decode()
    return text


def series(text: str, name: str) -> dict[str, float]:
    """The samples of metric ``name`` in a Prometheus text page: ``{labels}`` -> value."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            labels, _, value = line[len(name) :].rpartition(" ")
            found[labels] = float(value)
    return found


def ipvsadm(netns: str, *args: str) -> str:
    return run(["ip", "netns", "exec", netns, "ipvsadm", *args]).stdout


def http_get(address: str, port: int = 80, timeout: float = 2.0) -> str:
    """One GET on a new connection from the calling thread's namespace: the body, or ``ERR <why>``."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        return data.partition(b"\r\n\r\n")[2].decode().strip() or "ERR empty answer"
    except OSError as error:
        return f"ERR {error}"


def requests_from_client(
    address: str, port: int, count: int, netns: str = "client", timeout: float = 2.0
) -> list[str]:
    """``count`` GETs from the client namespace, each on a new connection."""
    with inside(netns):
        return [http_get(address, port, timeout) for _ in range(count)]


def serving(vip: str, port: int = 80) -> bool:
    """Whether a request from the client to ``vip:port`` is answered: the VIP held, the IPVS service and a
    backend programmed (a Ready status says the directors are; the backends' agents may still be starting)."""
    return not requests_from_client(vip, port, 1)[0].startswith("ERR")


class Sampler(threading.Thread):
    """Samples something every ``every`` seconds from a thread in ``netns`` (or here) until stopped."""

    def __init__(self, every: float, netns: str | None = None) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.netns = netns
        self.samples: list[tuple[float, Any]] = []
        self._stop_event = threading.Event()

    def sample(self) -> Any:
        raise NotImplementedError

    def run(self) -> None:
        if self.netns is not None:
            with inside(self.netns):
                self._loop()
        else:
            self._loop()

    def _loop(self) -> None:
        while not self._stop_event.is_set():
            started = time.monotonic()
            self.samples.append((started, self.sample()))
            self._stop_event.wait(max(0.0, self.every - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)


class UpAddresses:
    """Asks one namespace's kernel for the IPv4 addresses on its interfaces that are up, over one netlink socket
    (the agent's own codec, :mod:`kubelvs.kernel.netlink`) opened once in that namespace: a sample costs two
    small dumps, not two ``ip`` processes (over a second each on a loaded TCG, far too coarse to catch two
    directors holding a VIP at once)."""

    RTM_GETLINK, RTM_GETADDR = 18, 22
    IFA_LOCAL, IFF_UP = 2, 1
    IFINFOMSG, IFADDRMSG = struct.Struct("=BxHiII"), struct.Struct("=BBBBI")  # linux/rtnetlink.h, if_addr.h

    def __init__(self, netns: str) -> None:
        with inside(netns):
            self._socket = netlink.Socket(netlink.NETLINK_ROUTE)

    def _dump(self, kind: int, body: bytes) -> list[bytes]:
        seq = self._socket.sequence()
        flags = netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP
        code, payloads = self._socket.replies(
            netlink.header(16 + len(body), kind, flags, seq) + body, seq, dump=True
        )
        if code:
            raise OSError(abs(code), f"netlink dump {kind}: {os.strerror(abs(code))}")
        return payloads

    def up(self) -> set[str]:
        links = self._dump(self.RTM_GETLINK, self.IFINFOMSG.pack(socket.AF_INET, 0, 0, 0, 0))
        up = {index for _, _, index, flags, _ in map(self.IFINFOMSG.unpack_from, links) if flags & self.IFF_UP}
        found = set()
        for payload in self._dump(self.RTM_GETADDR, self.IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)):
            if self.IFADDRMSG.unpack_from(payload)[4] not in up:
                continue
            local = netlink.attributes(payload[self.IFADDRMSG.size :]).get(self.IFA_LOCAL)
            if local is not None and len(local) == 4:
                found.add(socket.inet_ntoa(local))
        return found

    def close(self) -> None:
        self._socket.close()


class HolderSampler(Sampler):
    """Which directors hold the VIP on an interface that is up, every ~100 ms (netlink, no processes)."""

    def __init__(self, vip: str, every: float = 0.1, directors: Sequence[str] = tuple(DIRECTORS)) -> None:
        super().__init__(every)
        self.vip = vip
        self.directors = tuple(directors)
        self._kernels: dict[str, UpAddresses] = {}

    def run(self) -> None:
        self._kernels = {name: UpAddresses(name) for name in self.directors}
        try:
            super().run()
        finally:
            for kernel in self._kernels.values():
                kernel.close()

    def sample(self) -> frozenset[str]:
        return frozenset(name for name, kernel in self._kernels.items() if self.vip in kernel.up())

    def overlaps(self) -> list[tuple[float, Any]]:
        return [(at, held) for at, held in self.samples if len(held) > 1]

    def first(self, held: frozenset[str], since: float) -> float | None:
        """Monotonic time of the first sample at or after ``since`` that shows exactly ``held``."""
        return next((at for at, seen in self.samples if at >= since and seen == held), None)

    def period(self) -> float:
        """The median time between two samples: what a sampled overlap could have missed."""
        steps = sorted(b - a for (a, _), (b, _) in itertools.pairwise(self.samples))
        return steps[len(steps) // 2] if steps else float("nan")


class ClientLoop(Sampler):
    """A GET to ``vip:port`` from the client every ``every`` seconds; :meth:`gap` is the longest outage."""

    def __init__(self, vip: str, port: int = 80, every: float = 0.05, timeout: float = 0.5) -> None:
        super().__init__(every, netns="client")
        self.vip, self.port, self.timeout = vip, port, timeout

    def sample(self) -> str:
        return http_get(self.vip, self.port, self.timeout)

    def gap(self, since: float) -> float:
        """Longest time between two successful answers after ``since`` (to the last sample if none came)."""
        start, end = self.outage(since)
        return end - start

    def outage(self, since: float) -> tuple[float, float]:
        """The longest stretch without a successful answer after ``since``: from the start of the last request
        answered before it (or ``since``) to the start of the first one answered after it (or the last sample)."""
        ok = [at for at, answer in self.samples if at >= since and not answer.startswith("ERR")]
        last = self.samples[-1][0] if self.samples else since
        points = [since, *ok] if ok else [since, last]
        if len(points) < 2:
            return since, since
        return max(itertools.pairwise(points), key=lambda pair: pair[1] - pair[0])

    def answers(self, since: float = 0.0) -> list[str]:
        return [answer for at, answer in self.samples if at >= since]

    def first_answer(self, since: float) -> float | None:
        """Monotonic time of the first successful answer at or after ``since``."""
        return next((at for at, answer in self.samples if at >= since and not answer.startswith("ERR")), None)


class LongConnection(threading.Thread):
    """One TCP connection from the client to ``vip:port`` sending a line every 100 ms and reading the answer."""

    def __init__(self, vip: str, port: int = 80, every: float = 0.1, timeout: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.vip, self.port, self.every, self.timeout = vip, port, every, timeout
        self.answers: list[tuple[float, str]] = []
        self.error: str | None = None
        self._stop_event = threading.Event()
        self.connected = threading.Event()

    def run(self) -> None:
        with inside("client"):
            try:
                with socket.create_connection((self.vip, self.port), timeout=self.timeout) as sock:
                    reader = sock.makefile("rb")
                    self.connected.set()
                    while not self._stop_event.is_set():
                        sock.sendall(b"ping\n")
                        line = reader.readline()
                        if not line:
                            self.error = "closed by the peer"
                            return
                        self.answers.append((time.monotonic(), line.decode().strip()))
                        self._stop_event.wait(self.every)
            except OSError as error:
                self.error = f"{type(error).__name__}: {error}"
            finally:
                self.connected.set()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)


def wait_until(probe: Any, timeout: float, every: float = 0.1) -> float:
    """Poll ``probe()`` until truthy; returns the seconds it took, raises AssertionError on timeout.

    A probe that raises OSError (an API server too busy to answer in time, under a loaded TCG) is "not yet".
    """
    started = time.monotonic()
    last: OSError | None = None
    while True:
        try:
            if probe():
                return time.monotonic() - started
        except OSError as error:
            last = error
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s" + (f" (last error: {last})" if last else ""))
        time.sleep(every)
