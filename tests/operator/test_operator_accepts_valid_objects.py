"""A valid VirtualServer and its RealServer are accepted, finalized, announced and kstatus-readable."""

from __future__ import annotations

import time

import pytest
from conftest import condition, events, fetch, real_server, settled, virtual_server
from emulator import wait_for
from prometheus_client import REGISTRY

pytestmark = pytest.mark.usefixtures("operator")


def test_valid_virtual_server_is_accepted_and_waits_for_a_director(api):
    api.create("virtualservers", virtual_server("web", address="192.0.2.10"))
    api.create("realservers", real_server("web-1", "web", address="10.0.0.1"))

    vs = settled(api, "virtualservers", "web", "Accepted", "True")
    assert vs["status"]["observedGeneration"] == vs["metadata"]["generation"] == 1
    assert condition(vs, "Programmed")["reason"] == "NoActiveDirector"
    assert condition(vs, "Ready")["status"] == "False"
    # kstatus: InProgress while the agent has not programmed it; nothing is Stalled.
    assert condition(vs, "Reconciling")["status"] == "True"
    assert condition(vs, "Stalled") is None
    assert wait_for(lambda: fetch(api, "virtualservers", "web")["status"]["totalRealServers"] == 1)
    assert fetch(api, "virtualservers", "web")["status"]["ready"] == "0/1"


@pytest.mark.parametrize(
    ("plural", "name"),
    [
        pytest.param("virtualservers", "web", id="virtual-server"),
        pytest.param("realservers", "web-1", id="real-server"),
    ],
)
def test_accepted_objects_carry_the_finalizer(api, plural, name):
    assert wait_for(
        lambda: "lvs.kubelvs.io/finalizer" in fetch(api, plural, name)["metadata"].get("finalizers", [])
    )


def test_conditions_have_the_metav1_shape(api):
    vs = settled(api, "virtualservers", "web", "Accepted", "True")
    for item in vs["status"]["conditions"]:
        assert set(item) == {"type", "status", "reason", "message", "observedGeneration", "lastTransitionTime"}
        assert item["lastTransitionTime"].endswith("Z")


def test_acceptance_is_announced_once_as_an_event(api):
    settled(api, "realservers", "web-1", "Accepted", "True")
    accepted = wait_for(lambda: events(api, "VirtualServer", "web", "Accepted"))
    assert accepted[0]["type"] == "Normal"
    assert events(api, "RealServer", "web-1", "Accepted")
    assert len(events(api, "VirtualServer", "web", "Accepted")) == 1


def test_real_server_is_accepted_and_waits_for_its_service(api):
    rs = settled(api, "realservers", "web-1", "Accepted", "True")
    assert rs["status"]["observedGeneration"] == 1
    assert condition(rs, "Ready")["reason"] == "VirtualServerNotProgrammed"


def status_writes():
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "kubelvs_operator_status_writes"
        for sample in metric.samples
        if sample.name == "kubelvs_operator_status_writes_total"
    )


def test_a_settled_world_is_not_rewritten(api):
    """The operator's own status writes come back as watch events; they must not cause more writes."""
    settled(api, "realservers", "web-1", "Accepted", "True")
    time.sleep(0.5)
    before = status_writes()
    assert before > 0  # the counter is real: this module already wrote statuses
    time.sleep(1.5)
    assert status_writes() == before
    assert REGISTRY.get_sample_value("kubelvs_operator_reconciles_total", {"outcome": "clean"}) >= 1
