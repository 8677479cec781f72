"""The whole system in the VM (issue 4): API server emulator, operator, two director agents, two backend agents.

Objects created through the API make DR and NAT traffic flow and the status name the active director; the
holder runs the IPVS sync daemon as master; a crashed holder (agent SIGKILLed, links down) loses the VIP to the
other director and traffic resumes (the gap is printed), an established DR connection survives it; a graceful
stop (SIGTERM) hands over faster; never do two directors hold the VIP at once; a backend whose server dies is
quiesced (weight 0) and comes back. One stack for the module: the boot and the imports are the slow part.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelvs.testbed import stack as st
from kubelvs.testbed.namespaces import run as sh

# Not yet passing in the VM (directors did not win their Lease against the emulated API under TCG);
# tests/run leaves these out until they do. Run them with: python -m kubelvs.testbed pytest -m fullstack
pytestmark = pytest.mark.fullstack

VIP_DR, VIP_NAT, GATEWAY = "192.0.2.100", "192.0.2.101", "10.9.0.100"
HEALTH = {"type": "tcp", "interval": "1s", "connectTimeout": "1s", "retries": 2, "onFailure": "quiesce"}
DIRECTORS = {"nodeSelector": st.DIRECTOR_LABELS}
CRASH_BOUND_S = 12.0  # lease 4 s + retry + a pass, under a loaded TCG; the measured value is printed
QUIESCE_BOUND_S = 1 * (2 + 1) + 6.0  # interval x (retries + 1) + slack for TCG
gaps: dict[str, float] = {}


def objects() -> list[dict[str, Any]]:
    def vs(name: str, **spec: Any) -> dict[str, Any]:
        return {"apiVersion": st.API_VERSION, "kind": "VirtualServer", "metadata": {"name": name}, "spec": spec}

    def rs(name: str, parent: str, address: str, port: int) -> dict[str, Any]:
        spec = {"virtualServer": parent, "address": address, "port": port}
        return {"apiVersion": st.API_VERSION, "kind": "RealServer", "metadata": {"name": name}, "spec": spec}

    return [
        vs("web-dr", address=VIP_DR, port=80, forwarding="dr", scheduler="rr", directors=DIRECTORS,
           healthCheck=HEALTH),
        vs("web-nat", address=VIP_NAT, port=80, forwarding="nat", scheduler="rr",
           directors={**DIRECTORS, "gateway": {"address": GATEWAY}}, healthCheck={**HEALTH, "port": 8080}),
        rs("web-dr-1", "web-dr", "10.9.0.11", 80),
        rs("web-dr-2", "web-dr", "10.9.0.12", 80),
        rs("web-nat-1", "web-nat", "10.9.0.11", 8080),
        rs("web-nat-2", "web-nat", "10.9.0.12", 8080),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[st.Stack]:
    xml = getattr(request.config.option, "xmlpath", None)  # the testbed's rwdir: logs outlive the VM there
    workdir = Path(xml).parent / "full-stack" if xml else tmp_path_factory.mktemp("full-stack")
    running = st.Stack(workdir)
    try:
        running.start(progress=lambda line: print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True))
        running.apply(objects())
        yield running
    finally:
        for child in running.children.values():
            if child.name.startswith(("agent", "operator")):
                print(f"--- {child.name} (exit {child.exit_code()}) ---\n{child.tail(15)}")
        running.close()


def holder_and_standby() -> tuple[str, str]:
    held = st.vip_holders(VIP_DR)
    assert len(held) == 1, f"exactly one director should hold {VIP_DR}: {sorted(held)}"
    (holder,) = held
    return holder, next(name for name in st.DIRECTORS if name != holder)


def ready(stack: st.Stack, name: str) -> dict[str, Any] | None:
    status = stack.status("virtualservers", name)
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    return status if conditions.get("Ready") == "True" and status.get("activeDirector") else None


def weight(netns: str, service: str, destination: str) -> int | None:
    """The weight of ``destination`` in ``service`` (``192.0.2.100:80``) of ``ipvsadm -Ln``, None if absent."""
    inside = False
    for line in st.ipvsadm(netns, "-Ln").splitlines():
        parts = line.split()
        if parts[:1] in (["TCP"], ["UDP"], ["SCTP"], ["FWM"]):
            inside = parts[1] == service
        elif inside and parts[:2] == ["->", destination]:
            return int(parts[3])
    return None


def test_objects_through_the_api_make_dr_and_nat_traffic_flow(stack: st.Stack) -> None:
    statuses = {name: st.wait_until(lambda n=name: ready(stack, n), timeout=300) for name in ("web-dr", "web-nat")}
    status = stack.status("virtualservers", "web-dr")
    holder, _ = holder_and_standby()
    print(f"ready after {statuses}; activeDirector {status['activeDirector']}, holder by ip addr {holder}")
    assert status["activeDirector"] == holder
    print(st.ipvsadm(holder, "-Ln"))
    for vip in (VIP_DR, VIP_NAT):
        took = st.wait_until(lambda v=vip: st.serving(v), timeout=300, every=1)  # backends' agents may lag
        print(f"{vip} answers after {took:.1f} s")
        answers = st.requests_from_client(vip, 80, 6)
        print(vip, answers)
        assert sorted(set(answers)) == ["rs1", "rs2"], answers


def test_the_holder_runs_the_sync_master_and_the_standby_a_backup(stack: st.Stack) -> None:
    holder, standby = holder_and_standby()
    st.wait_until(lambda: "master" in st.ipvsadm(holder, "-L", "--daemon"), timeout=30)
    on_holder, on_standby = st.ipvsadm(holder, "-L", "--daemon"), st.ipvsadm(standby, "-L", "--daemon")
    print(f"{holder}: {on_holder.strip()}\n{standby}: {on_standby.strip()}")
    assert "master" in on_holder and "eth1" in on_holder
    assert "backup" in on_standby and "master" not in on_standby


def failover(stack: st.Stack, how: str) -> tuple[float, st.HolderSampler, st.LongConnection, float]:
    """Start the samplers, fail the holder ``how`` (crash | stop), wait for the other director to serve."""
    holder, standby = holder_and_standby()
    sampler, loop, connection = st.HolderSampler(VIP_DR), st.ClientLoop(VIP_DR), st.LongConnection(VIP_DR)
    for thread in (sampler, loop, connection):
        thread.start()
    connection.connected.wait(30)
    st.wait_until(lambda: len(loop.answers()) >= 10 and len(connection.answers) >= 5, timeout=30)
    fault = time.monotonic()
    if how == "crash":  # a node dies with its agent: SIGKILL, and its links go down
        stack.agent(holder).send(signal.SIGKILL)
        for device in ("eth0", "eth1"):
            sh(["ip", "-n", holder, "link", "set", device, "down"])
    else:
        stack.agent(holder).send(signal.SIGTERM)
    moved = st.wait_until(lambda: st.vip_holders(VIP_DR) == {standby}, timeout=60)
    st.wait_until(lambda: any(not a.startswith("ERR") for a in loop.answers(since=fault + moved)), timeout=30)
    time.sleep(2)
    for thread in (sampler, loop, connection):
        thread.stop()
    gap = loop.gap(fault)
    gaps[how] = gap
    print(f"{how}: {holder} -> {standby}; VIP moved after {moved:.2f} s; client gap {gap:.2f} s")
    return fault, sampler, connection, gap


def restart(stack: st.Stack, node: str, crashed: bool) -> None:
    """Bring a failed director back: a rebooted node has lost its addresses and IPVS state; a new agent starts."""
    if crashed:
        st.ipvsadm(node, "-C")
        for role in ("master", "backup"):
            sh(["ip", "netns", "exec", node, "ipvsadm", "--stop-daemon", role], check=False)
        for vip in (VIP_DR, VIP_NAT, GATEWAY):
            for device in ("eth0", "eth1"):
                sh(["ip", "-n", node, "addr", "del", f"{vip}/32", "dev", device], check=False)
        for device in ("eth0", "eth1"):
            sh(["ip", "-n", node, "link", "set", device, "up"])
        # a link taken down loses its routes, the default one too, and the agent puts the VIP on the interface
        # of the default route: without it the node, back as holder, would bind nothing
        sh(["ip", "-n", node, "route", "replace", "default", "via", f"{st.FRONT}.{st.ROUTER}"])
    stack.start_agent(node)
    st.wait_until(lambda: weight(node, f"{VIP_DR}:80", "10.9.0.11:80") is not None, timeout=300)
    time.sleep(2)  # its candidacy follows its first pass


def test_a_crashed_holder_loses_the_vip_and_an_established_dr_connection_survives(stack: st.Stack) -> None:
    holder, _ = holder_and_standby()
    fault, sampler, connection, gap = failover(stack, "crash")
    assert gap < CRASH_BOUND_S, f"traffic stopped for {gap:.2f} s"
    assert not sampler.overlaps(), f"both directors held the VIP: {sampler.overlaps()[:5]}"
    after = [answer for at, answer in connection.answers if at > fault + gap]
    print(f"long-lived connection: {len(connection.answers)} answers, {len(after)} after the failover, "
          f"error {connection.error}")  # fmt: skip
    assert connection.error is None and after, connection.error
    assert len({answer for _, answer in connection.answers}) == 1  # one connection, one real server
    restart(stack, holder, crashed=True)


def test_a_graceful_stop_hands_over_faster(stack: st.Stack) -> None:
    holder, _ = holder_and_standby()
    _, sampler, _, gap = failover(stack, "stop")
    print(f"gaps: SIGKILL+links down {gaps.get('crash', float('nan')):.2f} s, SIGTERM {gap:.2f} s")
    assert not sampler.overlaps(), f"both directors held the VIP: {sampler.overlaps()[:5]}"
    assert gap < gaps.get("crash", CRASH_BOUND_S)
    restart(stack, holder, crashed=False)


def test_a_backend_whose_server_dies_is_quiesced_and_comes_back(stack: st.Stack) -> None:
    holder, _ = holder_and_standby()
    service, dest = f"{VIP_DR}:80", "10.9.0.11:80"
    assert weight(holder, service, dest) == 1
    stack.children["http-rs1-80"].stop(signal.SIGKILL)
    took = st.wait_until(lambda: weight(holder, service, dest) == 0, timeout=QUIESCE_BOUND_S)
    print(f"rs1:80 quiesced after {took:.2f} s (bound {QUIESCE_BOUND_S} s)")
    assert set(st.requests_from_client(VIP_DR, 80, 4)) == {"rs2"}
    stack.start_server("rs1", 80)
    back = st.wait_until(lambda: weight(holder, service, dest) == 1, timeout=QUIESCE_BOUND_S)
    print(f"rs1:80 back after {back:.2f} s")
