"""Every object the chart renders is valid Kubernetes, checked offline against the OpenAPI schemas of the
oldest and newest Kubernetes the chart supports (``kubernetes-validate`` ships them), and carries the
standard ``app.kubernetes.io/*`` labels."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

# Kinds of CRDs (kopf's, the Prometheus Operator's): no schema in kubernetes-validate; checked by hand below.
CUSTOM_KINDS = {"ClusterKopfPeering", "ServiceMonitor"}
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)


def kube_version_bounds(chart_dir) -> list[str]:
    minimum = yaml.safe_load((chart_dir / "Chart.yaml").read_text())["kubeVersion"]
    oldest = minimum.removeprefix(">=").split("-")[0].rsplit(".", 1)[0]  # ">=1.26.0-0" -> "1.26"
    return [oldest, kubernetes_validate.latest_version()]


def test_every_object_is_valid_for_the_supported_kubernetes_versions(rendered, chart_dir) -> None:
    checked = 0
    for obj in rendered.objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        for version in kube_version_bounds(chart_dir):
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                first_line = str(error).splitlines()[0]
                pytest.fail(
                    f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {first_line}"
                )
            checked += 1
    assert checked >= 2 * 9, "the CRDs, workloads, service accounts and RBAC objects were all checked"


def test_custom_kinds_have_the_fields_their_crds_require(rendered) -> None:
    for obj in rendered.objects:
        if obj["kind"] == "ServiceMonitor":
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            assert obj["spec"]["selector"]["matchLabels"]
            assert [e["port"] for e in obj["spec"]["endpoints"]] == ["metrics"]
        if obj["kind"] == "ClusterKopfPeering":
            assert obj["apiVersion"] == "kopf.dev/v1"
            assert "namespace" not in obj["metadata"], "cluster-scoped"


def test_every_object_has_the_standard_labels(rendered) -> None:
    for obj in rendered.objects:
        labels = obj["metadata"].get("labels", {})
        missing = [key for key in STANDARD_LABELS if not labels.get(key)]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/part-of"] == "kubelvs"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_pod_templates_carry_the_selector_labels(rendered) -> None:
    for workload in (rendered.agent(), rendered.operator()):
        selector = workload["spec"]["selector"]["matchLabels"]
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert "app.kubernetes.io/version" not in selector, "a selector must survive upgrades"


def test_namespaced_objects_go_to_the_release_namespace(rendered) -> None:
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "ClusterKopfPeering"}
    for obj in rendered.objects:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"].get("namespace") == "kube-lvs", f"{obj['kind']}/{obj['metadata']['name']}"
