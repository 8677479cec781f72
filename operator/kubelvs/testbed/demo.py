"""The in-guest half of ``kubelvs demo``: the whole system on a real IPVS kernel, the examples applied, traffic.

Runs inside the VM (``python -m kubelvs.testbed.demo EXAMPLES_DIR``): starts the :mod:`stack` (API server
emulator, operator, directors dir-a and dir-b, backends rs1 and rs2), applies ``examples/0*.yaml`` rewritten to
the stack's addresses (VIPs 192.168.13.X -> 192.0.2.X, the real servers of each service -> rs1 and rs2, the NAT
gateway -> 10.9.0.100, every service directed by the two director nodes as one director group: the same node
selector and the same ``preferred`` order, dir-a first, so one Lease decides every VIP), shows the active
director's ``ipvsadm -Ln``, sends requests to every service and counts the answers per real server, crashes the
holding director (agent SIGKILLed, links down) while clients keep asking, and prints the measured gap and a
summary. Exit status 0 only if every step worked.
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

from kubelvs.testbed import stack as st
from kubelvs.testbed.namespaces import run as sh

logger = logging.getLogger(__name__)

REQUESTS = 12
REQUEST_TIMEOUT = 5.0  # a loaded TCG guest can take seconds to schedule the answering server
T0 = float(os.environ.get("KUBELVS_DEMO_T0", time.time()))
BACKENDS = [f"{st.BACK}.{host}" for host in st.BACKENDS.values()]
GATEWAY = f"{st.BACK}.100"


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
    gap: float | None = None


def rewrite(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The examples' 192.168.13.x objects moved onto the stack's addresses and director nodes."""
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
                directors["gateway"] = {**directors["gateway"], "address": GATEWAY}
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


def services_of(objects: list[dict[str, Any]]) -> list[Service]:
    return [
        Service(
            o["metadata"]["name"],
            o["spec"]["address"],
            int(o["spec"].get("port", 80)),
            o["spec"].get("forwarding", "dr"),
            o["spec"].get("scheduler", "wlc"),
            Counter(),
        )
        for o in objects
        if o["kind"] == "VirtualServer"
    ]


def ready(stack: st.Stack, name: str) -> bool:
    status = stack.status("virtualservers", name)
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    return conditions.get("Ready") == "True" and bool(status.get("activeDirector"))


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


def fail_over(stack: st.Stack, services: list[Service]) -> tuple[str, str]:
    """Crash the holder while a client loop per service keeps asking; record each service's gap."""
    old = holder([s.vip for s in services])
    new = next(name for name in st.DIRECTORS if name != old)
    loops = {s.name: st.ClientLoop(s.vip, s.port, every=0.1, timeout=0.5) for s in services}
    for loop in loops.values():
        loop.start()
    st.wait_until(lambda: all(len(loop.answers()) >= 5 for loop in loops.values()), timeout=60)
    say(f"crashing the holder {old}: its agent gets SIGKILL and its links go down (a node lost)")
    fault = time.monotonic()
    stack.agent(old).send(signal.SIGKILL)
    for device in ("eth0", "eth1"):
        sh(["ip", "-n", old, "link", "set", device, "down"])
    moved = st.wait_until(lambda: st.vip_holders(services[0].vip) == {new}, timeout=60)
    say(f"{new} holds the VIPs {moved:.1f} s after the crash")
    st.wait_until(
        lambda: all(any(not a.startswith("ERR") for a in loop.answers(fault + moved)) for loop in loops.values()),
        timeout=60,
    )
    time.sleep(1)
    for loop in loops.values():
        loop.stop()
    for service in services:
        service.gap = loops[service.name].gap(fault)
        say(f"  {service.name}: longest time without an answer {service.gap:.2f} s")
    return old, new


def summary(services: list[Service]) -> str:
    lines = [
        f"{'service':9} {'mode':4} {'sched':5} {'VIP':18} {'rs1':>4} {'rs2':>4}  failover gap",
        "-" * 60,
    ]
    for s in services:
        gap = f"{s.gap:.2f} s" if s.gap is not None else "-"
        lines.append(
            f"{s.name:9} {s.mode:4} {s.scheduler:5} {s.vip + ':' + str(s.port):18} "
            f"{s.answers.get('rs1', 0):>4} {s.answers.get('rs2', 0):>4}  {gap}"
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
        for service in services:
            took = st.wait_until(lambda n=service.name: ready(stack, n), timeout=600, every=0.5)
            active = stack.status("virtualservers", service.name)["activeDirector"]
            say(f"  {service.name} Ready, active director {active} (+{took:.1f} s)")
        active = holder([s.vip for s in services])
        say(f"ipvsadm -Ln on the active director {active}:")
        print(st.ipvsadm(active, "-Ln").rstrip(), flush=True)
        for service in services:
            took = st.wait_until(lambda s=service: st.serving(s.vip, s.port), timeout=300, every=1)
            say(f"  {service.name} answers the client (+{took:.1f} s)")
        say(f"{REQUESTS} requests per service from the client, each on a new connection:")
        send_requests(services)
        old, new = fail_over(stack, services)
        now = stack.status("virtualservers", services[0].name).get("activeDirector")
        say(f"after the failover ({old} -> {new}), status says activeDirector {now}; requests again:")
        before = {s.name: s.answers for s in services}
        send_requests(services)
        for s in services:
            s.answers = before[s.name]
        say("summary (requests before the failover; gap = longest time without an answer):")
        print(summary(services), flush=True)
        return 0
    except (DemoFailed, AssertionError, RuntimeError, OSError) as error:
        say(f"FAILED: {error}")
        for child in stack.children.values():
            if child.name.startswith(("agent", "operator")):
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
