"""Turn one run's figures (guest ``results.json`` + host ``p5.json``) into a table and ``RESULTS.md``.

``python report.py OUTDIR [--write RESULTS.md]``. Every number comes from that one run; a goal that is missed
says so, and a side that could not run says why instead of showing a number.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("benchmark", "goal", "kube-lvs", "baseline", "ratio / figure", "met")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def s(value: Any) -> str:
    """Seconds, in the unit that reads best."""
    if not isinstance(value, int | float) or math.isnan(value):
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def met(figures: dict[str, Any]) -> str:
    if "error" in figures:
        return "**error**"
    if "met" not in figures:
        return "not measured"
    return "yes" if figures["met"] else "**NO**"


def missing(figures: dict[str, Any]) -> str | None:
    """Why there is no kube-lvs number, if there is none."""
    if not figures:
        return "no figures: not run in this run (not selected, or the VM stopped first; see the run's log)"
    if "error" in figures:
        return f"error: {figures['error']}"
    value = figures.get("kubelvs")
    return value if isinstance(value, str) else None


def _p4_met(goal: float | None, silence: float | None) -> str:
    if goal is None:
        return "-"
    if silence is None:
        return "not measured"
    return "yes" if silence <= goal else "**NO**"


def rows(
    guest: dict[str, Any],
    host: dict[str, Any],
    host_p6: dict[str, Any] | None = None,
    p3_host: dict[str, Any] | None = None,
    p7_host: dict[str, Any] | None = None,
) -> list[Row]:
    out: list[Row] = []
    p1 = guest.get("P1", {})
    why = missing(p1)
    out.append(
        (
            f"P1 full sync {p1.get('services', '?')} svc / {p1.get('destinations', '?')} dests",
            "<= 1.0x ipvsadm -R",
            why
            or f"{s(p1.get('kubelvs_total_s'))} (plan {s(p1.get('kubelvs_plan_s'))} + "
            f"reconcile {s(p1.get('kubelvs_reconcile_s'))}; {p1.get('kubelvs_netlink_ops')} ops in "
            f"{p1.get('kubelvs_apply_calls')} apply; same table: {p1.get('kubelvs_table_matches')})",
            f"ipvsadm -R {s(p1.get('ipvsadm_restore_s'))} (same table: {p1.get('ipvsadm_table_matches')})",
            f"{p1['ratio']:.2f}x" if "ratio" in p1 else "n/a",
            met(p1),
        )
    )
    p2 = guest.get("P2", {})
    why = missing(p2)
    out.append(
        (
            "P2 no-op resync",
            "0 writes, <= 2x ipvsadm -Ln",
            why
            or f"{p2.get('kubelvs_writes')} writes, {p2.get('kubelvs_netlink_ops')} netlink ops; "
            f"{s(p2.get('kubelvs_total_s'))} (plan {s(p2.get('kubelvs_plan_s'))}, reconcile "
            f"{s(p2.get('kubelvs_reconcile_s'))}; table read {s(p2.get('read_services_s'))} + "
            f"{s(p2.get('read_destinations_s'))})",
            f"ipvsadm -Ln {s(p2.get('ipvsadm_ln_s'))}",
            f"{p2['ratio']:.2f}x" if "ratio" in p2 else "n/a",
            met(p2),
        )
    )
    p3 = guest.get("P3", {})
    why = missing(p3)
    out.append(
        (
            "P3 one weight change (reconciler, in VM)",
            "1 netlink write, p99 < 200 ms",
            why
            or f"ops/change {p3.get('netlink_ops_per_change')}, services read/change "
            f"{p3.get('services_read_per_change', '?')}; write acked p50 {s(p3.get('acked_p50_s'))} "
            f"p99 {s(p3.get('acked_p99_s'))} ({p3.get('samples')} samples)",
            f"visible in ipvsadm -Ln: p50 {s(p3.get('visible_p50_s'))} p99 {s(p3.get('visible_p99_s'))}",
            f"p99 {s(p3.get('acked_p99_s'))}",
            met(p3),
        )
    )
    p3a = guest.get("P3-agent") or p3.get("agent") or {}
    why = missing(p3a)
    out.append(
        (
            "P3 one weight change (standalone agent, file edit, in VM)",
            "p99 < 200 ms",
            why
            or f"write acked (agent's log) p50 {s(p3a.get('written_p50_s'))} p99 {s(p3a.get('written_p99_s'))} "
            f"({p3a.get('samples')} samples after one warm-up edit: {s(p3a.get('warm_up_written_s'))})",
            f"visible in ipvsadm -Ln: p50 {s(p3a.get('p50_s'))} p99 {s(p3a.get('p99_s'))}",
            f"p99 {s(p3a.get('written_p99_s'))}",
            met(p3a),
        )
    )
    if p3_host:
        out.append(
            (
                f"P3 one weight change, CR -> in-cluster agent (host, {p3_host.get('destinations', '?')} dests)",
                "1 write, p99 < 200 ms",
                f"p50 {s(p3_host.get('p50_s'))} p99 {s(p3_host.get('p99_s'))}; ops/change "
                f"{p3_host.get('netlink_ops_per_change')} ({p3_host.get('samples')} samples; API emulator over "
                f"HTTP, PATCH round trip p50 {s(p3_host.get('patch_round_trip_p50_s'))}, agent passes at "
                f"most every {s(p3_host.get('agent_min_pass_interval_s'))}; in-memory kernel gateways)"
                if "error" not in p3_host
                else f"error: {p3_host['error']}",
                "-",
                f"p99 {s(p3_host.get('p99_s'))}",
                met(p3_host),
            )
        )
    p4 = guest.get("P4", {})
    if "error" in p4:
        out.append(("P4 failover", "-", "-", f"error: {p4['error']}", "-", "**error**"))
    elif not p4:
        out.append(("P4 failover", "-", str(missing(p4)), "-", "-", "not measured"))
    # Goals from the issue: a crashed holder within 2 s, a graceful handover within 0.5 s (longest silence).
    # A SIGKILLed daemon leaves the VIP and rules on a node that goes on forwarding: no failover goal there.
    p4_goals: dict[str, float | None] = {"stop": 0.5, "sigkill": None, "node-lost": 2.0}
    for kind, goal in p4_goals.items():
        figures = p4.get(f"keepalived_{kind}")
        ours = p4.get(f"kubelvs_{kind}")
        if not figures and not ours:
            continue
        theirs = (
            f"{p4.get('baseline', 'keepalived')}: {figures['failed']} failed, {figures['delayed']} delayed "
            f"(>0.5 s) of {figures['requests_after_fault']}; longest without answer "
            f"{s(figures['longest_without_answer_s'])}; VIP on backup after {s(figures['vip_on_backup_after_s'])}"
            if figures
            else "-"
        )
        mine = (
            f"{ours['failed']} failed, {ours['delayed']} delayed (>0.5 s) of {ours['requests_after_fault']}; "
            f"longest without answer {s(ours['longest_without_answer_s'])}; VIP on backup after "
            f"{s(ours['vip_on_backup_after_s'])} ({p4.get('kubelvs_timings', '')})"
            if ours
            else str(p4.get("kubelvs", "not measured"))
        )
        silence = ours["longest_without_answer_s"] if ours else None
        out.append(
            (
                f"P4 failover, holder {kind}",
                f"longest without answer <= {goal:g} s" if goal else "(daemon killed, node alive)",
                mine,
                theirs,
                f"longest without answer {s(silence)}" if ours else "-",
                _p4_met(goal, silence),
            )
        )
    p5 = host
    if p5:
        out.append(
            (
                f"P5 health, {p5.get('targets')} {p5.get('checker')} targets at 1 s (host)",
                p5.get("goal", ""),
                f"CPU {p5['cpu_share_of_one_core']:.1%} of one core; detection p50 "
                f"{s(p5['detection_p50_s'])} max {s(p5['detection_max_s'])} ({p5['killed']} killed, "
                f"{p5['undetected']} undetected, {p5['false_downs']} false downs; event-loop lag p99 "
                f"{s(p5.get('loop_lag_p99_s'))}, host load {p5.get('host_loadavg_1m', 0):.1f})",
                "-",
                f"CPU {p5['cpu_share_of_one_core']:.1%}",
                met(p5),
            )
            if "error" not in p5
            else ("P5 health", "-", f"error: {p5['error']}", "-", "-", "**error**")
        )
    p6 = guest.get("P6", {})
    why = missing(p6)
    out.append(
        (
            f"P6 agent memory, {p6.get('destinations', '?')} destinations (VM)",
            "RSS < 150 MB",
            why
            or f"RSS {p6.get('rss_mb', 0):.0f} MB, peak {p6.get('peak_rss_mb', 0):.0f} MB after its first pass "
            f"({s(p6.get('first_pass_s'))} incl. start-up and YAML)",
            "-",
            f"{p6.get('rss_mb', 0):.0f} MB",
            met(p6),
        )
    )
    if host_p6:
        out.append(
            (
                f"P6 memory, {host_p6.get('destinations')} destinations (host, no kernel)",
                "RSS < 150 MB",
                f"RSS {host_p6['rss_mb']:.0f} MB, peak {host_p6['peak_rss_mb']:.0f} MB: manifests.load + plan + "
                "reconcile into in-memory gateways",
                "-",
                f"{host_p6['rss_mb']:.0f} MB",
                met(host_p6),
            )
        )
    if p7_host:
        out.append(p7_row(p7_host))
    if "P7" in guest:
        out.append(p7_vm_row(guest["P7"]))
    return out


def table(found: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in found]
    return "\n".join(lines)


def machine(guest: dict[str, Any], outdir: Path) -> list[str]:
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    info = load(outdir / "machine.json")
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {commit.stdout.strip() or '?'}",
        f"- host: `nproc` {os.cpu_count()}, {int(memory) // 1024} MiB memory, kernel {platform.release()}, "
        f"load average at start {info.get('loadavg', '?')} (shared machine: figures are noisy)",
        f"- VM: kernel {guest.get('setup', {}).get('kernel', '?')}, "
        f"{'KVM' if os.environ.get('KUBELVS_VM_KVM') == '1' else 'TCG (software emulation, roughly 5-10x slower)'}"
        f", {info.get('vm_cpus', '2')} vCPUs, {info.get('vm_memory', '1G')} memory",
    ]


def notes(outdir: Path) -> list[str]:
    """Whatever the person running the benchmarks wrote about this run (``OUTDIR/notes.md``), verbatim."""
    path = outdir / "notes.md"
    return [path.read_text().strip(), ""] if path.exists() else []


def p7_row(p7: dict[str, Any]) -> Row:
    title = f"P7 Service endpoints churn -> in-cluster agent (host, {p7.get('destinations', '?')} dests)"
    goal = "2 writes per replaced endpoint, p99 < 100 ms, CPU < 25%"
    if "error" in p7:
        return (title, goal, f"error: {p7['error']}", "-", "-", "**error**")
    share = p7.get("agent_cpu_share_of_one_core")
    cpu = f"{share:.1%}" if isinstance(share, float) else "n/a"
    figure = (
        f"{p7.get('endpoints_replaced')} endpoints replaced in {p7.get('slice_patches')} slice PATCHes over "
        f"{p7.get('seconds')} s: {p7.get('writes_per_replaced_endpoint', 0):.2f} writes each, slice write -> "
        f"destination added p50 {s(p7.get('p50_s'))} p99 {s(p7.get('p99_s'))} ({p7.get('never_added')} never "
        f"added); agent CPU {cpu} of one core ({p7.get('passes')} passes; API emulator, in-memory kernel)"
    )
    return (title, goal, figure, "-", f"p99 {s(p7.get('p99_s'))}, CPU {cpu}", met(p7))


def p7_vm_row(p7: dict[str, Any]) -> Row:
    title = f"P7 Service endpoints churn -> standalone agent (VM, {p7.get('destinations', '?')} dests)"
    goal = "2 writes per replaced endpoint, p99 < 100 ms (the host's, on an emulated CPU)"
    if "error" in p7:
        return (title, goal, f"error: {p7['error']}", "-", "-", "**error**")
    share = p7.get("agent_cpu_share_of_one_core")
    cpu = f"{share:.1%}" if isinstance(share, float) else "n/a"
    figure = (
        f"{p7.get('endpoints_replaced')} endpoints replaced over {p7.get('seconds')} s: "
        f"{p7.get('writes_per_replaced_endpoint', 0):.2f} writes each, slice file replaced -> destination in the "
        f"kernel p50 {s(p7.get('p50_s'))} p99 {s(p7.get('p99_s'))} ({p7.get('never_added')} never added; the "
        f"observer sweeps in {s(p7.get('observer_sweep_p50_s'))}); agent CPU {cpu} of one TCG core"
    )
    return (title, goal, figure, "-", f"p99 {s(p7.get('p99_s'))}, CPU {cpu}", met(p7))


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    guest, host = load(outdir / "results.json"), load(outdir / "p5.json")
    host_p6 = load(outdir / "p6-host.json")
    p3_host = load(outdir / "p3-host.json")
    p7_host = load(outdir / "p7-host.json")
    found = rows(guest, host, host_p6, p3_host, p7_host)
    text = table(found)
    print(text)
    if len(argv) > 2 and argv[1] == "--write":
        body = [
            "# Benchmark results",
            "",
            "Written by `benchmarks/run` from one run; see `benchmarks/README.md` for what each figure means.",
            "",
            *machine(guest, outdir),
            "",
            text,
            "",
            *notes(outdir),
            "Raw figures of this run:",
            "",
            "```json",
            json.dumps(
                {"guest": guest, "host P3": p3_host, "host P5": host, "host P6": host_p6, "host P7": p7_host},
                indent=1,
                sort_keys=True,
            ),
            "```",
            "",
        ]
        Path(argv[2]).write_text("\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
