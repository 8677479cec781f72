"""``kubelvs status`` reads the live table through the netlink adapter: after ``ipvsadm -R`` of the
export, every exported service and real server is listed with the CR that owns it; foreign lines show ``-``.
Its columns are ipvsadm's (-Ln, --stats, --rate), its counters the kernel's own, and ``-o json`` holds them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from netns import LvsTopology, Namespace, Netns

from kubelvs import cli
from kubelvs.testbed.namespaces import inside

REPO = Path(__file__).resolve().parents[2]


def test_status_lists_exported_rules_with_owners(netns: Netns, capsys: pytest.CaptureFixture[str]) -> None:
    examples = str(REPO / "examples")
    capsys.readouterr()
    assert cli.main(["export", examples]) == 0
    exported = capsys.readouterr().out
    ns = netns.namespace("status")
    foreign = "-A -t 198.51.100.200:8080 -s rr\n-a -t 198.51.100.200:8080 -r 198.51.100.201:8080 -m -w 1\n"
    subprocess.run(
        ["ip", "netns", "exec", ns.name, "ipvsadm", "-R"],
        input=exported + foreign,
        text=True,
        check=True,
        timeout=120,
    )
    with inside(ns.name):
        status = cli.main(["status", "--manifests", examples])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    service_lines = [line for line in out[2:] if not line.startswith("  ->")]
    assert len(service_lines) == exported.count("-A ") + 1
    owned = [line for line in service_lines if "VirtualServer default/" in line]
    assert len(owned) == exported.count("-A ")
    dest_lines = [line for line in out[2:] if line.startswith("  ->")]
    assert sum("RealServer default/" in line for line in dest_lines) == exported.count("-a ")
    [foreign_line] = [line for line in service_lines if line.startswith("TCP  198.51.100.200:8080")]
    assert foreign_line.endswith("  -")


def _ipvsadm_listing(ns: Namespace, option: str) -> list[str]:
    """``ipvsadm -Ln [option]`` after its version banner, trailing blanks cut."""
    lines = ns.exec("ipvsadm", "-Ln", *([option] if option else [])).stdout.splitlines()[1:]
    return [line.rstrip() for line in lines]


def _status(ns: str, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    with inside(ns):
        assert cli.main(["status", *argv]) == 0
    return capsys.readouterr().out


def test_status_columns_and_counters_are_the_kernels(lvs: LvsTopology, capsys: pytest.CaptureFixture[str]) -> None:
    """Settings as ``ipvsadm -Ln`` prints them, counters as ``ipvsadm -Ln --stats`` does, and the service's
    counters are the kernel's own: after its destination is deleted the service keeps what it counted."""
    director, vip = lvs.directors[0], lvs.vip
    rs1, rs2 = (lvs.address(ns) for ns in lvs.real_servers)
    director.address("eth0", f"{vip}/32")  # the client's datagrams reach the director; nobody needs to answer
    rules = (
        f"-A -u {vip}:53 -s rr\n-a -u {vip}:53 -r {rs1}:53 -g -w 2\n-a -u {vip}:53 -r {rs2}:53 -g -w 0\n"
        f"-A -t {vip}:443 -s sh -p 600 -M 255.255.255.0 -b sh-port\n-a -t {vip}:443 -r {rs1}:443 -m -w 3\n"
    )
    subprocess.run(["ip", "netns", "exec", director.name, "ipvsadm", "-R"], input=rules, text=True, check=True)
    lvs.client.udp_ask(vip, 53, count=4, timeout=0.5)  # four new connections, all to rs1 (rs2 has weight 0)
    director.exec("ipvsadm", "-d", "-u", f"{vip}:53", "-r", f"{rs1}:53")

    for option in ("", "--stats", "--rate"):
        # the kernel's rate estimator ticks every 2 s: ours must equal ipvsadm's read just before or just after
        before = _ipvsadm_listing(director, option)
        ours = _status(director.name, capsys, *([option] if option else [])).splitlines()
        after = _ipvsadm_listing(director, option)
        assert ours[0].removesuffix("  Owner") == before[0] == after[0]
        assert all(line.endswith("  -") for line in ours[2:])  # no manifests, no agent's record: nobody's
        assert [line.removesuffix("  -").rstrip() for line in ours[1:]] in (before[1:], after[1:]), option

    data = json.loads(_status(director.name, capsys, "-o", "json"))
    by_name = {service["service"]: service for service in data["services"]}
    udp, tcp = by_name[f"UDP {vip}:53"], by_name[f"TCP {vip}:443"]
    exact = director.exec("ipvsadm", "-Ln", "--stats", "--exact", "-u", f"{vip}:53").stdout.splitlines()
    assert exact[2].split()[:4] == ["UDP", f"{vip}:53", "4", "4"]  # ipvsadm's own word on the service's counters
    assert udp["stats"]["conns"] == 4 and udp["stats"]["inpkts"] == 4
    [left] = udp["destinations"]
    assert (left["address"], left["weight"], left["stats"]["conns"]) == (rs2, 0, 0)
    assert tcp["scheduler"] == "sh" and tcp["flags"] == ["sh-port"]
    assert tcp["persistence"] == {"timeout": 600, "netmask": "255.255.255.0"}
    assert [(d["forward"], d["weight"]) for d in tcp["destinations"]] == [("Masq", 3)]
    assert tcp["owner"] is None and tcp["stats"]["conns"] == 0


def test_status_without_privilege_says_so_in_one_line(lvs: LvsTopology) -> None:
    """The IPVS family is there, but its dumps need CAP_NET_ADMIN: one line that says so, ipvsadm's exit 2."""
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    done = lvs.directors[0].exec(*nobody, sys.executable, "-m", "kubelvs.cli", "status", check=False, timeout=900)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("kubelvs status: ") and line.endswith(": run as root or with CAP_NET_ADMIN")
