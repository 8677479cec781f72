"""The README's Helm quick start works as written: the chart rendered with its own ``--set`` flags, the operator
started with the rendered container's command line against the API emulator, its readiness probe answered, the
label step run on two nodes, and every object of the file ``kubectl apply -f`` names ``Accepted=True``, on those
nodes' label."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import quick_start
import yaml

from kubelvs.testbed import apiserver, chart

KUBELVS = Path(sys.executable).with_name("kubelvs")
PLURALS = {"VirtualServer": "virtualservers", "RealServer": "realservers", "VIPPool": "vippools"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def guide() -> quick_start.QuickStart:
    return quick_start.read()


@pytest.fixture(scope="module")
def rendering(guide: quick_start.QuickStart) -> chart.Rendering:
    assert (guide.release, guide.namespace) == (chart.RELEASE, chart.NAMESPACE), "the test bed renders these names"
    # Free ports instead of 9642/8081: other test runs on this host may hold those. Nothing else is added.
    ports = {"operator.metricsPort": str(free_port()), "operator.healthPort": str(free_port())}
    return chart.render({**guide.set_values(), **ports})


def configure(emulator: apiserver.Emulator) -> None:
    apiserver.register_kubelvs(emulator)
    apiserver.register_kopf_peering(emulator)  # the chart's peering CRD


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[apiserver.Client, Path]]:
    with apiserver.serve(configure) as served:
        kubeconfig = apiserver.write_kubeconfig(served.url, tmp_path_factory.mktemp("kube") / "config")
        yield apiserver.Client(served.url), kubeconfig


@pytest.fixture(scope="module")
def cluster(api: tuple[apiserver.Client, Path], guide: quick_start.QuickStart) -> apiserver.Client:
    """Namespaces, the label step's nodes (unlabelled, as a fresh cluster has them) and one node more."""
    client, _ = api
    nodes = [apiserver.NodeSpec(name, {}, (f"198.51.100.{i}",)) for i, name in enumerate(guide.label_nodes, 11)]
    nodes.append(apiserver.NodeSpec("worker-1", {}, ("198.51.100.21",)))
    apiserver.seed(client, nodes, namespaces=("default", guide.namespace))
    return client


@pytest.fixture(scope="module")
def operator(
    api: tuple[apiserver.Client, Path], cluster: apiserver.Client, rendering: chart.Rendering
) -> Iterator[subprocess.Popen[str]]:
    """The operator Deployment's container as a process: the rendered argv and env, after the install hooks."""
    _, kubeconfig = api
    for peering in rendering.of_kind("ClusterKopfPeering"):  # the chart's post-install hook
        cluster.create("clusterkopfpeerings", peering)
    pod = chart.Pod(f"{chart.RELEASE}-operator-0", "director-1", "127.0.0.1", "127.0.0.1")
    command = rendering.operator.command(pod)
    assert command.argv[0] == chart.ENTRYPOINT
    env = {**os.environ, **command.env, "KUBECONFIG": str(kubeconfig)}
    process = subprocess.Popen(
        [str(KUBELVS), *command.argv[1:]], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def probe_answers(rendering: chart.Rendering, kind: str) -> bool:
    (deployment,) = rendering.of_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    get = container[kind]["httpGet"]
    url = f"http://127.0.0.1:{rendering.operator.ports[get['port']]}{get['path']}"
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def test_operator_becomes_ready_as_its_probe_asks(operator: subprocess.Popen[str], rendering) -> None:
    try:
        apiserver.wait_for(lambda: probe_answers(rendering, "readinessProbe"), timeout=60)
    except AssertionError:
        operator.kill()
        pytest.fail(f"the operator never answered its readiness probe:\n{operator.communicate()[0][-3000:]}")
    assert probe_answers(rendering, "livenessProbe")


def test_label_step_selects_the_examples_directors(guide: quick_start.QuickStart, cluster) -> None:
    key, value = guide.label
    for node in guide.label_nodes:  # kubectl label node NODE KEY=VALUE
        cluster.patch("v1", "nodes", None, node, {"metadata": {"labels": {key: value}}})
    documents = [d for d in yaml.safe_load_all(guide.applied.read_text()) if d]
    selectors = [d["spec"]["directors"]["nodeSelector"] for d in documents if d["kind"] == "VirtualServer"]
    assert selectors, f"{guide.applied.name} has no VirtualServer"
    labels = {n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in cluster.list("v1", "nodes")}
    for selector in selectors:
        chosen = sorted(name for name, have in labels.items() if selector.items() <= have.items())
        assert chosen == sorted(guide.label_nodes), f"{selector} picks {chosen}, not the labelled nodes"


def applied(guide: quick_start.QuickStart) -> list[dict[str, Any]]:
    """The file's objects as ``kubectl apply -f`` sends them: namespaced ones into ``default``."""
    objects = []
    for document in yaml.safe_load_all(guide.applied.read_text()):
        if document:
            if document["kind"] != "VIPPool":
                document["metadata"].setdefault("namespace", "default")
            objects.append(document)
    return objects


def accepted(client: apiserver.Client, obj: dict[str, Any]) -> dict[str, Any] | None:
    meta = obj["metadata"]
    current = client.get(obj["apiVersion"], PLURALS[obj["kind"]], meta.get("namespace"), meta["name"])
    conditions = {c["type"]: c for c in (current.get("status") or {}).get("conditions") or []}
    return conditions.get("Accepted")


def test_every_object_of_the_example_is_accepted(
    guide: quick_start.QuickStart, cluster, operator: subprocess.Popen[str]
) -> None:
    objects = applied(guide)
    assert {o["kind"] for o in objects} >= {"VirtualServer", "RealServer"}
    for obj in objects:
        cluster.create(PLURALS[obj["kind"]], obj)
    for obj in objects:
        name = f"{obj['kind']} {obj['metadata']['name']}"
        # judged: the condition is there and not Unknown (True or False, which fails below with its reason)
        apiserver.wait_for(lambda obj=obj: (accepted(cluster, obj) or {}).get("status") in ("True", "False"), 30)
        condition = accepted(cluster, obj)
        assert condition is not None and condition["status"] == "True", f"{name}: {condition}"
    assert operator.poll() is None, "the operator exited"


def test_kubectl_get_lvs_lists_every_kind_of_the_example(guide: quick_start.QuickStart, rendering) -> None:
    # `kubectl get lvs` expands the category to every resource whose CRD lists it
    in_category = {
        crd["spec"]["names"]["kind"]
        for crd in rendering.of_kind("CustomResourceDefinition")
        if "lvs" in crd["spec"]["names"].get("categories", [])
    }
    kinds = {d["kind"] for d in yaml.safe_load_all(guide.applied.read_text()) if d}
    assert "kubectl get lvs" in quick_start.section(quick_start.README.read_text())
    assert kinds <= in_category, f"kubectl get lvs would not list {sorted(kinds - in_category)}"
