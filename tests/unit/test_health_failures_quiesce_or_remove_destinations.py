"""Health is a planner input: onFailure quiesces a failing destination (weight 0) or drops it (remove)."""

from __future__ import annotations

import pytest

from kubelvs.agent.health import CheckSpec, Health
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.netstate import NodeState
from kubelvs.planner import NodeFacts, Planner, health_checks, plan

NODE = NodeFacts("node-a", {"director": "yes"}, frozenset({"10.0.0.1"}), {})


Objects = tuple[list[VirtualServer], list[RealServer]]


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
    rss = [
        RealServer.model_validate(
            {
                "apiVersion": "lvs.kubelvs.io/v1alpha1",
                "kind": "RealServer",
                "metadata": {"name": f"web-{index}"},
                "spec": {"virtualServer": "web", "address": f"192.0.2.{47 + index}", "weight": 5},
            }
        )
        for index in (1, 2)
    ]
    return [vs], rss


def with_health(given: Objects, health: dict[str, Health]) -> NodeState:
    """The plan of a kept planner told which real servers fail their checks."""
    planner = Planner()
    planner.replace_all(*given)
    planner.plan(NODE, frozenset())
    planner.set_health([key for key, state in health.items() if not state.serving])
    return planner.plan(NODE, frozenset()).state


def health_targets(given: Objects, facts: NodeFacts) -> dict[str, CheckSpec]:
    return {key: CheckSpec.from_model(*check) for key, check in health_checks(*given, facts).items()}


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
    planned = plan(*given, NODE, frozenset()).state
    health = {"default/web-1": Health.UP, "default/web-2": Health.DOWN}
    assert weights(with_health(given, health)) == expected
    assert weights(planned) == {"192.0.2.48": 5, "192.0.2.49": 5}  # without health input: as the spec says


def test_unknown_health_keeps_serving_and_unchecked_servers_are_untouched():
    given = objects("quiesce")
    assert weights(with_health(given, {})) == {"192.0.2.48": 5, "192.0.2.49": 5}
    unchecked = objects(None)
    planned = plan(*unchecked, NODE, frozenset()).state
    assert weights(with_health(unchecked, {"default/web-2": Health.DOWN})) == weights(planned)


def test_a_recovered_real_server_gets_its_weight_back_and_only_its_share_is_made_again():
    planner = Planner()
    planner.replace_all(*objects("quiesce"))
    before = planner.plan(NODE, frozenset()).state
    planner.set_health(["default/web-2"])
    assert weights(planner.plan(NODE, frozenset()).state) == {"192.0.2.48": 5, "192.0.2.49": 0}
    planner.set_health([])
    after = planner.plan(NODE, frozenset()).state
    assert weights(after) == weights(before)


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
