"""Chart.yaml's metadata and Artifact Hub annotations say what the chart ships: its CRDs (the files it renders),
valid example objects, the image it pulls by default, and links; the Makefile builds and pushes that image."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from kubelvs import cli
from kubelvs.api.vip_pools import VIPPool


@pytest.fixture(scope="module")
def chart_yaml(chart_dir) -> dict:
    return yaml.safe_load((chart_dir / "Chart.yaml").read_text())


def annotation(chart_yaml: dict, name: str):
    return yaml.safe_load(chart_yaml["annotations"][f"artifacthub.io/{name}"])


def test_chart_names_home_sources_maintainers_and_kube_version(chart_yaml) -> None:
    assert chart_yaml["home"].startswith("https://") and chart_yaml["sources"]
    assert all(m["name"] for m in chart_yaml["maintainers"])
    assert chart_yaml["kubeVersion"].startswith(">=1.28")
    assert annotation(chart_yaml, "license") == "Apache-2.0"
    assert annotation(chart_yaml, "prerelease") in ("true", True)
    assert all(link["url"].startswith("https://") for link in annotation(chart_yaml, "links"))
    assert all(change["kind"] in {"added", "changed", "deprecated", "removed", "fixed", "security"}
               for change in annotation(chart_yaml, "changes"))  # fmt: skip


def test_crds_annotation_lists_exactly_the_shipped_crds(chart_yaml, chart_dir) -> None:
    shipped = [yaml.safe_load(p.read_text()) for p in sorted((chart_dir / "files" / "crds").glob("*.yaml"))]
    expected = {
        (c["spec"]["names"]["kind"], c["spec"]["versions"][0]["name"], c["metadata"]["name"]) for c in shipped
    }
    listed = {(c["kind"], c["version"], c["name"]) for c in annotation(chart_yaml, "crds")}
    assert listed == expected


def test_crd_examples_are_valid_objects(chart_yaml, tmp_path, capsys) -> None:
    examples = annotation(chart_yaml, "crdsExamples")
    assert {e["kind"] for e in examples} == {"VirtualServer", "RealServer", "VIPPool"}
    for pool in (e for e in examples if e["kind"] == "VIPPool"):
        VIPPool.model_validate(pool)  # `kubelvs validate` reads VirtualServers and RealServers only
    path = tmp_path / "examples.yaml"
    path.write_text(yaml.safe_dump_all([e for e in examples if e["kind"] != "VIPPool"]))
    assert cli.main(["validate", str(path)]) == 0, capsys.readouterr()


def test_images_annotation_is_the_default_image(chart_yaml, render) -> None:
    (image,) = annotation(chart_yaml, "images")
    assert image["image"] == render().container("DaemonSet", "-agent")["image"]


def make(repo_dir, *args: str) -> list[str]:
    result = subprocess.run(["make", "-n", *args], cwd=repo_dir, capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if not line.startswith("echo")]


def test_make_image_and_push_build_and_push_the_named_image(repo_dir) -> None:
    lines = make(repo_dir, "image", "push", "IMAGE=registry.example.com/kubelvs", "TAG=1.2.3")
    assert lines == [
        "docker build -t registry.example.com/kubelvs:1.2.3 .",
        "docker push registry.example.com/kubelvs:1.2.3",
    ]


def test_make_image_defaults_to_what_the_chart_pulls(repo_dir, render) -> None:
    assert make(repo_dir, "image") == [f"docker build -t {render().container('DaemonSet', '-agent')['image']} ."]
