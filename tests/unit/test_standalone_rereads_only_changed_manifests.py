"""The standalone agent keeps its manifests loaded: an edit re-parses one document and writes one op."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from reconciling import Node

from kubelvs.agent.manifest_files import ManifestFiles
from kubelvs.agent.options import StandaloneOptions as Options
from kubelvs.agent.standalone import ManifestSource, StandaloneAgent
from kubelvs.api import manifests
from kubelvs.netstate import EditDestination
from kubelvs.planner import NodeFacts, Planner

API = "lvs.kubelvs.io/v1alpha1"


def obj(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def world(weight: int = 1) -> list[dict[str, Any]]:
    return [
        obj("VirtualServer", "web", address="192.0.2.100", port=80),
        *[
            obj("RealServer", f"web-{i}", virtualServer="web", address=f"10.9.0.{i}", weight=i)
            for i in range(1, 4)
        ],
        obj("RealServer", "web-9", virtualServer="web", address="10.9.0.9", weight=weight),
        obj("VirtualServer", "api", address="192.0.2.101", port=443),
        obj("RealServer", "api-1", virtualServer="api", address="10.9.1.1", port=443),
    ]


def write(path: Path, objects: list[dict[str, Any]]) -> None:
    """Replace the file (write beside, rename), with a later mtime than the file had."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    os.replace(temporary, path)
    stamp = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(stamp, stamp))


class Kept:
    """Kept manifests as the standalone agent keeps them: the files, fed change by change into a planner."""

    def __init__(self, paths: list[str]) -> None:
        self.files = ManifestFiles(paths)
        self.source = ManifestSource(self.files, {})
        self.planner = Planner()

    def refresh(self) -> None:
        self.source.feed(self.planner)


def same_as_load(kept: Kept, paths: list[str]) -> None:
    loaded = manifests.load(paths)
    kept.refresh()
    kept.planner.plan(NodeFacts("n"), ())
    virtual_servers, real_servers = kept.planner.in_force()
    assert sorted(v.key for v in virtual_servers) == sorted(v.key for v in loaded.virtual_servers)
    assert sorted(r.model_dump_json() for r in real_servers) == sorted(
        r.model_dump_json() for r in loaded.real_servers
    )
    assert sorted(map(str, kept.source.findings(kept.planner))) == sorted(map(str, loaded.findings))


BAD = [
    obj("VirtualServer", "twin", address="192.0.2.100", port=80),  # claims web's service
    obj("RealServer", "twin-1", virtualServer="twin", address="10.9.2.1"),
    obj("RealServer", "orphan", virtualServer="nowhere", address="10.9.3.1"),
    obj("RealServer", "dup", virtualServer="web", address="10.9.0.1", weight=5),  # web-1's address again
    obj("VirtualServer", "broken", address="192.0.2.7", port=70000),
    obj("RealServer", "broken-1", virtualServer="broken", address="10.9.4.1"),
    obj("RealServer", "remap", virtualServer="web", address="10.9.0.20", port=8080),  # dr cannot remap
]


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param([], id="first-read"),
        pytest.param([world(weight=7)], id="one-weight"),
        pytest.param([world() + BAD], id="bad-objects-added"),
        pytest.param([world() + BAD, world()], id="bad-objects-removed-again"),
        pytest.param([[o for o in world() if o["metadata"]["name"] != "web"]], id="parent-removed"),
        pytest.param([[o for o in world() if o["metadata"]["name"] != "web"], world()], id="parent-back"),
    ],
)
def test_kept_manifests_agree_with_a_fresh_load(tmp_path: Path, edits: list[list[dict[str, Any]]]) -> None:
    path = tmp_path / "all.yaml"
    write(path, world())
    (tmp_path / "other.yaml").write_text(
        yaml.safe_dump_all([obj("RealServer", "api-2", virtualServer="api", address="10.9.1.2", port=443)])
    )
    kept = Kept([str(tmp_path)])
    kept.refresh()
    for objects in edits:
        write(path, objects)
        kept.refresh()
    same_as_load(kept, [str(tmp_path)])


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


DOCS = [dump([o]) for o in world()]
ANNOTATED = dump(
    [obj("VirtualServer", "notes", address="192.0.2.9", port=80) | {"metadata": {"name": "notes"}}]
).replace("kind: VirtualServer\n", "kind: VirtualServer\n# a comment line\n")
NOT_A_MARKER = "\n".join(  # a block scalar whose lines start with --- but are no document markers
    [
        DOCS[0].rstrip("\n"),
        "---",
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: {name: text}",
        "data:",
        "  text: |",
        "---x is not a marker",
        "----- nor is this",
        "",
    ]
)


@pytest.mark.parametrize(
    "texts",
    [
        pytest.param(["---\n".join(DOCS + DOCS[-1:]), "---\n".join(DOCS)], id="one-copy-of-a-repeat-removed"),
        pytest.param(["---\n".join(DOCS), "---\n".join(DOCS[::-1])], id="documents-reordered"),
        pytest.param(["---\n".join(DOCS), "---\n".join([ANNOTATED, *DOCS])], id="inserted-at-the-start"),
        pytest.param(["---\n".join(DOCS), "---\n".join(DOCS[:-1])], id="removed-at-the-end"),
        pytest.param(["---\n".join(DOCS), "---\n" + "---\n".join(DOCS)], id="leading-marker-added"),
        pytest.param(["---\n".join(DOCS), NOT_A_MARKER, "---\n".join(DOCS)], id="not-a-marker-and-back"),
        pytest.param(["---\n".join(DOCS), "---\n".join(DOCS).replace("weight: 2", "weight: 3")], id="one-value"),
    ],
)
def test_kept_manifests_agree_with_a_fresh_load_after_text_edits(tmp_path: Path, texts: list[str]) -> None:
    path = tmp_path / "all.yaml"
    kept = Kept([str(tmp_path)])
    for number, text in enumerate(texts):
        path.write_text(text)
        os.utime(path, ns=(number * 1_000_000_000, number * 1_000_000_000))  # a new stamp per edit
        kept.refresh()
    same_as_load(kept, [str(tmp_path)])


def test_one_weight_edit_puts_only_that_real_server(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    write(path, world())
    files = ManifestFiles([str(path)])
    first, _ = files.refresh()
    assert len(first.put) == 7
    write(path, world(weight=5))
    changes, findings = files.refresh()
    assert [(o.key, o.spec.weight) for o in changes.put] == [("default/web-9", 5)] and not changes.removed
    assert not findings
    unchanged, _ = files.refresh()
    assert not unchanged


def test_a_file_edit_reaches_the_kernel_as_one_op(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    write(path, world())
    node = Node.new()
    agent = StandaloneAgent(Options((str(path),), "dir1", {}, (), None, 30.0, 300.0, (0, 0, 0)), node.kernel())
    agent.run_pass(full=True)
    node.ipvs.applied.clear()
    write(path, world(weight=6))
    findings, outcome = agent.run_pass(full=False)
    assert findings == 0 and outcome.total_writes == 1
    assert [type(op) for op in node.ipvs.applied] == [EditDestination]
    assert [d.weight for k, d in node.ipvs.dests.items() if k.address == "10.9.0.9"] == [6]
    assert agent.run_pass(full=False)[1].total_writes == 0
