"""The Grafana dashboard (``charts/kubelvs/dashboards/kubelvs.json``) parses, each of its queries is PromQL that
``promtool check rules`` accepts, and every metric its queries, its variables and the chart's alert rules select
is one kube-lvs exports: the names come from real scrapes of an agent's and the operator's registries
(``tests/exported_metrics.py``), so a renamed metric fails here. With ``metrics.dashboard.enabled`` the chart
ships the file unchanged in a ConfigMap Grafana's sidecar finds by label."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CHART

from exported_metrics import exported, run_promtool

DASHBOARD = CHART / "dashboards" / "kubelvs.json"
# PromQL's functions, aggregations and keywords the queries use (an identifier not here is a metric name)
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "irate", "increase", "histogram_quantile", "vector", "and",
    "or", "unless", "bool", "offset", "topk", "bottomk", "absent", "clamp_min", "clamp_max", "max_over_time",
    "min_over_time", "avg_over_time", "changes", "label_replace", "sort", "sort_desc", "time", "scalar",
}  # fmt: skip
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def selected_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, Grafana's $variables)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    return {token for token in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr) if token not in PROMQL_WORDS}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


@pytest.fixture(scope="module")
def names() -> set[str]:
    return exported()


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def variable_metrics(dashboard: dict[str, Any]) -> set[str]:
    found = set()
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            match = re.fullmatch(r"label_values\((\w+), *\w+\)", query)
            assert match, f"variable {variable['name']}: not a label_values(metric, label) query: {query}"
            found.add(match.group(1))
    return found


def test_the_metric_name_reader_reads_promql() -> None:
    expr = 'sum by (group) (rate(a_total{x="b_total",y=~"$v"}[$__rate_interval])) / on (z) c > bool 0 or vector(1)'
    assert selected_metrics(expr) == {"a_total", "c"}


def test_the_dashboard_queries_only_exported_metrics(dashboard: dict[str, Any], names: set[str]) -> None:
    queries = panel_queries(dashboard)
    assert len(queries) >= 15, "a panel per thing an LVS administrator watches"
    used = set().union(*map(selected_metrics, queries)) | variable_metrics(dashboard)
    assert used - names == set(), f"queried, never exported: {sorted(used - names)}"
    # both processes' series are on it, and the kernel's weight and per-service counters
    assert {"kubelvs_operator_reconciles_total", "kubelvs_real_server_effective_weight"} <= used
    assert {"kubelvs_virtual_server_connections_total", "kubelvs_director_group_held"} <= used


def test_the_dashboard_queries_are_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    rules = []
    for index, expr in enumerate(panel_queries(dashboard)):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"kubelvs:dashboard_query_{index}", "expr": expr})
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_query_only_exported_metrics(render: Callable[..., Any], names: set[str]) -> None:
    spec = render({"metrics": {"prometheusRule": {"enabled": True}}}).find("PrometheusRule")["spec"]
    used = set().union(*(selected_metrics(rule["expr"]) for group in spec["groups"] for rule in group["rules"]))
    assert used and used - names == set(), f"alerted on, never exported: {sorted(used - names)}"


def test_the_chart_ships_the_dashboard_when_asked(render: Callable[..., Any]) -> None:
    assert not [o for o in render().of_kind("ConfigMap") if o["metadata"]["name"].endswith("-dashboard")]
    values = {"metrics": {"dashboard": {"enabled": True, "annotations": {"grafana_folder": "LVS"}}}}
    config_map = render(values).find("ConfigMap", "-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "LVS"}
    assert json.loads(config_map["data"]["kubelvs.json"]) == json.loads(DASHBOARD.read_text())
