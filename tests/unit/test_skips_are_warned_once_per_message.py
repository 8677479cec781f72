"""A VIP the node cannot bind (no default route) is a WARNING, said once, not a line on every pass."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from reconciling import Node

from kubelvs.agent.options import StandaloneOptions as Options
from kubelvs.agent.skips import SkipLog
from kubelvs.agent.standalone import StandaloneAgent
from kubelvs.planner import Skip

API = "lvs.kubelvs.io/v1alpha1"
NO_ROUTE = "not bound: this node has no default route for its family; set spec.directors.interface"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    caplog.clear()
    return lines


@pytest.mark.parametrize(
    ("passes", "expected"),
    [
        pytest.param([["a"], ["a"], ["a"]], [["a"], [], []], id="same-skip-said-once"),
        pytest.param([["a"], ["a", "b"], ["b"]], [["a"], ["b"], []], id="a-new-one-is-said"),
        pytest.param([["a"], [], ["a"]], [["a"], [], ["a"]], id="gone-and-back-said-again"),
    ],
)
def test_skip_log_warns_only_new_skips(
    passes: list[list[str]], expected: list[list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    log = SkipLog()
    with caplog.at_level(logging.WARNING):
        for skips, said in zip(passes, expected, strict=True):
            log.report(Skip(f"VirtualServer default/{name}", "reason") for name in skips)
            assert warnings(caplog) == [f"skipped VirtualServer default/{name}: reason" for name in said]


def test_standalone_director_without_a_default_route_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web.yaml"
    web = {"apiVersion": API, "kind": "VirtualServer", "metadata": {"name": "web"}}
    path.write_text(yaml.safe_dump({**web, "spec": {"address": "192.0.2.100", "port": 80}}))
    node = Node.new()
    node.addresses.defaults = {}  # no default route: no interface to bind the VIP on
    agent = StandaloneAgent(Options((str(path),), "dir1", {}, (), None, 30.0, 300.0, (0, 0, 0)), node.kernel())
    with caplog.at_level(logging.WARNING):
        agent.run_pass(full=True)
        assert warnings(caplog) == [f"skipped VirtualServer default/web: 192.0.2.100 {NO_ROUTE}"]
        agent.run_pass(full=True)
        agent.run_pass(full=False)
        assert warnings(caplog) == []
    assert set(node.ipvs.table)  # the IPVS rules are programmed all the same
