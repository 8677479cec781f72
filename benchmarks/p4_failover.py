"""P4: failover under real traffic, keepalived (VRRP, advert_int 1) as the baseline, in the VM.

Topology, all network namespaces on one bridge inside the guest (TEST-NET-1 only): a client, two
directors ``kd1`` (MASTER, priority 150) and ``kd2`` (BACKUP, 100), and two DR real servers with the VIP on
``lo``. keepalived programs IPVS (``lb_kind DR``, ``rr``, TCP_CHECK) and holds the VIP by VRRP. The client
starts one HTTP request on a new connection every 20 ms (2 s timeout each; an open loop: it does not wait
for earlier answers) while the MASTER's keepalived is

- ``stop``: stopped gracefully (SIGTERM: it sends a priority-0 advert and drops VIP and IPVS rules);
- ``sigkill``: SIGKILLed (VIP and IPVS rules stay behind on kd1, which still forwards);
- ``node-lost``: SIGKILLed and kd1's link taken down (a director that dies with its keepalived).

kube-lvs' side runs the same client against the full stack of :mod:`kubelvs.testbed.stack` (the API server
emulator over HTTP, two director agents ``dir-a``/``dir-b`` electing a holder by Lease, DR real servers with
their own agents; the agent's default Lease timings, or the test bed's looser ones with
``BENCH_P4_TIMINGS=testbed``, printed with the figures), in the same three scenarios: the
holder's agent SIGTERMed (it unbinds the VIP and releases the Lease), SIGKILLed (VIP and rules stay behind),
SIGKILLed with its links down.

Per scenario: requests after the fault that failed, that were delayed (> 0.5 s), and the longest time
without any successful answer. The file is also the servers' and client's script (stdlib only)::

    python p4_failover.py serve NAME PORT
    python p4_failover.py client ADDRESS PORT SECONDS
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubelvs.testbed.namespaces import Builder

logger = logging.getLogger(__name__)

SCRIPT = Path(__file__).resolve()
SUBNET = "192.0.2"  # TEST-NET-1, only inside the guest
VIP = f"{SUBNET}.100"
PORT = 80
NODES = {
    "kc": f"{SUBNET}.10",
    "kd1": f"{SUBNET}.1",
    "kd2": f"{SUBNET}.2",
    "kr1": f"{SUBNET}.11",
    "kr2": f"{SUBNET}.12",
}
BRIDGE = "kbr0"
REQUEST_EVERY_S = 0.02
REQUEST_TIMEOUT_S = 2.0
DELAYED_S = 0.5
BEFORE_FAULT_S = 4.0
AFTER_FAULT_S = 15.0  # past the slowest takeover seen under a loaded TCG (kube-lvs' node-lost: 11 s)
SCENARIOS = ("stop", "sigkill", "node-lost")

KEEPALIVED_CONF = """
global_defs {{
    router_id {name}
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 3
}}
vrrp_instance VI_BENCH {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        {vip}/32 dev eth0
    }}
}}
virtual_server {vip} {port} {{
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
{real_servers}
}}
"""

REAL_SERVER = """    real_server {address} {port} {{
        weight 1
        TCP_CHECK {{
            connect_timeout 1
        }}
    }}"""


# --- the scripts that run inside namespaces -------------------------------------------------------


def serve(name: str, port: int) -> None:
    body = f"{name}\n".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    with ThreadingHTTPServer(("0.0.0.0", port), Handler) as server:
        print("ready", flush=True)
        server.serve_forever()


def client(address: str, port: int, seconds: float) -> None:
    """A GET on a new connection every 20 ms for ``seconds``, whether or not earlier ones were answered (an
    open loop); prints [start, end, ok] per request (monotonic), in start order.

    Open, not closed: a client that waits for each answer before it asks again measures its own timeouts --
    its request stuck in a SYN retransmission (1 s, then 3 s) hides a takeover that completed meanwhile, so
    every failover between 1 and 2 s read as the 2 s request timeout. Non-blocking sockets on one selector,
    not a thread per request: the client must not take the CPU the directors' agents need under TCG.
    """
    request = f"GET / HTTP/1.0\r\nHost: {address}\r\n\r\n".encode()
    records: list[tuple[float, float, bool]] = []
    pending: dict[socket.socket, float] = {}  # open request -> its start
    selector = selectors.DefaultSelector()

    def finish(sock: socket.socket, ok: bool) -> None:
        records.append((pending.pop(sock), time.monotonic(), ok))
        selector.unregister(sock)
        sock.close()

    print("ready", flush=True)
    stop = time.monotonic() + seconds
    next_start = time.monotonic()
    while pending or next_start < stop:
        now = time.monotonic()
        if next_start < stop and now >= next_start:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex((address, port))
            pending[sock] = now
            selector.register(sock, selectors.EVENT_WRITE)
            next_start += REQUEST_EVERY_S
        for sock, started in list(pending.items()):
            if now - started > REQUEST_TIMEOUT_S:
                finish(sock, False)
        wait = max(0.0, min(next_start if next_start < stop else now + 0.05, now + 0.05) - time.monotonic())
        for key, events in selector.select(wait):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if events & selectors.EVENT_WRITE:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    finish(sock, False)  # refused or unreachable
                    continue
                try:
                    sock.send(request)
                except OSError:
                    finish(sock, False)
                    continue
                selector.modify(sock, selectors.EVENT_READ)
            else:
                try:
                    finish(sock, sock.recv(4096).startswith(b"HTTP/1.0 200"))
                except OSError:
                    finish(sock, False)
    print(json.dumps(sorted(records)), flush=True)


# --- the driver ------------------------------------------------------------------------------------


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv)} -> exit {done.returncode}: {done.stderr.strip()}")
    return done


def in_ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *argv, check=check)


def build_topology() -> Builder:
    """The keepalived side's five namespaces on one bridge (the test bed's builder, one batch per namespace)."""
    from kubelvs.testbed.namespaces import Builder  # imported here: the client and server modes stay stdlib-only

    net = Builder()
    net.bridge(BRIDGE)
    arp = [f"net.ipv4.conf.{device}.{key}={value}" for key, value in (("arp_ignore", "1"), ("arp_announce", "2"))
           for device in ("all", "eth0")]  # fmt: skip
    for ns, address in NODES.items():
        real_server = ns in ("kr1", "kr2")  # DR real servers: the VIP on lo, never answered for by ARP
        net.namespace(ns, *(arp if real_server else ()))
        net.plug(BRIDGE, ns, "eth0", f"{address}/24")
        if real_server:
            net.line(ns, f"addr add {VIP}/32 dev lo")
    net.apply()
    return net


def start_ready(ns: str, *argv: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise RuntimeError(
            f"{argv} in {ns} did not start: {line} {process.stderr.read() if process.stderr else ''}"
        )
    return process


def start_keepalived(ns: str, workdir: Path) -> subprocess.Popen[str]:
    master = ns == "kd1"
    conf = workdir / f"{ns}.conf"
    real_servers = "\n".join(REAL_SERVER.format(address=NODES[r], port=PORT) for r in ("kr1", "kr2"))
    conf.write_text(
        KEEPALIVED_CONF.format(
            name=ns,
            state="MASTER" if master else "BACKUP",
            priority=150 if master else 100,
            vip=VIP,
            port=PORT,
            real_servers=real_servers,
        )
    )
    pids = [
        f"--pid={workdir / ns}.pid",
        f"--vrrp_pid={workdir / ns}-vrrp.pid",
        f"--checkers_pid={workdir / ns}-chk.pid",
    ]
    log = (workdir / f"{ns}-keepalived.log").open("a")
    # own process group: the parent and its VRRP and checker children can be killed together
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, "keepalived", "-n", "-l", "-D", "-G", "-f", str(conf), *pids],
        stdout=log,
        stderr=log,
        text=True,
        start_new_session=True,
    )


def has_vip(ns: str) -> bool:
    return f" {VIP}/32 " in sh("ip", "-n", ns, "-4", "addr", "show", "dev", "eth0").stdout


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def serving(ns: str) -> bool:
    done = in_ns(ns, "ipvsadm", "-Ln", "-t", f"{VIP}:{PORT}", check=False)
    return done.returncode == 0 and done.stdout.count("->") >= 3  # header line + two real servers


def reset(directors: dict[str, subprocess.Popen[str]], workdir: Path) -> None:
    """Both keepalived stopped, kd1's link up, no VIP or IPVS left; then both started, kd1 the MASTER."""
    for process in directors.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for ns in ("kd1", "kd2"):
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "addr", "del", f"{VIP}/32", "dev", "eth0", check=False)
        in_ns(ns, "ipvsadm", "-C")
    directors["kd1"] = start_keepalived("kd1", workdir)
    wait_for(lambda: has_vip("kd1") and serving("kd1"), 60, "kd1 to become MASTER with both real servers")
    directors["kd2"] = start_keepalived("kd2", workdir)
    wait_for(lambda: serving("kd2"), 60, "kd2 (BACKUP) to program IPVS")
    time.sleep(3)  # kd2 has heard kd1's adverts and settled as BACKUP


def fault(kind: str, master: subprocess.Popen[str]) -> None:
    if kind == "stop":
        master.send_signal(signal.SIGTERM)
    else:
        os.killpg(master.pid, signal.SIGKILL)
        if kind == "node-lost":
            sh("ip", "-n", "kd1", "link", "set", "eth0", "down")


def analyse(records: list[tuple[float, float, bool]], at: float) -> dict[str, Any]:
    after = [r for r in records if r[1] >= at]
    answered = sorted(end for _, end, ok in records if ok)
    gaps = [b - a for a, b in itertools.pairwise(answered) if b >= at]
    if records and not records[-1][2]:  # still no answer when the client stopped: the outage is open
        gaps.append(records[-1][1] - (answered[-1] if answered else at))
    return {
        "answered_at_window_end": bool(records and records[-1][2]),
        "requests_after_fault": len(after),
        "failed": sum(1 for r in after if not r[2]),
        "delayed": sum(1 for r in after if r[2] and r[1] - r[0] > DELAYED_S),
        "longest_without_answer_s": max(gaps, default=float("nan")),
        "failed_before_fault": sum(1 for r in records if r[1] < at and not r[2]),
    }


def scenario(kind: str, directors: dict[str, subprocess.Popen[str]], workdir: Path) -> dict[str, Any]:
    reset(directors, workdir)
    probe = start_ready(
        "kc", sys.executable, str(SCRIPT), "client", VIP, str(PORT), str(BEFORE_FAULT_S + AFTER_FAULT_S)
    )
    time.sleep(BEFORE_FAULT_S)
    at = time.monotonic()
    fault(kind, directors["kd1"])
    wait_for(lambda: has_vip("kd2"), 30, "kd2 to take the VIP")
    took_over = time.monotonic() - at
    out, _ = probe.communicate(timeout=BEFORE_FAULT_S + AFTER_FAULT_S + 60)
    records = [(float(a), float(b), bool(ok)) for a, b, ok in json.loads(out.strip().splitlines()[-1])]
    figures = analyse(records, at)
    figures["vip_on_backup_after_s"] = took_over
    return figures


def run(workdir: Path) -> dict[str, Any]:
    version = sh("keepalived", "--version", check=False)
    figures: dict[str, Any] = {"baseline": (version.stderr or version.stdout).splitlines()[0].strip()}
    topology = build_topology()
    servers = [start_ready(ns, sys.executable, str(SCRIPT), "serve", ns, str(PORT)) for ns in ("kr1", "kr2")]
    directors: dict[str, subprocess.Popen[str]] = {}
    try:
        for kind in SCENARIOS:
            figures[f"keepalived_{kind}"] = scenario(kind, directors, workdir)
            logger.info("keepalived %s: %s", kind, figures[f"keepalived_{kind}"])
    finally:
        for director in directors.values():
            if director.poll() is None:
                os.killpg(director.pid, signal.SIGKILL)
            director.wait()
        for server in servers:
            server.kill()
            server.wait()
    topology.remove()  # the keepalived topology goes before the stack's is built
    try:
        figures.update(run_kubelvs(workdir))
    except Exception as error:  # keepalived's figures stand on their own
        logger.exception("kube-lvs side of P4 failed")
        figures["kubelvs"] = f"error: {type(error).__name__}: {error}"
    logger.warning("%s", side_by_side(figures))  # the console and guest.log (the console may lose its tail)
    return figures


# --- kube-lvs: the same client against the full stack ---------------------------------------------


def kubelvs_objects() -> list[dict[str, Any]]:
    from kubelvs.testbed import stack as st

    spec = {
        "address": VIP,
        "port": PORT,
        "forwarding": "dr",
        "scheduler": "rr",
        "directors": {"nodeSelector": st.DIRECTOR_LABELS},
        "healthCheck": {"type": "tcp", "interval": "1s", "connectTimeout": "1s", "retries": 2},
    }
    objects: list[dict[str, Any]] = [
        {"apiVersion": st.API_VERSION, "kind": "VirtualServer", "metadata": {"name": "web"}, "spec": spec}
    ]
    for name, host in st.BACKENDS.items():
        rs = {"virtualServer": "web", "address": f"{st.BACK}.{host}", "port": PORT}
        objects.append(
            {"apiVersion": st.API_VERSION, "kind": "RealServer", "metadata": {"name": f"web-{name}"}, "spec": rs}
        )
    return objects


def run_kubelvs(workdir: Path) -> dict[str, Any]:
    from kubelvs.testbed import stack as st

    # The agent's own defaults unless BENCH_P4_TIMINGS=testbed (the test bed's loose Lease for a loaded host)
    loose = os.environ.get("BENCH_P4_TIMINGS", "agent") == "testbed"
    timings = st.Timings() if loose else st.Timings.agent_defaults()
    stack = st.Stack(workdir / "kubelvs-stack", operator=False, timings=timings)
    figures: dict[str, Any] = {"kubelvs_timings": str(timings)}
    try:
        stack.start(progress=lambda line: logger.info("stack: %s", line))
        stack.apply(kubelvs_objects())
        st.wait_until(lambda: st.serving(VIP) and len(st.vip_holders(VIP)) == 1, timeout=900, every=1)
        st.wait_until(lambda: all(_programmed(st, node) for node in st.DIRECTORS), timeout=300, every=1)
        for kind in SCENARIOS:
            figures[f"kubelvs_{kind}"] = kubelvs_scenario(stack, kind)
            logger.info("kube-lvs %s: %s", kind, figures[f"kubelvs_{kind}"])
    finally:
        stack.close()
        for log in stack.workdir.glob("*.log"):  # the guest copies the top level of its work directory out
            shutil.copy(log, workdir / f"p4-{log.name}")
    figures["kubelvs"] = "; ".join(
        f"{kind}: {_brief(figures[f'kubelvs_{kind}'])}" for kind in SCENARIOS if f"kubelvs_{kind}" in figures
    )
    return figures


def _programmed(st: Any, node: str) -> bool:
    """Both real servers are destinations of the VIP's service in ``node``'s IPVS table."""
    done = in_ns(node, "ipvsadm", "-Ln", "-t", f"{VIP}:{PORT}", check=False)
    return done.returncode == 0 and all(f"{st.BACK}.{host}:{PORT}" in done.stdout for host in st.BACKENDS.values())


def kubelvs_scenario(stack: Any, kind: str) -> dict[str, Any]:
    from kubelvs.testbed import stack as st

    (holder,) = st.vip_holders(VIP)
    standby = next(node for node in st.DIRECTORS if node != holder)
    probe = start_ready(
        "client", sys.executable, str(SCRIPT), "client", VIP, str(PORT), str(BEFORE_FAULT_S + AFTER_FAULT_S)
    )
    sampler = st.HolderSampler(VIP, every=0.02)  # over netlink: an ``ip`` process per look takes ~0.5 s here
    sampler.start()
    time.sleep(BEFORE_FAULT_S)
    at = time.monotonic()
    if kind == "stop":
        stack.agent(holder).send(signal.SIGTERM)
    else:
        stack.crash_director(holder, links_down=kind == "node-lost")

    def standby_bound() -> float | None:  # a SIGKILLed holder keeps its VIP: the standby holds it *too*
        return next((when for when, held in list(sampler.samples) if when >= at and standby in held), None)

    try:
        wait_for(lambda: standby_bound() is not None, 60, f"{standby} to take the VIP")
    finally:
        sampler.stop()
    took_over = (standby_bound() or float("nan")) - at
    out, _ = probe.communicate(timeout=BEFORE_FAULT_S + AFTER_FAULT_S + 60)
    records = [(float(a), float(b), bool(ok)) for a, b, ok in json.loads(out.strip().splitlines()[-1])]
    figures = analyse(records, at)
    figures["vip_on_backup_after_s"] = took_over
    figures["from_to"] = f"{holder} -> {standby}"
    if kind != SCENARIOS[-1]:  # back to two directors, the new holder kept: a restarted agent that does not
        # lead removes a VIP left over
        stack.restart_director(holder, crashed=kind == "node-lost", programmed=lambda: _programmed(st, holder))
        wait_for(lambda: st.vip_holders(VIP) == {standby}, 300, f"{standby} to be the only holder")
    return figures


def _brief(figures: dict[str, Any]) -> str:
    return (
        f"{figures['failed']} failed, {figures['delayed']} delayed of {figures['requests_after_fault']}, "
        f"longest without answer {figures['longest_without_answer_s']:.2f} s"
    )


def side_by_side(figures: dict[str, Any]) -> str:
    lines = [f"P4 failover (client: one request per new connection every {REQUEST_EVERY_S * 1000:.0f} ms)"]
    lines.append(f"  kube-lvs timings: {figures.get('kubelvs_timings', '-')}")
    for kind in SCENARIOS:
        for side in ("keepalived", "kubelvs"):
            found = figures.get(f"{side}_{kind}")
            text = (
                f"{_brief(found)}, VIP on the other after {found['vip_on_backup_after_s']:.2f} s" if found else "-"
            )
            lines.append(f"  {kind:9} {side:10} {text}")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["client"]:
        client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        import guest

        guest.main(["P4"])
