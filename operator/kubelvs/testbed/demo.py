"""The in-guest half of ``kubelvs demo``: the whole system on a real IPVS kernel, the examples applied, traffic.

Runs inside the VM (``python -m kubelvs.testbed.demo EXAMPLES_DIR``): starts the :mod:`stack` (API server emulator,
operator, directors dir-a and dir-b, backends rs1 and rs2), applies ``examples/0*.yaml`` rewritten to the stack's
addresses (VIPs onto the stack's front network, the last octet kept, the real servers of each service -> rs1 and
rs2, the NAT gateway -> 10.9.0.100 on the directors' real-server side ``eth1``, every service directed by the two
director nodes as one director group: the same node selector and the same ``preferred`` order, dir-a first, so one
Lease decides every VIP), shows the active director's ``ipvsadm -Ln``, sends requests to every service and counts
the answers per real server, scrapes every agent's metrics on its node address and the operator's on its pod
address, crashes the holding director (agent SIGKILLed, links down) while clients keep asking, and prints the
measured gap per service and a summary; then a LoadBalancer Service whose pods roll over under a client
(:mod:`demo_load_balancer`). The processes run the Helm chart's command lines (:mod:`stack`). Exit status 0 only if
every step worked.
"""

from __future__ import annotations

import copy
import logging
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubelvs.testbed import demo_load_balancer
from kubelvs.testbed import stack as st
from kubelvs.testbed.demo_load_balancer import LoadBalancerFailed
from kubelvs.testbed.namespaces import run as sh

logger = logging.getLogger(__name__)

REQUESTS = 12
REQUEST_TIMEOUT = 5.0  # a loaded TCG guest can take seconds to schedule the answering server
# the failover clients: one GET every PROBE_EVERY s, given up after PROBE_TIMEOUT s, so a gap is known to ~0.6 s
PROBE_EVERY, PROBE_TIMEOUT = 0.1, 0.5
READY_TIMEOUT = 600.0
STILL_WAITING_EVERY = 30.0  # a progress line while the VirtualServers are not all Ready yet
T0 = float(os.environ.get("KUBELVS_DEMO_T0", time.time()))
BACKENDS = [f"{st.BACK}.{host}" for host in st.BACKENDS.values()]
GATEWAY = f"{st.BACK}.100"
# The directors' interface on kback, the real servers' segment (stack.build_topology: eth0 front, eth1 back).
# The NAT gateway must be bound there: its gratuitous ARP then reaches the real servers, which otherwise keep
# the crashed director's MAC for their return route until the neighbour entry goes stale (~30 s).
BACK_INTERFACE = "eth1"


def say(line: str) -> None:
    print(f"[{time.time() - T0:4.0f}s] {line}", flush=True)


class DemoFailed(Exception):
    """A step did not do what it should; the message says which and why."""


@dataclass
class Service:
    name: str
    vip: str
    port: int
    mode: str
    scheduler: str
    answers: Counter[str]
    persistence: int | None = None
    weights: str = ""
    after: Counter[str] | None = None
    gap: float | None = None


def rewrite(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The examples' objects moved onto the stack's addresses and director nodes."""
    out, seen = [], Counter[str]()
    for original in documents:
        obj = copy.deepcopy(original)
        spec = obj["spec"]
        if obj["kind"] == "VirtualServer":
            spec["address"] = f"{st.FRONT}.{spec['address'].rsplit('.', 1)[1]}"
            directors = spec.setdefault("directors", {})
            directors["nodeSelector"] = dict(st.DIRECTOR_LABELS)
            # one group for all (the group is selector + preferred): one holder to crash moves every VIP
            directors["preferred"] = list(st.DIRECTORS)
            if "gateway" in directors:
                directors["gateway"] = {**directors["gateway"], "address": GATEWAY, "interface": BACK_INTERFACE}
        else:
            parent = spec["virtualServer"]
            spec["address"] = BACKENDS[seen[parent] % len(BACKENDS)]
            seen[parent] += 1
        out.append(obj)
    return out


def load_examples(directory: Path) -> list[dict[str, Any]]:
    documents = []
    for path in sorted(directory.glob("0*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return rewrite(documents)


def persistence_of(spec: dict[str, Any]) -> int | None:
    """The persistence timeout in seconds (300 when ``persistence: {}``), None without persistence."""
    if spec.get("persistence") is None:
        return None
    return int(spec["persistence"].get("timeout", 300))


def weights_of(objects: list[dict[str, Any]], virtual_server: str) -> str:
    """``3/1``: the weights of the service's real servers on rs1/rs2, in the order :func:`rewrite` placed them."""
    weights = {
        o["spec"]["address"]: int(o["spec"].get("weight", 1))
        for o in objects
        if o["kind"] == "RealServer" and o["spec"]["virtualServer"] == virtual_server
    }
    return "/".join(str(weights.get(address, 0)) for address in BACKENDS)


def services_of(objects: list[dict[str, Any]]) -> list[Service]:
    return [
        Service(
            o["metadata"]["name"],
            o["spec"]["address"],
            int(o["spec"].get("port", 80)),
            o["spec"].get("forwarding", "dr"),
            o["spec"].get("scheduler", "wlc"),
            Counter(),
            persistence=persistence_of(o["spec"]),
            weights=weights_of(objects, o["metadata"]["name"]),
        )
        for o in objects
        if o["kind"] == "VirtualServer"
    ]


def conditions(stack: st.Stack, name: str) -> tuple[dict[str, str], str | None]:
    """The VirtualServer's condition statuses by type, and its active director."""
    status = stack.status("virtualservers", name)
    return {c["type"]: c["status"] for c in status.get("conditions") or []}, status.get("activeDirector")


def ready(stack: st.Stack, name: str) -> bool:
    found, active = conditions(stack, name)
    return found.get("Ready") == "True" and bool(active)


def wait_ready(stack: st.Stack, services: list[Service], timeout: float = READY_TIMEOUT) -> None:
    """Every VirtualServer Ready with an active director; each one said as it comes, what is missing said
    every STILL_WAITING_EVERY s, so a slow guest is seen working rather than hanging."""
    started = time.monotonic()
    pending = [s.name for s in services]
    noted = started
    while pending:
        for name in list(pending):
            try:
                found, active = conditions(stack, name)
            except OSError:  # an API server too busy to answer in time: ask again
                continue
            if found.get("Ready") == "True" and active:
                pending.remove(name)
                say(f"  {name} Ready, active director {active} (+{time.monotonic() - started:.0f} s)")
        now = time.monotonic()
        if pending and now - started > timeout:
            raise DemoFailed(f"not Ready within {timeout:.0f} s: {', '.join(pending)}")
        if pending and now - noted >= STILL_WAITING_EVERY:
            noted = now
            check_alive(stack)
            say(
                f"  still waiting (+{now - started:.0f} s) for {', '.join(pending)}; {describe(stack, pending[0])}"
            )
        time.sleep(0.5)


def active_director(stack: st.Stack, name: str) -> str | None:
    return conditions(stack, name)[1]


def check_alive(stack: st.Stack) -> None:
    """Fail at once, naming it, when a process of the stack has ended (a dead API server is never Ready)."""
    for child in stack.children.values():
        code = child.exit_code()
        if code is not None:
            raise DemoFailed(f"{child.name} ended (exit {code}); its log: {child.log}")


def describe(stack: st.Stack, name: str) -> str:
    """``nat-rr: Accepted=True Programmed=False Ready=False``, or why the status could not be read."""
    try:
        found, active = conditions(stack, name)
    except OSError as error:
        return f"{name}: status unreadable ({error})"
    shown = " ".join(f"{kind}={value}" for kind, value in found.items()) or "no conditions yet"
    return f"{name}: {shown}" + (f", active director {active}" if active else "")


def holder(vips: list[str]) -> str:
    held = {name for vip in vips for name in st.vip_holders(vip)}
    if len(held) != 1:
        raise DemoFailed(f"expected one director to hold the VIPs, found {sorted(held) or 'none'}")
    return held.pop()


def send_requests(services: list[Service]) -> None:
    for service in services:
        answers = st.requests_from_client(service.vip, service.port, REQUESTS, timeout=REQUEST_TIMEOUT)
        service.answers = Counter(answers)
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(service.answers.items()))
        say(f"  {service.name:8} {service.mode:3} {service.scheduler:3} {service.vip}:{service.port} -> {shown}")
        failed = [a for a in answers if a.startswith("ERR")]
        if failed:
            raise DemoFailed(f"{service.name}: {len(failed)} of {REQUESTS} requests failed: {failed[0]}")


def show_metrics(stack: st.Stack, active: str) -> None:
    """Scrape every agent on its node address (the chart's ``--metrics-address=$(HOST_IP)``) from inside that
    node, and the operator on its pod address; say what each one reports."""
    for node in (*st.DIRECTORS, *st.BACKENDS):
        address, port = stack.agent_metrics(node)
        try:
            text = st.scrape(node, address, port)
        except OSError as error:
            raise DemoFailed(f"{node}'s agent metrics at {address}:{port}: {error}") from None
        if st.series(text, "kubelvs_ipvs_scrape_success").get("") != 1.0:
            raise DemoFailed(f"{node}'s agent at {address}:{port} could not read IPVS: {text[:500]}")
        held = sum(v for v in st.series(text, "kubelvs_director_group_held").values())
        scheduled = sum(st.series(text, "kubelvs_virtual_server_connections_total").values())
        role = f"holds {held:.0f} director group(s)" if node in st.DIRECTORS else "a backend"
        say(f"  {node:6} {address}:{port}/metrics: {role}, {scheduled:.0f} connections scheduled by its IPVS")
        if (node == active) != (held > 0):
            raise DemoFailed(f"{node}'s metrics say it holds {held:.0f} groups; the active director is {active}")
    address, port = stack.operator_metrics()
    try:
        text = st.scrape(None, address, port)
    except OSError as error:
        raise DemoFailed(f"the operator's metrics at {address}:{port}: {error}") from None
    objects = sum(st.series(text, "kubelvs_operator_objects").values())
    say(f"  operator {address}:{port}/metrics: judges {objects:.0f} objects")


def fail_over(stack: st.Stack, services: list[Service]) -> tuple[str, str, float]:
    """Crash the holder while a client loop per service keeps asking; record each service's gap.

    Returns the old holder, the new one, and the seconds from the crash until the new one held the VIPs.
    """
    old = holder([s.vip for s in services])
    new = next(name for name in st.DIRECTORS if name != old)
    loops = {s.name: st.ClientLoop(s.vip, s.port, every=PROBE_EVERY, timeout=PROBE_TIMEOUT) for s in services}
    for loop in loops.values():
        loop.start()
    st.wait_until(lambda: all(len(loop.answers()) >= 5 for loop in loops.values()), timeout=60)
    say(
        f"crashing the holder {old}: its agent gets SIGKILL and its links go down (a node lost); a client per "
        f"service keeps asking every {PROBE_EVERY} s"
    )
    fault = time.monotonic()
    stack.agent(old).send(signal.SIGKILL)
    for device in ("eth0", "eth1"):
        sh(["ip", "-n", old, "link", "set", device, "down"])
    # one `ip` per poll: five services' vip_holders (ten `ip` runs) took seconds a poll on a loaded guest
    moved = st.wait_until(lambda: holds_all(new, [s.vip for s in services]), timeout=60, every=0.05)
    lease = stack.timings.lease_duration
    say(f"{new} holds every VIP {moved:.1f} s after the crash (the {lease} Lease of {old} ran out)")
    st.wait_until(
        lambda: all(any(not a.startswith("ERR") for a in loop.answers(fault + moved)) for loop in loops.values()),
        timeout=60,
    )
    time.sleep(1)
    for loop in loops.values():
        loop.stop()
    for service in services:
        service.gap = loops[service.name].gap(fault)
        say(f"  {service.name:8} {service.mode:3} longest time without an answer: {service.gap:.2f} s")
    return old, new, moved


def holds_all(node: str, vips: list[str]) -> bool:
    """Whether ``node`` has every one of ``vips`` on an interface that is up."""
    out = sh(["ip", "-n", node, "-o", "-4", "addr", "show", "up"], check=False).stdout
    return all(f" {vip}/" in out for vip in vips)


def counted(answers: Counter[str] | None) -> str:
    if answers is None:
        return "-"
    return "/".join(str(answers.get(name, 0)) for name in st.BACKENDS)


def summary(services: list[Service], crash: tuple[str, str, float] | None = None) -> str:
    """The table printed last: what each service is, how its requests spread before and after the crash, and
    its failover gap; then what the numbers mean."""
    servers = "/".join(st.BACKENDS)
    lines = [
        f"{'service':9} {'mode':4} {'sched':5} {'VIP':16} {'weights':>9} {'before':>9} {'after':>9}"
        f"  {'failover gap':>12}",
        f"{'':9} {'':4} {'':5} {'':16} {servers:>9} {servers:>9} {servers:>9}",
        "-" * 82,
    ]
    for s in services:
        gap = f"{s.gap:.2f} s" if s.gap is not None else "-"
        lines.append(
            f"{s.name:9} {s.mode:4} {s.scheduler:5} {s.vip + ':' + str(s.port):16} {s.weights:>9} "
            f"{counted(s.answers):>9} {counted(s.after):>9}  {gap:>12}"
        )
    lines.append("")
    lines.append(
        f"before/after: answers to {REQUESTS} GETs per service from one client, each on a new connection, "
        "before the crash and after it."
    )
    for s in services:
        if s.scheduler in ("lc", "wlc", "sed", "nq"):
            lines.append(
                f"{s.name}: {s.scheduler} picks the real server with the fewest connections in the table (closed "
                "ones in TIME_WAIT and those synced from the old director too), so its split can be lopsided."
            )
        if s.persistence is not None:
            lines.append(
                f"{s.name}: persistence {s.persistence} s sends every connection of one client to one real server."
            )
    if crash is not None:
        old, new, moved = crash
        lines.append(
            f"failover: {old} crashed (agent SIGKILLed, links down); {new} held every VIP {moved:.1f} s later."
        )
    lines.append(
        f"failover gap: longest time without an answer from the crash on, for a client asking every "
        f"{PROBE_EVERY} s with a {PROBE_TIMEOUT} s timeout (so to within {PROBE_EVERY + PROBE_TIMEOUT:.1f} s)."
    )
    return "\n".join(lines)


def run(examples: Path, workdir: Path) -> int:
    objects = load_examples(examples)
    services = services_of(objects)
    stack = st.Stack(workdir)
    try:
        stack.start(progress=say)
        say(f"applying {len(objects)} objects from {examples} (VIPs on 192.0.2.x, real servers rs1/rs2)")
        stack.apply(objects)
        say(
            f"waiting for the {len(services)} VirtualServers to be Ready: the operator accepts them, both "
            "directors program IPVS, one wins the Lease and binds the VIPs (a minute or two under TCG)"
        )
        wait_ready(stack, services)
        active = holder([s.vip for s in services])
        say(f"ipvsadm -Ln on the active director {active}:")
        print(st.ipvsadm(active, "-Ln").rstrip(), flush=True)
        say("waiting until every VIP answers the client (the backends' agents program their side too)")
        for service in services:
            took = st.wait_until(lambda s=service: st.serving(s.vip, s.port), timeout=300, every=1)
            say(f"  {service.name} answers the client (+{took:.1f} s)")
        say(f"{REQUESTS} requests per service from the client, each on a new connection:")
        send_requests(services)
        say("metrics, each agent scraped on its node's address (never on a VIP), the operator on its pod's:")
        show_metrics(stack, active)
        crash = fail_over(stack, services)
        old, new, _ = crash
        say(f"after the failover ({old} -> {new}), requests again:")
        before = {s.name: s.answers for s in services}
        send_requests(services)
        for s in services:
            s.after, s.answers = s.answers, before[s.name]
        took = st.wait_until(lambda: all(active_director(stack, s.name) == new for s in services), timeout=60)
        say(f"every VirtualServer's status says activeDirector {new} (+{took:.1f} s after the requests)")
        say("summary:")
        print(summary(services, crash), flush=True)
        demo_load_balancer.run(stack, say)
        return 0
    except (DemoFailed, LoadBalancerFailed, AssertionError, RuntimeError, OSError) as error:
        say(f"FAILED: {error}")
        for child in stack.children.values():
            if child.name.startswith(("agent", "operator", "apiserver")):
                print(f"--- {child.name} log (last lines) ---\n{child.tail(10)}", flush=True)
        return 1
    finally:
        say("stopping the stack")
        stack.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    examples = Path(argv[0]) if argv else Path("examples")
    workdir = Path(argv[1]) if len(argv) > 1 else Path("/tmp/kubelvs-demo")
    return run(examples, workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
