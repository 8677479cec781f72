"""The engine reports changes only, and follows the set of targets it is given."""

from __future__ import annotations

import asyncio

import pytest

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, Result, Transition
from kubelvs.api.enums import HealthCheckType
from kubelvs.api.models import HealthCheck


async def count_connections() -> tuple[asyncio.Server, list[int]]:
    connections: list[int] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    return await asyncio.start_server(accept, "127.0.0.1", 0), connections


def tcp(port: int, interval: float = 0.1) -> CheckSpec:
    return CheckSpec(HealthCheckType.TCP, "127.0.0.1", port, interval=interval, connect_timeout=0.5)


async def test_only_changes_are_notified():
    from kubelvs.agent.health import TcpChecker

    server, connections = await count_connections()
    port = server.sockets[0].getsockname()[1]
    changes: list[Transition[str]] = []
    async with HealthEngine({HealthCheckType.TCP: TcpChecker()}, changes.append, jitter=False) as engine:
        engine.set_targets({"web-1": tcp(port)})
        await asyncio.sleep(0.55)
        assert len(connections) >= 4  # checked again and again ...
        assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.UP)]  # ... reported once
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.55)
    assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.UP), (Health.UP, Health.DOWN)]


async def test_targets_are_added_changed_and_removed():
    from kubelvs.agent.health import TcpChecker

    server, connections = await count_connections()
    port = server.sockets[0].getsockname()[1]
    async with HealthEngine({HealthCheckType.TCP: TcpChecker()}, jitter=False) as engine:
        engine.set_targets({"web-1": tcp(port), "web-2": tcp(port)})
        await asyncio.sleep(0.25)
        assert engine.states() == {"web-1": Health.UP, "web-2": Health.UP}
        engine.set_targets({"web-1": tcp(port, interval=0.2)})  # web-2 removed, web-1 slower: health kept
        assert engine.states() == {"web-1": Health.UP}
        seen = len(connections)
        await asyncio.sleep(0.5)
        assert 2 <= len(connections) - seen <= 4  # one target at 0.2 s, not two at 0.1 s
    server.close()


async def test_unknown_counts_as_serving_and_none_is_not_checked():
    async with HealthEngine({}, jitter=False) as engine:
        engine.set_targets({"web-1": CheckSpec(HealthCheckType.NONE, "127.0.0.1", 80)})
        assert engine.states() == {}
    assert Health.UNKNOWN.serving and Health.UP.serving and not Health.DOWN.serving


async def test_a_type_without_a_checker_is_refused():
    async with HealthEngine({}) as engine:
        with pytest.raises(ValueError, match="'http' of 'web-1' has no checker"):
            engine.set_targets({"web-1": CheckSpec(HealthCheckType.HTTP, "127.0.0.1", 80)})
        assert engine.states() == {}


class Exploding:
    async def check(self, target: CheckSpec, timeout: float) -> Result:
        raise RuntimeError("bug in a checker")

    async def close(self) -> None:
        pass


async def test_a_failing_checker_marks_down_and_keeps_checking():
    changes: list[Transition[str]] = []
    async with HealthEngine({HealthCheckType.TCP: Exploding()}, changes.append, jitter=False) as engine:
        engine.set_targets({"web-1": tcp(1)})
        await asyncio.sleep(0.25)
        assert engine.states() == {"web-1": Health.DOWN}
    assert changes[0].result.detail == "checker error: bug in a checker"


def test_spec_from_the_api_model_uses_connect_port_and_http_settings():
    check = HealthCheck.model_validate(
        {
            "type": "http",
            "interval": "2s",
            "retries": 3,
            "port": 8080,
            "http": {"path": "/z", "expectStatus": [204]},
        }
    )
    spec = CheckSpec.from_model(check, "192.0.2.48", 80)
    assert (spec.port, spec.interval, spec.retries, spec.path, spec.expect_status) == (8080, 2.0, 3, "/z", {204})
    assert CheckSpec.from_model(HealthCheck(), "192.0.2.48", 80).port == 80
