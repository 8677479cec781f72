"""observedGeneration follows spec changes; transition times move only when a condition's status does."""

from __future__ import annotations

import pytest
from conftest import API_VERSION, condition, fetch, report, settled, virtual_server
from emulator import wait_for

pytestmark = pytest.mark.usefixtures("operator")


@pytest.fixture(scope="module", autouse=True)
def service(api, operator):
    api.create("virtualservers", virtual_server("web", address="192.0.2.50"))
    return settled(api, "virtualservers", "web", "Accepted", "True")


def edit(api, **spec):
    api.patch(API_VERSION, "virtualservers", "default", "web", {"spec": spec})


def observed(api, generation):
    obj = fetch(api, "virtualservers", "web")
    return obj if obj["status"].get("observedGeneration") == generation else None


def test_a_spec_change_is_observed(api, service):
    edit(api, scheduler="rr")

    obj = wait_for(lambda: observed(api, 2))
    assert obj["metadata"]["generation"] == 2
    assert {item["observedGeneration"] for item in obj["status"]["conditions"]} == {2}
    # Still accepted: the transition time is the first one.
    before = condition(service, "Accepted")["lastTransitionTime"]
    assert condition(obj, "Accepted")["lastTransitionTime"] == before


def test_an_invalid_spec_change_is_rejected_at_its_generation(api):
    edit(api, schedulerFlags=["mh-port"])

    obj = settled(api, "virtualservers", "web", "Accepted", "False", "InvalidSpec")
    assert obj["metadata"]["generation"] == obj["status"]["observedGeneration"] == 3
    assert "spec.schedulerFlags[0]" in condition(obj, "Accepted")["message"]


def test_fixing_the_spec_accepts_it_again(api):
    edit(api, schedulerFlags=None)

    obj = settled(api, "virtualservers", "web", "Accepted", "True")
    assert obj["status"]["observedGeneration"] == 4
    assert condition(obj, "Stalled") is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda api: report(api, "virtualservers", "web", activeDirector="node-a"), id="status"),
        pytest.param(
            lambda api: api.patch(
                API_VERSION, "virtualservers", "default", "web", {"metadata": {"labels": {"a": "b"}}}
            ),
            id="labels",
        ),
    ],
)
def test_status_and_metadata_writes_keep_the_generation(api, change):
    change(api)
    assert fetch(api, "virtualservers", "web")["metadata"]["generation"] == 4
