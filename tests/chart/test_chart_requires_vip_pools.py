"""An empty ``config.vipPools`` fails ``helm template``, naming the value and the opt-out, unless the user sets
``config.allowAnyVIP: true``; with pools the chart renders and the opt-out changes nothing (issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

RenderExactly = Callable[[dict[str, Any]], list[dict[str, Any]]]


def args_of(objects: list[dict[str, Any]], kind: str) -> list[str]:
    (workload,) = [o for o in objects if o["kind"] == kind]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return [str(arg) for arg in container["args"]]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"config": {"vipPools": []}}, id="empty-list"),
        pytest.param({"config": {"allowAnyVIP": False}}, id="opt-out-false"),
    ],
)
def test_empty_pools_fail_naming_the_value_and_the_opt_out(
    render_exactly: RenderExactly, values: dict[str, Any]
) -> None:
    with pytest.raises(AssertionError) as failure:  # conftest's HelmError: helm exited non-zero
        render_exactly(values)
    message = str(failure.value)
    assert "config.vipPools is empty" in message, message
    assert "any address could then be claimed as a VIP" in message
    assert "config.allowAnyVIP=true" in message


def test_the_opt_out_renders_both_processes_without_pools(render_exactly: RenderExactly) -> None:
    objects = render_exactly({"config": {"allowAnyVIP": True}})
    for kind in ("DaemonSet", "Deployment"):
        args = args_of(objects, kind)
        assert not [arg for arg in args if arg.startswith("--vip-pools")], args


@pytest.mark.parametrize("allow_any", [False, True], ids=["pools", "pools-and-opt-out"])
def test_pools_render_for_both_processes(render_exactly: RenderExactly, allow_any: bool) -> None:
    objects = render_exactly({"config": {"vipPools": ["192.0.2.0/24", "2001:db8::/64"], "allowAnyVIP": allow_any}})
    for kind in ("DaemonSet", "Deployment"):
        assert "--vip-pools=192.0.2.0/24,2001:db8::/64" in args_of(objects, kind)


def test_the_opt_out_must_be_a_boolean(template_error: Callable[[dict[str, Any]], str]) -> None:
    message = template_error({"config": {"allowAnyVIP": "yes"}})
    assert "/config/allowAnyVIP" in message and "boolean" in message, message
