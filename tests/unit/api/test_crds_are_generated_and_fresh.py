"""crds/ is exactly what the models generate, the schemas are structural, and the CRDs and models agree.

What the offline checks prove, and what they cannot: the official Kubernetes client's model classes
(``V1CustomResourceDefinition``) take every key of the CRDs in its place, so no field is misspelled or
misplaced; ``kubectl label --local`` parses the files as apiextensions.k8s.io/v1 objects without a
server (``kubectl create --dry-run=client`` needs one for discovery). Neither runs the API server's own
CRD validation (structural-schema rules, CEL compilation and cost estimates): the structural rules are
checked here by hand, the CEL rules are evaluated with cel-python (tests/unit/api/crd_admission.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import crd_admission
import pytest
import yaml
from kubernetes.client import ApiClient

from kubelvs import cli
from kubelvs.api import crd
from kubelvs.api.models import (
    HealthCheck,
    HttpCheck,
    Persistence,
    RealServer,
    RealServerSpec,
    VirtualServer,
    VirtualServerSpec,
)
from kubelvs.api.objects import parse_object

ROOT = Path(__file__).parents[3]
CRDS = ROOT / "crds"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
HINT = "crds/ is stale: run `kubelvs crds --write crds` and commit the result"


@pytest.mark.parametrize("name", sorted(crd.rendered()))
def test_committed_crds_equal_the_generated_ones(name: str) -> None:
    path = CRDS / name
    assert path.exists(), HINT
    assert path.read_text() == crd.rendered()[name], HINT


def test_generation_is_deterministic() -> None:
    assert crd.rendered() == crd.rendered()
    text = "".join(crd.rendered().values())
    assert "creationTimestamp:" not in text
    assert "&id0" not in text, "shared sub-schemas came out as YAML anchors"


def test_check_passes_on_fresh_files_and_fails_with_a_hint_on_stale_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["crds", "--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(crd.rendered())
    assert cli.main(["crds", "--check", str(tmp_path)]) == 0
    stale = tmp_path / "lvs.kubelvs.io_realservers.yaml"
    stale.write_text(stale.read_text().replace("lvsrs", "rs"))
    capsys.readouterr()
    assert cli.main(["crds", "--check", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "-    - rs\n+    - lvsrs\n" in out
    assert f"run `kubelvs crds --write {tmp_path}`" in err


def test_check_fails_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crds", "--check", str(tmp_path)]) == 1
    assert "missing" in capsys.readouterr().err


def test_printing_gives_both_crds_as_one_yaml_stream(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crds"]) == 0
    assert list(yaml.safe_load_all(capsys.readouterr().out)) == crd.crds()


def _schemas() -> list[tuple[str, dict[str, Any]]]:
    return [
        (c["spec"]["names"]["kind"], c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]) for c in crd.crds()
    ]


def _nodes(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    nodes = [(path or ".", schema)]
    for name, sub in schema.get("properties", {}).items():
        nodes += _nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        nodes += _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        nodes += _nodes(schema["additionalProperties"], f"{path}{{}}")
    return nodes


@pytest.mark.parametrize(("kind", "schema"), _schemas())
def test_schemas_are_structural(kind: str, schema: dict[str, Any]) -> None:
    for path, node in _nodes(schema):
        where = f"{kind} {path}"
        # an int-or-string field is the one structural node without a type (its values have two)
        assert "type" in node or node.get("x-kubernetes-int-or-string") is True, f"{where} has no type"
        for key in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "nullable", "const"):
            assert key not in node, f"{where} still has {key}"
        assert not ("properties" in node and "additionalProperties" in node), f"{where} has both"
        assert node.get("additionalProperties", {}) is not False, f"{where} has additionalProperties: false"
        if node.get("type") == "object" and path not in (".", ".metadata"):
            assert "properties" in node or "additionalProperties" in node, f"{where} is an opaque object"


@pytest.mark.parametrize(("kind", "schema"), _schemas())
def test_every_spec_field_is_explained(kind: str, schema: dict[str, Any]) -> None:
    for path, node in _nodes(schema["properties"]["spec"], ".spec"):
        assert node.get("description") or path.endswith("[]") or path.endswith("{}"), f"{kind} {path}"


@pytest.mark.parametrize("model", [VirtualServerSpec, RealServerSpec, HealthCheck, HttpCheck, Persistence])
def test_schema_defaults_are_the_models_defaults(model: Any) -> None:
    """The API server fills these in; they must be what the model would assume (e.g. "6s", not 6.0)."""
    schema = crd.model_schema(model)
    defaults = model.model_construct().model_dump(mode="json", by_alias=True)
    declared = {name: node["default"] for name, node in schema["properties"].items() if "default" in node}
    assert declared
    assert declared == {name: value for name, value in defaults.items() if name in declared}


def test_short_names_and_category() -> None:
    names = {c["spec"]["names"]["kind"]: c["spec"]["names"] for c in crd.crds()}
    assert names["VirtualServer"]["shortNames"] == ["lvsvs"]
    assert names["RealServer"]["shortNames"] == ["lvsrs"]
    assert all(n["categories"] == ["lvs"] for n in names.values())


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        pytest.param(
            "VirtualServer", ["VIP", "Port", "Proto", "Scheduler", "Mode", "Director", "Ready", "Age"], id="vs"
        ),
        pytest.param("RealServer", ["VirtualServer", "Address", "Port", "Weight", "Health", "Age"], id="rs"),
    ],
)
def test_printer_columns_point_at_existing_fields(kind: str, columns: list[str]) -> None:
    version = next(c for c in crd.crds() if c["spec"]["names"]["kind"] == kind)["spec"]["versions"][0]
    printed = version["additionalPrinterColumns"]
    assert [c["name"] for c in printed if not c.get("priority")] == columns
    schema = version["schema"]["openAPIV3Schema"]
    for column in printed:
        node = schema
        for part in column["jsonPath"].strip(".").split("."):
            node = node["properties"][part] if part != "creationTimestamp" else {"type": "string"}
        assert node["type"] in ("string", "integer") and column["type"] in ("string", "integer", "date")


@pytest.mark.parametrize("name", sorted(crd.rendered()))
def test_the_kubernetes_client_models_take_every_key(name: str) -> None:
    """Round trip through the official V1CustomResourceDefinition: a misspelt or misplaced key is lost."""
    original = yaml.safe_load(crd.rendered()[name])
    client = ApiClient()
    typed = client.deserialize(json.dumps(original), "V1CustomResourceDefinition", "application/json")
    assert client.sanitize_for_serialization(typed) == original


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_parses_the_crds_offline(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = subprocess.run(
        ["kubectl", "label", "--local", "-f", str(CRDS), "-o", "name", "kubelvs.io/probe=1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == [
        "customresourcedefinition.apiextensions.k8s.io/realservers.lvs.kubelvs.io",
        "customresourcedefinition.apiextensions.k8s.io/vippools.lvs.kubelvs.io",
        "customresourcedefinition.apiextensions.k8s.io/virtualservers.lvs.kubelvs.io",
    ]


def _example_objects() -> list[Any]:
    params = []
    for path in EXAMPLES:
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            params.append(pytest.param(doc, id=f"{path.name}#{index}"))
    return params


def test_there_are_examples() -> None:
    assert [p.name for p in EXAMPLES] == [
        "01-nat-rr.yaml",
        "02-nat-wrr.yaml",
        "03-dr-wlc.yaml",
        "04-tun.yaml",
        "05-keepalived-ha.yaml",
    ]


@pytest.mark.parametrize("doc", _example_objects())
def test_examples_pass_the_generated_schema_and_its_cel_rules(doc: dict[str, Any]) -> None:
    schema = crd_admission.schema_of(doc["kind"])
    assert crd_admission.unknown_fields(doc, schema) == []
    assert crd_admission.schema_errors(doc, schema) == []
    assert crd_admission.admission_errors(doc) == []


def _object(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "lvs.kubelvs.io/v1alpha1", "kind": kind, "metadata": {"name": "ok"}, "spec": spec}


VALID = [
    pytest.param({"address": "192.0.2.10", "port": 80}, id="minimal"),
    pytest.param(
        {"address": "2001:db8::10", "port": 443, "persistence": {"netmask": "/64"}}, id="ipv6-persistent"
    ),
    pytest.param({"address": "192.0.2.10", "port": 0, "persistence": {"timeout": 60}}, id="all-ports-persistent"),
    pytest.param({"address": "192.0.2.10", "port": 53, "protocol": "UDP", "onePacket": True}, id="udp-ops"),
    pytest.param(
        {"address": "192.0.2.10", "port": 80, "scheduler": "sh", "schedulerFlags": ["sh-port", "sh-fallback"]},
        id="sh-flags",
    ),
    pytest.param({"address": "192.0.2.10", "port": 80, "scheduler": "mh", "schedulerFlags": ["mh-port"]}, id="mh"),
    pytest.param(
        {
            "fwmark": 7,
            "fwmarkMatch": {"destination": "2001:db8::10", "ports": [80, 443]},
            "persistence": {"netmask": "/128"},
        },
        id="ipv6-fwmark-with-match",
    ),
    pytest.param(
        {"fwmark": 7, "addressFamily": "IPv6", "persistence": {"netmask": "/64"}}, id="fwmark-family-only"
    ),
    pytest.param(
        {"address": "192.0.2.10", "port": 80, "forwarding": "nat", "natReturnPath": "snat"}, id="nat-snat"
    ),
    pytest.param(
        {
            "address": "2001:db8::10",
            "port": 80,
            "forwarding": "nat",
            "directors": {"gateway": {"address": "fd00::1"}},
        },
        id="ipv6-nat-route",
    ),
    pytest.param(
        {
            "address": "192.0.2.10",
            "port": 80,
            "healthCheck": {
                "type": "https",
                "interval": "500ms",
                "connectTimeout": "400ms",
                "http": {"path": "/healthz", "expectStatus": [200, 204]},
            },
        },
        id="https-check",
    ),
    pytest.param(
        {"address": "192.0.2.10", "port": 80, "healthCheck": {"type": "tcp", "interval": "1m30s"}}, id="tcp-check"
    ),
]


@pytest.mark.parametrize("spec", VALID)
def test_valid_virtual_servers_pass_the_models_and_the_crd(spec: dict[str, Any]) -> None:
    obj = _object("VirtualServer", spec)
    assert isinstance(parse_object(obj), VirtualServer)
    assert crd_admission.admission_errors(obj) == []


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"virtualServer": "web", "address": "192.0.2.21"}, id="minimal"),
        pytest.param(
            {"virtualServer": "web", "address": "192.0.2.21", "upperThreshold": 100, "lowerThreshold": 100},
            id="thresholds-equal",
        ),
        pytest.param(
            {"virtualServer": "web", "address": "192.0.2.21", "lowerThreshold": 5}, id="lower-without-upper"
        ),
    ],
)
def test_valid_real_servers_pass_the_models_and_the_crd(spec: dict[str, Any]) -> None:
    obj = _object("RealServer", spec)
    assert isinstance(parse_object(obj), RealServer)
    assert crd_admission.admission_errors(obj) == []
