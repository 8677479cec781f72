"""Fixtures of the Helm chart tests: a real helm binary, and ``render(values)`` -> the rendered objects.

helm is not a Python package: ``.ci/install-helm.sh`` puts one in ``.cache/bin/helm`` (found there or on
PATH). Without it these tests fail instead of skipping, so a chart nobody rendered never passes as green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kubelvs"
RELEASE = "lvs"
NAMESPACE = "kube-lvs"

# What a user must set: the chart refuses an empty config.vipPools unless config.allowAnyVIP is true. Every
# helm run of these tests starts from it (a value set's own config.vipPools wins), so "defaults" means the
# defaults plus the one required value; test_chart_requires_vip_pools renders without it.
REQUIRED_VALUES: dict[str, Any] = {"config": {"vipPools": ["198.51.100.0/24"]}}


def merged(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` over ``base`` as helm merges values files: maps key by key, anything else replaced."""
    result = dict(base)
    for key, value in values.items():
        below = result.get(key)
        result[key] = merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return result


# Value sets every rendering test runs with: the defaults and the non-default shapes the chart branches on.
VALUE_SETS = [
    pytest.param({}, id="defaults"),
    pytest.param(
        {
            "config": {"vipPools": ["192.0.2.0/24", "2001:db8::/64"], "resyncPeriod": "1m"},
            "ipvs": {
                "timeouts": {"tcp": 0, "tcpFin": 30, "udp": 60},
                "syncDaemon": {"enabled": True, "interface": "eth1", "syncId": 7},
            },
            "leaderElection": {
                "leaseDuration": "6s",
                "renewDeadline": "4s",
                "renewPeriod": "2s",
                "retryPeriod": "500ms",
            },
            "logLevel": "debug",
        },
        id="pools-timeouts-sync-daemon-debug",
    ),
    pytest.param(
        {
            "agent": {
                "privileged": False,
                "capabilities": ["NET_ADMIN", "NET_RAW"],
                "nodeSelector": {"kubelvs.io/director": "true"},
                "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            },
        },
        id="unprivileged-agent-on-directors",
    ),
    pytest.param(
        {
            "operator": {"replicas": 2, "peering": {"enabled": True, "name": "lvs-peering", "createCRD": False}},
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
            "image": {"repository": "registry.example/kubelvs", "digest": "sha256:" + "a" * 64},
        },
        id="two-operators-service-monitor-digest",
    ),
    pytest.param(
        {"operator": {"peering": {"enabled": False}}, "ipvs": {"syncDaemon": {"enabled": False}}},
        id="no-peering-no-sync-daemon",
    ),
    pytest.param({"fullnameOverride": "edge-lb", "imagePullSecrets": [{"name": "pull"}]}, id="fullname-override"),
]


@pytest.fixture(scope="session")
def helm() -> str:
    local = REPO / ".cache" / "bin" / "helm"
    found = str(local) if os.access(local, os.X_OK) else shutil.which("helm")
    if found is None:
        pytest.fail("helm is missing: run `bash .ci/install-helm.sh` (installs .cache/bin/helm)", pytrace=False)
    return found


def run_helm(
    helm: str,
    *args: str,
    values: dict[str, Any] | None = None,
    tmp: Path | None = None,
    base: dict[str, Any] = REQUIRED_VALUES,
) -> str:
    """Run helm with ``values`` over ``base``; return stdout, or raise AssertionError with helm's own message."""
    command = [helm, *args]
    values = merged(base, values or {})
    if values:
        assert tmp is not None
        values_file = tmp / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        command += ["--values", str(values_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise HelmError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


class HelmError(AssertionError):
    """helm exited non-zero; the message is its stderr."""


@dataclass(frozen=True)
class Rendering:
    """What ``helm template`` made of one set of values."""

    values: dict[str, Any]
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def find(self, kind: str, name_suffix: str = "") -> dict[str, Any]:
        """The one object of ``kind`` whose name ends with ``name_suffix``."""
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"].endswith(name_suffix)]
        names = [o["metadata"]["name"] for o in matches]
        assert len(matches) == 1, f"expected one {kind} named *{name_suffix}, found {names}"
        return matches[0]

    def container(self, kind: str, name_suffix: str) -> dict[str, Any]:
        containers = self.find(kind, name_suffix)["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1, "one container per pod"
        result: dict[str, Any] = containers[0]
        return result

    def agent(self) -> dict[str, Any]:
        return self.find("DaemonSet", "-agent")

    def operator(self) -> dict[str, Any]:
        return self.find("Deployment", "-operator")


@pytest.fixture
def render(helm: str, tmp_path: Path) -> Callable[..., Rendering]:
    """``render(values)`` -> the objects ``helm template --include-crds`` prints, hooks included."""

    def render(values: dict[str, Any] | None = None) -> Rendering:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
        out = run_helm(helm, *args, values=values, tmp=tmp_path)
        return Rendering(merged(REQUIRED_VALUES, values or {}), [doc for doc in yaml.safe_load_all(out) if doc])

    return render


@pytest.fixture
def render_exactly(helm: str, tmp_path: Path) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """``render_exactly(values)`` -> the objects of ``helm template`` with only ``values`` over the chart's
    defaults (not REQUIRED_VALUES); raises HelmError with helm's message."""

    def render_exactly(values: dict[str, Any]) -> list[dict[str, Any]]:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        out = run_helm(helm, *args, values=values, tmp=tmp_path, base={})
        return [doc for doc in yaml.safe_load_all(out) if doc]

    return render_exactly


@pytest.fixture(params=VALUE_SETS)
def value_set(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each of VALUE_SETS in turn."""
    values: dict[str, Any] = request.param
    return values


@pytest.fixture
def rendered(value_set: dict[str, Any], render: Callable[..., Rendering]) -> Rendering:
    """The chart rendered with each of VALUE_SETS in turn."""
    return render(value_set)


@pytest.fixture
def helm_run(helm: str, tmp_path: Path) -> Callable[..., str]:
    """``helm_run(*args, values=...)`` -> stdout; raises HelmError with helm's message."""

    def helm_run(*args: str, values: dict[str, Any] | None = None) -> str:
        return run_helm(helm, *args, values=values, tmp=tmp_path)

    return helm_run


@pytest.fixture(scope="session")
def chart_dir() -> Path:
    return CHART


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture
def template_error(helm: str, tmp_path: Path) -> Callable[[dict[str, Any]], str]:
    """``template_error(values)`` -> helm's error message; fails the test if helm accepts the values."""

    def template_error(values: dict[str, Any]) -> str:
        try:
            run_helm(helm, "template", RELEASE, str(CHART), values=values, tmp=tmp_path)
        except HelmError as error:
            return str(error)
        pytest.fail(f"helm accepted bad values {values}")

    return template_error
