"""TCP_CHECK against real listeners on loopback: down after the retries, up again on the first success."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, TcpChecker, Transition
from kubelvs.api.enums import HealthCheckType


def free_port() -> int:
    """A loopback port nobody listens on (bound once, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def listen(port: int = 0) -> asyncio.Server:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(hang_up, "127.0.0.1", port, reuse_address=True)


def spec(port: int, **changes: object) -> CheckSpec:
    settings: dict[str, object] = dict(interval=0.3, connect_timeout=0.5, retries=1, delay_before_retry=0.1)
    settings.update(changes)
    return CheckSpec(HealthCheckType.TCP, "127.0.0.1", port, **settings)  # type: ignore[arg-type]


async def until(predicate, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "condition not met in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("retries", "delay"),
    [pytest.param(1, 0.1, id="one-attempt"), pytest.param(3, 0.3, id="three-attempts-spaced")],
)
async def test_a_closed_port_goes_down_after_the_retries(retries, delay):
    changes: list[tuple[float, Transition[str]]] = []
    started = time.monotonic()
    engine = HealthEngine(
        {HealthCheckType.TCP: TcpChecker()}, lambda t: changes.append((time.monotonic(), t)), jitter=False
    )
    async with engine:
        engine.set_targets({"web-1": spec(free_port(), retries=retries, delay_before_retry=delay)})
        assert engine.states() == {"web-1": Health.UNKNOWN}
        await until(lambda: changes, timeout=3)
    ((at, transition),) = changes
    assert (transition.old, transition.new) == (Health.UNKNOWN, Health.DOWN)
    assert "Connection refused" in transition.result.detail
    # retries attempts, spaced by delayBeforeRetry: never earlier than (retries - 1) delays.
    assert at - started >= (retries - 1) * delay
    assert at - started < (retries - 1) * delay + 0.5


async def test_a_server_that_comes_back_goes_up_on_the_first_success():
    port = free_port()
    changes: list[Transition[str]] = []
    async with HealthEngine({HealthCheckType.TCP: TcpChecker()}, changes.append, jitter=False) as engine:
        engine.set_targets({"web-1": spec(port, retries=3, delay_before_retry=0.1)})
        await until(lambda: engine.states()["web-1"] is Health.DOWN, timeout=3)
        server = await listen(port)
        try:
            took = await until(lambda: engine.states()["web-1"] is Health.UP, timeout=3)
        finally:
            server.close()
    assert took <= 0.3 + 0.4  # about one interval: a down target is probed once per cycle
    assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.DOWN), (Health.DOWN, Health.UP)]


async def test_the_connect_timeout_is_honoured():
    # A listener that never accepts, its backlog full: the kernel drops further SYNs, connects hang.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
        await asyncio.sleep(0.1)
        try:
            started = time.monotonic()
            result = await TcpChecker().check(spec(listener.getsockname()[1]), timeout=0.4)
            took = time.monotonic() - started
        finally:
            for filler in fillers:
                filler.close()
    assert not result.ok
    assert "timed out after 0.4s" in result.detail
    assert 0.4 <= took < 0.8  # the timeout, plus scheduling slack on a busy host
