"""P6: memory of a standalone agent holding 10,000 destinations, measured in the VM after its full sync.

The agent is the real ``kubelvs agent --standalone`` process, watching one YAML file of the P1 workload
(1,000 VirtualServers, 10,000 RealServers), started on an empty IPVS table with a dummy interface for its
VIPs (standalone, it holds every director group, so it binds the 1,000 VIPs too). Once its first pass is
logged, its VmRSS and VmHWM (peak) are read from /proc. The same running agent then serves P3's file-edit
path. Goal: RSS < 150 MB.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
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


def run(lab: Lab, workdir: Path) -> dict[str, dict[str, Any]]:
    """Figures for P6 and for P3's agent path."""
    if lab.why_not:
        reason = f"not measured: {lab.why_not}"
        return {"P6": {"kubelvs": reason}, "P3-agent": {"kubelvs": reason}}
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
        agent_path = p3_weight_change.through_agent(lab, manifest)
        after = memory_of(agent.pid)
        figures["rss_mb_after_edits"] = after["VmRSS"]
        figures["peak_rss_mb_after_edits"] = after["VmHWM"]
        return {"P6": figures, "P3-agent": agent_path}
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


if __name__ == "__main__":
    import guest

    guest.main(["P6"])
