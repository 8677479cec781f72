"""The chart's PrometheusRule (``metrics.prometheusRule.enabled``), rendered by helm: ``promtool check rules``
passes, and ``promtool test rules`` runs each alert on synthetic series: KubeLVSNoLeaseHolder once no agent
has held a director group's Lease for a minute, KubeLVSAllRealServersDown once a virtual server has had no
destination of weight above 0 in the kernel for a minute (quiesced or none), KubeLVSIPVSScrapeFailing after
five minutes of unreadable IPVS; and none of them while things are well or before its ``for``. The
annotations expected are the rule's own with the alert's labels filled in."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from exported_metrics import run_promtool

ALERT_LABELS = {"team": "net"}
EXTRA_RULE = {"alert": "KubeLVSExtra", "expr": "kubelvs_ipvs_scrape_success > 1", "labels": {"severity": "info"}}


@pytest.fixture
def rules(render: Callable[..., Any]) -> dict[str, Any]:
    chosen = {
        "enabled": True,
        "labels": {"release": "prom"},
        "alertLabels": ALERT_LABELS,
        "additionalRules": [EXTRA_RULE],
    }
    values = {"metrics": {"prometheusRule": chosen}}
    rule = render(values).find("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prom"
    return dict(rule["spec"])


def by_alert(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule}


def filled(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """The rule's annotations with ``{{ $labels.x }}`` replaced as Prometheus does."""
    return {
        key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        for key, text in rule["annotations"].items()
    }


def expected(rule: dict[str, Any], **series_labels: str) -> dict[str, Any]:
    labels = {**rule["labels"], **series_labels}
    return {"exp_labels": labels, "exp_annotations": filled(rule, labels)}


def promtool_tests(alerts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    lease, down, scrape = (
        alerts["KubeLVSNoLeaseHolder"],
        alerts["KubeLVSAllRealServersDown"],
        alerts["KubeLVSIPVSScrapeFailing"],
    )
    web = 'virtual_server="default/web",local_address="192.0.2.10",local_port="80",proto="TCP",local_mark=""'
    dns = 'virtual_server="infra/dns",local_address="192.0.2.53",local_port="53",proto="UDP",local_mark=""'
    return [
        {  # g1 loses its holder at 2m (a's Lease lapses, b never takes it); g2 keeps b as holder throughout
            "interval": "1m",
            "input_series": [
                {
                    "series": 'kubelvs_director_group_held{group="g1",node="a",instance="a:9641"}',
                    "values": "1 1 0x8",
                },
                {"series": 'kubelvs_director_group_held{group="g1",node="b",instance="b:9641"}', "values": "0x10"},
                {"series": 'kubelvs_director_group_held{group="g2",node="a",instance="a:9641"}', "values": "0x10"},
                {"series": 'kubelvs_director_group_held{group="g2",node="b",instance="b:9641"}', "values": "1x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "KubeLVSNoLeaseHolder", "exp_alerts": []},
                {"eval_time": "2m", "alertname": "KubeLVSNoLeaseHolder", "exp_alerts": []},  # pending: for 1m
                {
                    "eval_time": "4m",
                    "alertname": "KubeLVSNoLeaseHolder",
                    "exp_alerts": [expected(lease, group="g1")],
                },
            ],
        },
        {  # web: one of two real servers quiesced at 2m, the other at 4m; dns: its only destination deleted at 3m
            "interval": "1m",
            "input_series": [
                {"series": f"kubelvs_virtual_server_connections_total{{{web}}}", "values": "0+10x10"},
                {"series": f"kubelvs_virtual_server_connections_total{{{dns}}}", "values": "0+1x10"},
                {
                    "series": f'kubelvs_real_server_effective_weight{{{web},real_server="default/web-1"}}',
                    "values": "1 1 0x8",
                },
                {
                    "series": f'kubelvs_real_server_effective_weight{{{web},real_server="default/web-2"}}',
                    "values": "3 3 3 3 0x6",
                },
                {
                    "series": f'kubelvs_real_server_effective_weight{{{dns},real_server="infra/dns-1"}}',
                    "values": "1 1 1 stale",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "KubeLVSAllRealServersDown", "exp_alerts": []},  # dns pending
                {
                    "eval_time": "4m",
                    "alertname": "KubeLVSAllRealServersDown",
                    "exp_alerts": [expected(down, virtual_server="infra/dns")],
                },
                {
                    "eval_time": "5m",
                    "alertname": "KubeLVSAllRealServersDown",
                    "exp_alerts": [
                        expected(down, virtual_server="default/web"),
                        expected(down, virtual_server="infra/dns"),
                    ],
                },
            ],
        },
        {  # a's IPVS unreadable from 1m on, b's fine
            "interval": "1m",
            "input_series": [
                {"series": 'kubelvs_ipvs_scrape_success{instance="a:9641"}', "values": "1 0x10"},
                {"series": 'kubelvs_ipvs_scrape_success{instance="b:9641"}', "values": "1x10"},
            ],
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "KubeLVSIPVSScrapeFailing", "exp_alerts": []},
                {
                    "eval_time": "6m",
                    "alertname": "KubeLVSIPVSScrapeFailing",
                    "exp_alerts": [expected(scrape, instance="a:9641")],
                },
                {"eval_time": "6m", "alertname": "KubeLVSExtra", "exp_alerts": []},
            ],
        },
    ]


def test_the_rules_pass_promtool_check(rules: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout, result.stdout


def test_each_alert_fires_on_its_condition_and_not_before(rules: dict[str, Any], tmp_path: Path) -> None:
    alerts = by_alert(rules)
    assert set(alerts) == {
        "KubeLVSNoLeaseHolder",
        "KubeLVSAllRealServersDown",
        "KubeLVSIPVSScrapeFailing",
        "KubeLVSExtra",
    }
    assert all(alerts[name]["labels"]["team"] == "net" for name in alerts if name != "KubeLVSExtra")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": promtool_tests(alerts)}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    result = run_promtool("test", "rules", str(tmp_path / "tests.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails_the_promtool_run(rules: dict[str, Any], tmp_path: Path) -> None:
    # the unit tests have teeth: expecting the Lease alert while g1 still has its holder fails
    alerts = by_alert(rules)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    wrong = promtool_tests(alerts)[:1]
    wrong[0]["alert_rule_test"] = [
        {
            "eval_time": "1m",
            "alertname": "KubeLVSNoLeaseHolder",
            "exp_alerts": [expected(alerts["KubeLVSNoLeaseHolder"], group="g1")],
        }
    ]
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": wrong}))
    result = run_promtool("test", "rules", str(tmp_path / "tests.yaml"))
    assert result.returncode != 0 and "KubeLVSNoLeaseHolder" in result.stdout + result.stderr


def test_no_prometheus_rule_by_default(render: Callable[..., Any]) -> None:
    assert not render().of_kind("PrometheusRule")
