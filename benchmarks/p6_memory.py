"""P6: memory of a standalone agent holding 10,000 destinations, measured in the VM after its full sync.

The agent is the real ``kubelvs agent --standalone`` process, watching one YAML file of the P1 workload
(1,000 VirtualServers, 10,000 RealServers), started on an empty IPVS table with a dummy interface for its
VIPs (standalone, it holds every director group, so it binds the 1,000 VIPs too). Once its first pass is
logged, its VmRSS and VmHWM (peak) are read from /proc. The same running agent then serves P3's file-edit
path. Goal: RSS < 150 MB.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipvsadm_tool
import p3_weight_change
import workload
from lab import Lab
from measure import memory_of

logger = logging.getLogger(__name__)

GOAL_MB = 150.0
FIRST_PASS_TIMEOUT_S = 3600.0


def prepare_interface() -> None:
    subprocess.run(["ip", "link", "add", workload.VIP_INTERFACE, "type", "dummy"], check=False)
    subprocess.run(["ip", "link", "set", workload.VIP_INTERFACE, "up"], check=True)


def start_agent(manifest: Path, workdir: Path, log: Path) -> subprocess.Popen[str]:
    argv = [
        sys.executable, "-m", "kubelvs.cli", "agent", "--standalone",
        "--manifests", str(manifest),
        "--node", workload.NODE,
        "--node-labels", ",".join(f"{k}={v}" for k, v in workload.DIRECTOR_LABELS.items()),
        "--state-file", str(workdir / "owned.json"),
        "--resync-period", "1h",  # only file changes start a pass while we measure
        "--drain-timeout", "0",
    ]  # fmt: skip
    with log.open("w") as handle:
        return subprocess.Popen(argv, stderr=handle, stdout=handle, text=True)


def passes(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "pass over" in line]


def run(lab: Lab, workdir: Path, put: Callable[[str, dict[str, Any]], None]) -> None:
    """Figures for P6, then for P3's agent path, each handed to ``put`` as soon as it is measured."""
    if lab.why_not:
        reason = f"not measured: {lab.why_not}"
        put("P6", {"kubelvs": reason})
        put("P3-agent", {"kubelvs": reason})
        return
    manifest = workload.write_yaml(workdir / "workload.yaml", lab.objects)
    prepare_interface()
    ipvsadm_tool.clear()
    log = workdir / "agent.log"
    start = time.perf_counter()
    agent = start_agent(manifest, workdir, log)
    try:
        while not passes(log):
            if agent.poll() is not None:
                raise RuntimeError(f"the agent exited {agent.returncode}: {log.read_text()[-2000:]}")
            if time.perf_counter() - start > FIRST_PASS_TIMEOUT_S:
                raise RuntimeError("the agent's first pass did not finish")
            time.sleep(0.5)
        first_pass = time.perf_counter() - start
        memory = memory_of(agent.pid)
        table = len(ipvsadm_tool.saved_lines())
        figures: dict[str, Any] = {
            "measured": "standalone agent process in the VM, after its first full pass",
            "destinations": lab.services * lab.dests,
            "table_lines": table,
            "first_pass_s": first_pass,
            "first_pass_log": passes(log)[0].split(": ", 1)[-1],
            "rss_mb": memory["VmRSS"],
            "peak_rss_mb": memory["VmHWM"],
            "goal": f"RSS < {GOAL_MB:.0f} MB",
            "met": memory["VmRSS"] < GOAL_MB,
        }
        put("P6", figures)  # before the edits: under emulation each of them can take minutes
        agent_path = p3_weight_change.through_agent(lab, manifest, log)
        after = memory_of(agent.pid)
        agent_path["agent_rss_mb_after_edits"] = after["VmRSS"]
        agent_path["agent_peak_rss_mb_after_edits"] = after["VmHWM"]
        put("P3-agent", agent_path)
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def host_run(workdir: Path) -> dict[str, Any]:
    """The same measure without a kernel: a fresh process loads the manifest as the agent does, plans, and
    reconciles into the in-memory gateways of ``tests/unit/fakes.py`` (which then hold the table, as the kernel
    would, so they are counted too). Reported beside the VM figure, for when the VM run cannot finish."""
    services, dests = workload.sizes()
    manifest = workload.write_yaml(workdir / "workload-host.yaml", workload.manifests(services, dests))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--host-child", str(manifest)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures.update(
        measured="host process: manifests.load + plan + reconcile into in-memory gateways (no kernel)",
        destinations=services * dests,
        goal=f"RSS < {GOAL_MB:.0f} MB",
        met=figures["rss_mb"] < GOAL_MB,
    )
    return figures


def host_child(manifest: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
    import fakes  # type: ignore[import-not-found]  # tests/unit, put on the path above

    from kubelvs.agent.draining import Drainer
    from kubelvs.agent.ownership import Store
    from kubelvs.agent.reconciler import Kernel, Reconciler
    from kubelvs.api import manifests
    from kubelvs.planner import plan

    kernel = Kernel(
        fakes.FakeIpvs(),
        fakes.FakeAddresses(),
        fakes.FakeSysctls(),
        fakes.FakeTunnel(),
        fakes.FakePolicyRoutes(),
        fakes.FakePacketRules(),
        fakes.FakeAnnouncements(),
    )
    loaded = manifests.load([str(manifest)])
    state = plan(loaded.virtual_servers, loaded.real_servers, workload.facts(), set()).state
    outcome = Reconciler(kernel, Store(None), Drainer(0.0)).reconcile(state)
    memory = memory_of(os.getpid())
    print(json.dumps({"rss_mb": memory["VmRSS"], "peak_rss_mb": memory["VmHWM"], "writes": outcome.total_writes}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--host-child"]:
        host_child(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["--host"]:
        out = Path(sys.argv[2])
        text = json.dumps(host_run(out), indent=1)
        (out / "p6-host.json").write_text(text)
        print(text)
    else:
        import guest

        guest.main(["P6"])
