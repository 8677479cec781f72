"""Every Helm key the READMEs name exists in values.schema.json (and a value they give with it renders), and every
port they say the chart serves is the values' default and what the rendered containers open and pass.

Helm keys are read where the READMEs write them: ``--set KEY=VALUE`` in sh blocks, "Helm `KEY`", and any
backticked ``a.b`` whose first part is a top-level key of the values (``config.*`` included). Ports are stated as
"port N (`KEY`)"; a number next to "chart" or "Helm" in another form fails, so a claim cannot dodge the check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import quick_start
import yaml

REPO = Path(__file__).resolve().parents[2]
READMES = [REPO / "README.md", REPO / "charts" / "kubelvs" / "README.md"]
SCHEMA = json.loads((REPO / "charts" / "kubelvs" / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((REPO / "charts" / "kubelvs" / "values.yaml").read_text())
TOP = set(SCHEMA["properties"])

SET = re.compile(r"--set[ =]'?(?P<key>[A-Za-z][\w.]*)=")
AFTER_HELM = re.compile(r"Helm\s+`(?P<key>[^`]+)`")
DOTTED = re.compile(r"`(?P<key>[a-z][A-Za-z0-9]*(?:\.(?:[A-Za-z0-9]+|\*))+)(?P<value>: [^`]+)?`")
PORT_CLAIM = re.compile(r"port (?P<port>\d+) \(`(?P<key>[\w.]+)`\)")
LOOSE_PORT = re.compile(r"\b(?:chart|Helm)\b[^.\n`]{0,40}?\b(?P<port>[1-9]\d{3,4})\b")


def mentions() -> list[tuple[str, str, str | None]]:
    """(where, key, value or None) of every Helm key the READMEs name."""
    found: list[tuple[str, str, str | None]] = []
    for path in READMES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(REPO)}:{number}"
            found += [(where, m["key"], None) for m in SET.finditer(line)]
            found += [(where, m["key"].split(":")[0].strip(), None) for m in AFTER_HELM.finditer(line)]
            for m in DOTTED.finditer(line):
                if m["key"].split(".")[0] in TOP:
                    value = m["value"][2:] if m["value"] else None
                    found.append((where, m["key"], value))
    return found


def schema_node(key: str) -> dict[str, Any] | None:
    node: dict[str, Any] = SCHEMA
    for part in key.split("."):
        if part == "*":
            return node if node.get("properties") else None
        child = (node.get("properties") or {}).get(part)
        if child is None:
            return None
        node = child
    return node


def test_the_readmes_name_helm_keys_at_all() -> None:
    keys = {key for _, key, _ in mentions()}
    assert {"config.vipPools", "ipvs.syncDaemon.*", "leaderElection.*", "agent.metricsPort"} <= keys


def test_every_helm_key_named_is_in_the_schema() -> None:
    unknown = [f"{where}: `{key}`" for where, key, _ in mentions() if schema_node(key) is None]
    assert not unknown, "keys values.schema.json does not have:\n" + "\n".join(unknown)


def test_every_value_given_with_a_key_renders(render) -> None:
    given = sorted({(key, value) for _, key, value in mentions() if value is not None and "*" not in key})
    assert given, "the READMEs give no key with a value"
    for key, value in given:
        values: dict[str, Any] = {}
        node = values
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
        render(values)  # helm's schema check and the templates; HelmError names the problem


def test_quick_start_sets_only_keys_of_the_schema(render) -> None:
    guide = quick_start.read()
    assert [key for key in guide.set_values() if schema_node(key) is None] == []


def default_of(key: str) -> Any:
    node: Any = DEFAULTS
    for part in key.split("."):
        node = node[part]
    return node


def port_claims() -> list[tuple[str, int, str]]:
    return [
        (f"{path.relative_to(REPO)}:{number}", int(m["port"]), m["key"])
        for path in READMES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for m in PORT_CLAIM.finditer(line)
    ]


def test_the_readmes_state_both_metrics_ports() -> None:
    assert {(port, key) for _, port, key in port_claims()} >= {
        (9641, "agent.metricsPort"),
        (9642, "operator.metricsPort"),
    }


@pytest.mark.parametrize(("where", "port", "key"), port_claims())
def test_a_port_the_readme_names_is_the_default_and_what_the_chart_opens(render, where, port, key) -> None:
    assert default_of(key) == port, f"{where}: {key} defaults to {default_of(key)}, the README says {port}"
    component = key.split(".")[0]
    guide = quick_start.read()
    rendered = render(_nested(guide.set_values()))
    container = rendered.container("DaemonSet" if component == "agent" else "Deployment", f"-{component}")
    opened = [p["containerPort"] for p in container["ports"]]
    assert port in opened, f"{where}: the {component} container opens {opened}, not {port}"
    passed = [arg for arg in container["args"] if re.search(rf"[=:]{port}\b", arg)]
    assert passed, f"{where}: no argument of the {component} makes it listen on {port}"


def test_no_port_is_named_next_to_the_chart_without_its_key() -> None:
    loose = []
    for path in READMES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            claimed = {m["port"] for m in PORT_CLAIM.finditer(line)}
            loose += [
                f"{path.name}:{number}: {m['port']}" for m in LOOSE_PORT.finditer(line) if m["port"] not in claimed
            ]
    assert not loose, "write a chart's port as `port N (`key`)` so it is checked:\n" + "\n".join(loose)


def _nested(flat: dict[str, str]) -> dict[str, Any]:
    """``--set`` flags as a values tree (helm's ``{a,b}`` list syntax understood)."""
    values: dict[str, Any] = {}
    for key, raw in flat.items():
        node = values
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = raw[1:-1].split(",") if raw.startswith("{") and raw.endswith("}") else raw
    return values
