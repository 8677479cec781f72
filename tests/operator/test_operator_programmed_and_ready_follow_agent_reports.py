"""Programmed and Ready follow what the active director's agent reports; changes are announced as Events."""

from __future__ import annotations

import pytest
from conftest import API_VERSION, condition, events, fetch, real_server, report, settled, virtual_server
from emulator import wait_for

pytestmark = pytest.mark.usefixtures("operator")

CHECKED = {"healthCheck": {"type": "tcp"}}


@pytest.fixture(scope="module", autouse=True)
def services(api, operator):
    api.create("virtualservers", virtual_server("web", address="192.0.2.60", **CHECKED))
    api.create("realservers", real_server("web-1", "web", address="10.0.0.1"))
    api.create("realservers", real_server("web-2", "web", address="10.0.0.2"))
    api.create("virtualservers", virtual_server("plain", address="192.0.2.61"))
    api.create("realservers", real_server("plain-1", "plain", address="10.0.0.3"))
    for name in ("web-1", "web-2", "plain-1"):
        settled(api, "realservers", name, "Accepted", "True")


def status(api, name):
    return fetch(api, "virtualservers", name)["status"]


def test_programmed_when_the_director_reports_the_generation(api):
    report(api, "virtualservers", "web", activeDirector="node-a", programmedGeneration=1)

    vs = settled(api, "virtualservers", "web", "Programmed", "True")
    assert "node-a" in condition(vs, "Programmed")["message"]
    assert condition(vs, "Reconciling") is None
    assert condition(vs, "Ready")["reason"] == "NoHealthyRealServers"
    assert vs["status"]["ready"] == "0/2"
    rs = settled(api, "realservers", "web-1", "Ready", "Unknown", "HealthUnknown")
    assert condition(rs, "Reconciling") is None


def test_ready_with_one_healthy_real_server(api):
    report(api, "realservers", "web-1", health="Healthy", effectiveWeight=1)

    settled(api, "realservers", "web-1", "Ready", "True", "Healthy")
    vs = settled(api, "virtualservers", "web", "Ready", "True")
    assert (vs["status"]["readyRealServers"], vs["status"]["totalRealServers"], vs["status"]["ready"]) == (
        1,
        2,
        "1/2",
    )


def test_a_failing_backend_is_announced_down_and_then_up(api):
    report(api, "realservers", "web-1", health="Unhealthy", effectiveWeight=0)
    settled(api, "realservers", "web-1", "Ready", "False", "Unhealthy")
    settled(api, "virtualservers", "web", "Ready", "False", "NoHealthyRealServers")
    down = wait_for(lambda: events(api, "RealServer", "web-1", "BackendDown"))
    assert down[0]["type"] == "Warning" and "10.0.0.1" in down[0]["message"]

    report(api, "realservers", "web-1", health="Healthy", effectiveWeight=1)
    settled(api, "virtualservers", "web", "Ready", "True")
    assert wait_for(lambda: events(api, "RealServer", "web-1", "BackendUp"))


def test_a_new_active_director_is_announced_as_failover(api):
    report(api, "virtualservers", "web", activeDirector="node-b")

    failover = wait_for(lambda: events(api, "VirtualServer", "web", "Failover"))
    assert "from node-a to node-b" in failover[0]["message"]
    assert "node-b" in condition(fetch(api, "virtualservers", "web"), "Programmed")["message"]


def test_a_spec_change_is_pending_until_the_director_programs_it(api):
    api.patch(API_VERSION, "virtualservers", "default", "web", {"spec": {"scheduler": "rr"}})
    vs = settled(api, "virtualservers", "web", "Programmed", "False", "Pending")
    assert condition(vs, "Reconciling")["status"] == "True"  # kstatus: InProgress
    assert condition(vs, "Ready")["status"] == "False"

    report(api, "virtualservers", "web", programmedGeneration=2)
    vs = settled(api, "virtualservers", "web", "Ready", "True")
    assert condition(vs, "Reconciling") is None


def test_without_health_checks_a_programmed_real_server_is_ready(api):
    rs = fetch(api, "realservers", "plain-1")
    assert condition(rs, "Ready")["reason"] == "VirtualServerNotProgrammed"

    report(api, "virtualservers", "plain", activeDirector="node-a", programmedGeneration=1)
    settled(api, "realservers", "plain-1", "Ready", "True", "NoHealthCheck")
    assert settled(api, "virtualservers", "plain", "Ready", "True")["status"]["ready"] == "1/1"
