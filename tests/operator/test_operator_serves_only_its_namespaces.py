"""With ``--namespace``, the operator judges and writes only objects of its namespaces."""

from __future__ import annotations

import pytest
from conftest import API_VERSION, condition, real_server, virtual_server
from emulator import wait_for

pytestmark = pytest.mark.usefixtures("operator")


@pytest.fixture(scope="module")
def operator_namespaces(api):
    # kopf serves a named namespace only once it sees the Namespace object.
    for name in ("team-a", "team-b"):
        api.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return ("team-a",)


def test_objects_elsewhere_are_left_alone(api):
    api.create("virtualservers", virtual_server("web", namespace="team-b", address="192.0.2.70"))
    api.create("virtualservers", virtual_server("web", namespace="team-a", address="192.0.2.71"))
    api.create("realservers", real_server("web-1", "web", namespace="team-a"))

    served = wait_for(lambda: api.get(API_VERSION, "realservers", "team-a", "web-1").get("status"))
    assert served["conditions"][0]["status"] == "True"
    vs = api.get(API_VERSION, "virtualservers", "team-a", "web")
    assert condition(vs, "Accepted")["status"] == "True"
    assert vs["status"]["ready"] == "0/1"
    # The same passes never saw team-b: no status, no finalizer.
    other = api.get(API_VERSION, "virtualservers", "team-b", "web")
    assert "status" not in other
    assert not other["metadata"].get("finalizers")
