"""``kubelvs status`` reads the live table through the netlink adapter: after ``ipvsadm -R`` of the
export, every exported service and real server is listed with the CR that owns it; foreign lines show ``-``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from netns import Netns

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
