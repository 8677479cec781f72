"""SIGKILL the long-running standalone agent again and again under steady traffic, with manifest edits in
flight: no request fails, and the service and its destinations never leave the kernel (sampled over netlink
the whole time, from another thread). Kills land during start-up, right after a pass that edited the table,
and while an edit is being picked up; the last agent adopts what it finds and converges with no more writes.
Agents are forked from a zygote that imported kube-lvs once (_fault_launcher): real processes, started in
seconds rather than minutes under emulation.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _fault_launcher import launcher, spawn
from agentrun import DIRECTOR_LABEL, DIRECTORS, agent, director, rs, service_lines, vs, write
from netns import LvsTopology, Namespace

from kubelvs.testbed.namespaces import inside
from kubelvs.testbed.stack import Child

SERVICE = "TCP 192.0.2.100:80"
DESTINATIONS = {("10.9.0.11", 80), ("10.9.0.12", 80)}
MAX_CLIENT_SECONDS = 1200  # the client stops by itself should the test die without telling it

STEADY_CLIENT = """
import pathlib, socket, sys, time
vip, stop, limit = sys.argv[1], pathlib.Path(sys.argv[2]), time.monotonic() + float(sys.argv[3])
print("ready", flush=True)
while not stop.exists() and time.monotonic() < limit:
    try:
        with socket.create_connection((vip, 80), timeout=3) as sock:
            sock.settimeout(3)
            sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        print(data.partition(b"\\r\\n\\r\\n")[2].decode().strip() or "ERR empty answer", flush=True)
    except OSError as error:
        print(f"ERR {error}", flush=True)
    time.sleep(0.05)
"""


def web(weight: int) -> list[dict]:
    return [
        vs("web", address="192.0.2.100", port=80, scheduler="wrr", directors=DIRECTORS),
        rs("web-1", "web", "10.9.0.11"),
        rs("web-2", "web", "10.9.0.12", weight=weight),
    ]


class Sampler(threading.Thread):
    """Dumps the director's IPVS table in a loop; remembers every sample where the service or one of its
    destinations was missing."""

    def __init__(self, ns: Namespace) -> None:
        super().__init__(daemon=True)
        self.ns = ns
        self.samples = 0
        self.gaps: list[str] = []
        self.failure: BaseException | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        from kubelvs.kernel.ipvs import KernelIpvsTable

        try:
            with inside(self.ns.name), KernelIpvsTable() as table:
                while not self.stopping.is_set():
                    keys = [key for key in table.services() if str(key) == SERVICE]
                    found = {(d.address, d.port) for d in table.destinations(keys)} if keys else set()
                    if not keys or found != DESTINATIONS:
                        self.gaps.append(f"{time.monotonic():.2f}: service {bool(keys)}, destinations {found}")
                    self.samples += 1
                    time.sleep(0.02)
        except BaseException as error:  # reported by the test, not lost in a thread
            self.failure = error

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


def wait_for(condition: Callable[[], bool], what: str, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; {log.name}:\n{log.read_text()}"
        time.sleep(0.1)


def passes(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "pass over" in line]


def kill(process: Child) -> None:
    code = process.stop(signal.SIGKILL, timeout=60)
    assert code == -signal.SIGKILL, f"exit {code}:\n{process.tail(40)}"


def test_sigkilled_agents_drop_no_request_and_no_rule(lvs_factory, tmp_path: Path) -> None:
    lvs: LvsTopology = lvs_factory(directors=1, real_servers=2)
    dir1, client = lvs.directors[0], lvs.client
    path = write(tmp_path / "web" / "web.yaml", web(weight=1))
    for server in lvs.real_servers:
        server.http_server(80)
        agent(server, path, tmp_path)
    director(dir1, path, tmp_path)
    assert len(service_lines(dir1, SERVICE)) == 3

    launcher()  # the imports, once, before the clock of the scenario starts
    sampler = Sampler(dir1)
    sampler.start()
    stop_flag = tmp_path / "stop-client"
    traffic = client.start(sys.executable, "-c", STEADY_CLIENT, lvs.vip, str(stop_flag), str(MAX_CLIENT_SECONDS))
    logs: list[Path] = []
    children: list[Child] = []

    def restart(*extra: str) -> tuple[Child, Path]:
        logs.append(tmp_path / f"agent-{len(logs)}.log")
        argv = [
            "agent", "--standalone", "--manifests", str(path.parent), "--node", dir1.name,
            "--node-labels", DIRECTOR_LABEL, "--state-file", str(tmp_path / f"{dir1.name}.json"), *extra,
        ]  # fmt: skip
        children.append(spawn(argv, dir1.name, logs[-1]))
        return children[-1], logs[-1]

    try:
        # 1: killed while starting up, before any pass (an edit is waiting for it)
        write(path, web(weight=2))
        process, log = restart()
        time.sleep(0.3)
        kill(process)
        # 2: killed right after a pass that applied that edit
        process, log = restart()
        wait_for(lambda: bool(passes(log)), "the second agent's first pass", log)
        kill(process)
        assert "-> 10.9.0.12:80 Route 2" in service_lines(dir1, SERVICE)  # a whole ipvsadm line
        # 3 and 4: killed while a manifest edit is being noticed or applied (the agent polls every second)
        for weight, delay in ((3, 0.5), (4, 1.2)):
            process, log = restart("--resync-period", "1s")
            wait_for(lambda: bool(passes(logs[-1])), "a pass", logs[-1])
            write(path, web(weight=weight))
            time.sleep(delay)
            kill(process)
        # the last agent converges on the last manifest and then has nothing left to write
        process, log = restart("--resync-period", "1s")
        wait_for(lambda: len(passes(log)) >= 2, "two passes of the last agent", log)
        assert process.stop(signal.SIGTERM, timeout=60) == 0, log.read_text()
        assert "writes: none; errors: 0" in passes(log)[-1], log.read_text()
        assert "-> 10.9.0.12:80 Route 4" in service_lines(dir1, SERVICE)  # a whole ipvsadm line

    finally:
        stop_flag.touch()
        sampler.stop()
        for child in children:
            if child.alive():
                child.stop(signal.SIGKILL)
    traffic.process.wait(timeout=60)
    assert traffic.process.stdout is not None
    answers = traffic.process.stdout.read().splitlines()
    failed = [answer for answer in answers if answer not in ("rs1", "rs2")]
    assert failed == [], f"{len(failed)} of {len(answers)} requests failed: {failed[:10]}"
    assert len(answers) >= 50 and set(answers) == {"rs1", "rs2"}, answers
    assert sampler.failure is None, repr(sampler.failure)
    assert sampler.gaps == [], sampler.gaps[:10]
    assert sampler.samples >= 50, sampler.samples
    said = "\n".join(log.read_text() for log in logs)
    assert "ERROR" not in said and "Traceback" not in said, said
