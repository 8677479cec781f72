"""checkov finds nothing in the chart rendered with the quick start's flags beyond the checks the chart README's
"Security checks" table lists, each with its reason; a row that no longer fails is stale and fails too. Rows for
"agent (unprivileged)" hold for ``agent.privileged=false`` alone, which is scanned as well.

checkov runs from its own venv (``.ci/install-checkov.sh`` puts it in ``.cache/checkov``, as it pins packages
the project's venv needs newer). Without it this test fails, as the helm tests do without helm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import quick_start

REPO = Path(__file__).resolve().parents[2]
CHART_README = REPO / "charts" / "kubelvs" / "README.md"
BEGIN, END = "<!-- checkov-skips -->", "<!-- /checkov-skips -->"
COMPONENTS = ("agent", "operator")


@pytest.fixture(scope="session")
def checkov() -> str:
    local = REPO / ".cache" / "checkov" / "bin" / "checkov"
    found = str(local) if os.access(local, os.X_OK) else shutil.which("checkov")
    if found is None:
        pytest.fail("checkov is missing: run `bash .ci/install-checkov.sh`", pytrace=False)
    return found


UNPRIVILEGED = " (unprivileged)"


def skips(unprivileged: bool = False) -> dict[tuple[str, str], str]:
    """{(check id, component): reason} from the chart README's table: the rows for the quick start's rendering,
    or with ``unprivileged`` the rows for an unprivileged agent only."""
    text = CHART_README.read_text()
    start, end = text.find(BEGIN), text.find(END)
    assert start != -1 and end > start, f"{CHART_README.name} has no {BEGIN} table"
    found: dict[tuple[str, str], str] = {}
    for line in text[start + len(BEGIN) : end].strip().splitlines()[2:]:  # after the header and the rule
        check, objects, reason = (cell.strip() for cell in line.strip().strip("|").split("|"))
        assert len(reason) >= 20, f"{check}: a skip needs its reason, got {reason!r}"
        for component in (part.strip() for part in objects.split(",")):
            qualified = component.endswith(UNPRIVILEGED)
            component = component.removesuffix(UNPRIVILEGED)
            assert component in COMPONENTS, f"{check}: unknown object {component!r} (one of {COMPONENTS})"
            if qualified == unprivileged:
                found[(check, component)] = reason
    return found


def component_of(resource: str) -> str:
    """``DaemonSet.kube-lvs.kubelvs-agent`` (or checkov's ``Pod.kube-lvs.kubelvs-agent.<labels>``) -> agent."""
    name = resource.split(".")[2] if resource.count(".") >= 2 else resource
    return next((c for c in COMPONENTS if name.endswith(f"-{c}")), name)


@pytest.fixture
def failures(helm: str, checkov: str, tmp_path: Path) -> Callable[..., set[tuple[str, str]]]:
    """``failures(*extra_sets)`` -> {(check id, component)} checkov fails on the quick start's rendering."""
    guide = quick_start.read()

    def failures(*extra: str) -> set[tuple[str, str]]:
        command = [helm, "template", guide.release, str(REPO / guide.chart), "--namespace", guide.namespace]
        for flag in (*guide.sets, *extra):
            command += ["--set", flag]
        rendered = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
        manifest = tmp_path / "rendered.yaml"
        manifest.write_text(rendered)
        scan = [checkov, "--file", str(manifest), "--framework", "kubernetes", "--output", "json", "--compact"]
        result = subprocess.run(scan, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode in (0, 1), f"checkov failed to run: {result.stderr[-2000:]}"
        report = json.loads(result.stdout)
        reports = report if isinstance(report, list) else [report]
        assert sum(r["summary"]["passed"] for r in reports) > 100, "checkov checked next to nothing"
        return {
            (check["check_id"], component_of(check["resource"]))
            for r in reports
            for check in r["results"]["failed_checks"]
        }

    return failures


def test_every_failed_check_is_a_justified_skip_and_every_skip_still_fails(failures) -> None:
    found, allowed = failures(), set(skips())
    unexplained = sorted(found - allowed)
    assert not unexplained, f"fix these or justify them in {CHART_README.name}'s Security checks: {unexplained}"
    stale = sorted(allowed - found)
    assert not stale, f"these pass now: remove their rows from {CHART_README.name}: {stale}"


def test_an_unprivileged_agent_passes_the_privilege_checks(failures) -> None:
    found, only_here = failures("agent.privileged=false"), set(skips(unprivileged=True))
    unexplained = sorted(found - set(skips()) - only_here)
    assert not unexplained, f"justify them as 'agent (unprivileged)' rows, or fix them: {unexplained}"
    assert only_here <= found, f"stale 'agent (unprivileged)' rows: {sorted(only_here - found)}"
    assert {("CKV_K8S_16", "agent"), ("CKV_K8S_20", "agent")}.isdisjoint(found)


def test_pinning_the_image_by_digest_passes_the_digest_check(failures) -> None:
    assert ("CKV_K8S_43", "agent") not in failures("image.digest=sha256:" + "a" * 64)
