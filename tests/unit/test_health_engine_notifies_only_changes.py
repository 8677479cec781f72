"""The engine reports changes only, and follows the set of targets it is given."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from health_probes import EARLY, Recording, until

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, Result, TcpChecker, Transition
from kubelvs.api.enums import HealthCheckType
from kubelvs.api.models import HealthCheck


async def listener() -> tuple[asyncio.Server, int]:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def tcp(port: int, interval: float = 0.1) -> CheckSpec:
    return CheckSpec(HealthCheckType.TCP, "127.0.0.1", port, interval=interval, connect_timeout=0.5)


async def test_only_changes_are_notified():
    server, port = await listener()
    probe = Recording(TcpChecker())
    changes: list[Transition[str]] = []
    async with HealthEngine({HealthCheckType.TCP: probe}, changes.append, jitter=False) as engine:
        engine.set_targets({"web-1": tcp(port)})
        await until(lambda: len(probe.attempts) >= 4)  # checked again and again ...
        assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.UP)]  # ... reported once
        server.close()
        await server.wait_closed()
        await until(lambda: len(changes) == 2)
        failed = len(probe.attempts)
        await until(lambda: len(probe.attempts) >= failed + 3)  # failing again and again ...
    assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.UP), (Health.UP, Health.DOWN)]  # ... once


async def test_targets_are_added_changed_and_removed():
    (server_1, port_1), (server_2, port_2) = await listener(), await listener()
    probe = Recording(TcpChecker())
    async with HealthEngine({HealthCheckType.TCP: probe}, jitter=False) as engine:
        engine.set_targets({"web-1": tcp(port_1), "web-2": tcp(port_2)})
        await until(lambda: engine.states() == {"web-1": Health.UP, "web-2": Health.UP})
        changed = time.monotonic()
        engine.set_targets({"web-1": tcp(port_1, interval=0.2)})  # web-2 removed, web-1 slower: health kept
        assert engine.states() == {"web-1": Health.UP}
        await until(lambda: len(probe.starts(port_1, since=changed)) >= 4)
    assert probe.starts(port_2, since=changed) == []  # web-2 is not checked any more
    starts = probe.starts(port_1, since=changed)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.2 - EARLY, gaps  # one loop at 0.2 s, not the old one at 0.1 s beside it
    server_1.close()
    server_2.close()


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
    def __init__(self) -> None:
        self.calls = 0

    async def check(self, target: CheckSpec, timeout: float) -> Result:
        self.calls += 1
        raise RuntimeError("bug in a checker")

    async def close(self) -> None:
        pass


async def test_a_failing_checker_marks_down_and_keeps_checking():
    changes: list[Transition[str]] = []
    checker = Exploding()
    async with HealthEngine({HealthCheckType.TCP: checker}, changes.append, jitter=False) as engine:
        engine.set_targets({"web-1": tcp(1)})
        await until(lambda: checker.calls >= 3)  # the loop survives the checker's errors
        assert engine.states() == {"web-1": Health.DOWN}
    assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.DOWN)]
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
