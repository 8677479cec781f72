"""onFailure applied to the planned state: quiesce keeps the destination at weight 0, remove drops it."""

from __future__ import annotations

import pytest

from kubelvs.agent.cluster import Objects, health_targets, with_health
from kubelvs.agent.health import Health
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.netstate import NodeState
from kubelvs.planner import NodeFacts, plan

NODE = NodeFacts("node-a", {"director": "yes"}, frozenset({"10.0.0.1"}), {})


def objects(on_failure: str | None) -> Objects:
    spec: dict = {"address": "192.0.2.10", "port": 80, "directors": {"nodeSelector": {"director": "yes"}}}
    if on_failure is not None:
        spec["healthCheck"] = {"type": "http", "port": 8080, "onFailure": on_failure, "http": {"path": "/z"}}
    vs = VirtualServer.model_validate(
        {
            "apiVersion": "lvs.kubelvs.io/v1alpha1",
            "kind": "VirtualServer",
            "metadata": {"name": "web"},
            "spec": spec,
        }
    )
    rss = tuple(
        RealServer.model_validate(
            {
                "apiVersion": "lvs.kubelvs.io/v1alpha1",
                "kind": "RealServer",
                "metadata": {"name": f"web-{index}"},
                "spec": {"virtualServer": "web", "address": f"192.0.2.{47 + index}", "weight": 5},
            }
        )
        for index in (1, 2)
    )
    return Objects((vs,), rss, NODE.labels)


def weights(state: NodeState) -> dict[str, int]:
    return {key.address: dest.weight for key, dest in state.destinations.items()}


@pytest.mark.parametrize(
    ("on_failure", "expected"),
    [
        pytest.param("quiesce", {"192.0.2.48": 5, "192.0.2.49": 0}, id="quiesce-weight-0"),
        pytest.param("remove", {"192.0.2.48": 5}, id="remove-destination"),
    ],
)
def test_a_failed_real_server_is_quiesced_or_removed(on_failure, expected):
    given = objects(on_failure)
    planned = plan(given.virtual_servers, given.real_servers, NODE, frozenset()).state
    health = {"default/web-1": Health.UP, "default/web-2": Health.DOWN}
    assert weights(with_health(planned, given, health)) == expected
    assert weights(planned) == {"192.0.2.48": 5, "192.0.2.49": 5}  # the plan itself is left alone


def test_unknown_health_keeps_serving_and_unchecked_servers_are_untouched():
    given = objects("quiesce")
    planned = plan(given.virtual_servers, given.real_servers, NODE, frozenset()).state
    assert weights(with_health(planned, given, {})) == {"192.0.2.48": 5, "192.0.2.49": 5}
    unchecked = objects(None)
    planned = plan(unchecked.virtual_servers, unchecked.real_servers, NODE, frozenset()).state
    assert weights(with_health(planned, unchecked, {"default/web-2": Health.DOWN})) == weights(planned)


def test_every_director_checks_the_real_servers_on_the_check_port():
    targets = health_targets(objects("quiesce"), NODE)
    assert sorted(targets) == ["default/web-1", "default/web-2"]
    assert {(t.address, t.port, t.path) for t in targets.values()} == {
        ("192.0.2.48", 8080, "/z"),
        ("192.0.2.49", 8080, "/z"),
    }
    other = NodeFacts("node-b", {}, frozenset(), {})
    assert health_targets(objects("quiesce"), other) == {}  # not a director of it: no checks
    assert health_targets(objects(None), NODE) == {}
