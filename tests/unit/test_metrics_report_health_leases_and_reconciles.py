"""The agent's state metrics: health per real server, Lease holder per director group, reconcile passes."""

from __future__ import annotations

from collections import Counter

import pytest
from fakes import FakeIpvs
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kubelvs.agent.health.engine import Health
from kubelvs.agent.metrics import AgentMetrics
from kubelvs.agent.reconciler import Outcome


def scrape(metrics: AgentMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(Health.UP, {"Healthy": 1, "Unhealthy": 0, "Unknown": 0}, id="up"),
        pytest.param(Health.DOWN, {"Healthy": 0, "Unhealthy": 1, "Unknown": 0}, id="down"),
        pytest.param(Health.UNKNOWN, {"Healthy": 0, "Unhealthy": 0, "Unknown": 1}, id="unknown"),
    ],
)
def test_health_is_one_for_the_current_state(state, expected) -> None:
    states = {("default/web", "default/web-1"): state}
    samples = scrape(AgentMetrics("node-a", FakeIpvs(), health=lambda: states))
    got = {
        name: samples[
            (
                "kubelvs_real_server_health",
                labels(virtual_server="default/web", real_server="default/web-1", state=name),
            )
        ]
        for name in expected
    }
    assert got == expected


def test_health_follows_the_engine_between_scrapes() -> None:
    states = {("default/web", "default/web-1"): Health.UP}
    metrics = AgentMetrics("node-a", FakeIpvs(), health=lambda: states)
    down = (
        "kubelvs_real_server_health",
        labels(virtual_server="default/web", real_server="default/web-1", state="Unhealthy"),
    )
    assert scrape(metrics)[down] == 0
    states[("default/web", "default/web-1")] = Health.DOWN
    assert scrape(metrics)[down] == 1
    states.clear()
    assert down not in scrape(metrics), "a removed real server leaves no stale series"


def test_lease_holders_per_director_group() -> None:
    holders = {"kubelvs-directors-aaa": "node-a", "kubelvs-directors-bbb": "node-b", "kubelvs-directors-ccc": None}
    samples = scrape(AgentMetrics("node-a", FakeIpvs(), leases=lambda: holders))
    assert samples[("kubelvs_director_group_holder", labels(group="kubelvs-directors-aaa", holder="node-a"))] == 1
    assert samples[("kubelvs_director_group_holder", labels(group="kubelvs-directors-bbb", holder="node-b"))] == 1
    assert not [
        k
        for (name, k) in samples
        if name == "kubelvs_director_group_holder" and ("group", "kubelvs-directors-ccc") in k
    ]
    held = {dict(k)["group"]: v for (name, k), v in samples.items() if name == "kubelvs_director_group_held"}
    assert held == {"kubelvs-directors-aaa": 1, "kubelvs-directors-bbb": 0, "kubelvs-directors-ccc": 0}


def test_reconcile_passes_are_timed_and_their_writes_counted() -> None:
    metrics = AgentMetrics("node-a", FakeIpvs())
    metrics.observe(0.02, Outcome(writes=Counter({"ipvs.add_service": 2, "address.add": 1})))
    metrics.observe(
        0.3,
        Outcome(
            writes=Counter({"ipvs.add_service": 1}),
            errors=[
                ("TCP 192.0.2.10:80", "ipvs.add_destination: Invalid argument"),
                ("ownership record", "disk full"),
            ],
        ),
    )
    samples = scrape(metrics)
    assert samples[("kubelvs_agent_reconcile_duration_seconds_count", labels())] == 2
    assert samples[("kubelvs_agent_reconcile_duration_seconds_sum", labels())] == pytest.approx(0.32)
    assert samples[("kubelvs_agent_reconcile_duration_seconds_bucket", labels(le="0.025"))] == 1
    assert samples[("kubelvs_agent_reconcile_duration_seconds_bucket", labels(le="0.5"))] == 2
    operations = {
        (dict(k)["kind"], dict(k)["result"]): v
        for (name, k), v in samples.items()
        if name == "kubelvs_agent_operations_total"
    }
    assert operations == {
        ("ipvs.add_service", "ok"): 3,
        ("address.add", "ok"): 1,
        ("ipvs.add_destination", "error"): 1,
        ("other", "error"): 1,
    }


def test_timed_runs_the_pass_and_observes_it() -> None:
    metrics = AgentMetrics("node-a", FakeIpvs())
    outcome = metrics.timed(lambda: Outcome(writes=Counter({"sysctl.write": 1})))
    assert outcome.writes["sysctl.write"] == 1
    samples = scrape(metrics)
    assert samples[("kubelvs_agent_reconcile_duration_seconds_count", labels())] == 1
    assert samples[("kubelvs_agent_operations_total", labels(kind="sysctl.write", result="ok"))] == 1


def test_two_agents_in_one_process_do_not_share_metrics() -> None:
    first, second = AgentMetrics("node-a", FakeIpvs()), AgentMetrics("node-b", FakeIpvs())
    first.observe(1.0, Outcome())
    assert scrape(second)[("kubelvs_agent_reconcile_duration_seconds_count", labels())] == 0
