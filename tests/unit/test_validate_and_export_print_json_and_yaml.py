"""``kubelvs validate -o json|yaml`` gives one result per object (ok, or its problems with field and message);
``kubelvs export -o json|yaml`` gives the planned IPVS state in ``kubelvs status -o json``'s shape, each line's
owner the CR it comes from, and no counters (only a kernel has them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubelvs import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BAD = """\
apiVersion: lvs.kubelvs.io/v1alpha1
kind: VirtualServer
metadata: {name: web, namespace: default}
spec: {address: 192.0.2.10, port: 70000, protocol: TCP}
---
apiVersion: lvs.kubelvs.io/v1alpha1
kind: RealServer
metadata: {name: web-1, namespace: default}
spec: {virtualServer: web, address: 198.51.100.1}
---
[not, a, mapping]
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = cli.main(list(argv))
    return status, capsys.readouterr().out


def test_validate_json_lists_every_object_as_ok(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _run(capsys, "validate", "-o", "json", str(EXAMPLES))
    result = json.loads(out)
    assert status == 0 and result["ok"] is True and result["problems"] == []
    kinds = {obj["kind"] for obj in result["objects"]}
    assert kinds == {"VirtualServer", "RealServer"}
    assert all(obj["ok"] and obj["problems"] == [] and "/" in obj["name"] for obj in result["objects"])


def test_validate_yaml_names_the_field_and_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    status, out = _run(capsys, "validate", "-o", "yaml", str(path))
    result = yaml.safe_load(out)
    assert status == 1 and result["ok"] is False
    by_name = {(obj["kind"], obj["name"]): obj for obj in result["objects"]}
    web = by_name[("VirtualServer", "default/web")]
    assert web["ok"] is False
    [problem] = [p for p in web["problems"] if p["field"] == "spec.port"]
    assert problem["source"] == str(path) and "70000" in problem["message"]
    assert by_name[("RealServer", "default/web-1")]["ok"] is False  # its VirtualServer is not in force
    [loose] = result["problems"]
    assert loose["field"] == "" and "mapping" in loose["message"]


def test_export_json_is_the_planned_state_with_owners(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = _run(capsys, "export", str(EXAMPLES))
    status_json, out = _run(capsys, "export", "-o", "json", str(EXAMPLES))
    services = json.loads(out)["services"]
    assert status == status_json == 0
    assert len(services) == lines.count("-A ")
    assert sum(len(s["destinations"]) for s in services) == lines.count("-a ")
    assert all(s["owner"].startswith("VirtualServer default/") for s in services)
    assert all(d["owner"].startswith("RealServer default/") for s in services for d in s["destinations"])
    assert all("stats" not in s for s in services)
    assert all("stats" not in d and "activeConns" not in d for s in services for d in s["destinations"])
    for service in services:  # each -A line is there, with its scheduler
        assert f"-s {service['scheduler']}" in lines
