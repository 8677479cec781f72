"""TCP_CHECK against real listeners on loopback: down after the retries, up again on the first success."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

import pytest
from health_probes import EARLY, Recording, until

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


@pytest.mark.parametrize(
    ("retries", "delay"),
    [pytest.param(1, 0.1, id="one-attempt"), pytest.param(3, 0.3, id="three-attempts-spaced")],
)
async def test_a_closed_port_goes_down_after_the_retries(retries, delay):
    probe = Recording(TcpChecker())
    changes: list[tuple[int, Transition[str]]] = []  # (attempts made by then, transition)
    engine = HealthEngine(
        {HealthCheckType.TCP: probe}, lambda t: changes.append((len(probe.attempts), t)), jitter=False
    )
    async with engine:
        port = free_port()
        engine.set_targets({"web-1": spec(port, retries=retries, delay_before_retry=delay)})
        assert engine.states() == {"web-1": Health.UNKNOWN}
        await until(lambda: changes)
    ((attempts, transition),) = changes
    assert (transition.old, transition.new) == (Health.UNKNOWN, Health.DOWN)
    assert "Connection refused" in transition.result.detail
    # Down with the last of `retries` attempts in the first cycle, not a cycle later; spaced by delayBeforeRetry.
    assert attempts == retries
    starts = probe.starts(port)[:retries]
    assert all(later - earlier >= delay - EARLY for earlier, later in itertools.pairwise(starts)), starts


async def test_a_server_that_comes_back_goes_up_on_the_first_success():
    port = free_port()
    probe = Recording(TcpChecker())
    changes: list[tuple[int, Transition[str]]] = []  # (attempts made by then, transition)
    engine = HealthEngine(
        {HealthCheckType.TCP: probe}, lambda t: changes.append((len(probe.attempts), t)), jitter=False
    )
    async with engine:
        engine.set_targets({"web-1": spec(port, retries=3, delay_before_retry=0.1)})
        await until(lambda: engine.states()["web-1"] is Health.DOWN)
        await until(lambda: len(probe.attempts) >= 3 + 3)  # three probes as a down target
        server = await listen(port)
        back = time.monotonic()
        try:
            await until(lambda: engine.states()["web-1"] is Health.UP)
        finally:
            server.close()
    assert [(t.old, t.new) for _, t in changes] == [(Health.UNKNOWN, Health.DOWN), (Health.DOWN, Health.UP)]
    outcomes = [attempt.result.ok for attempt in probe.attempts]
    first_success = outcomes.index(True)
    # Up with the first success, which came no later than the first attempt after the server was back.
    assert changes[1][0] == first_success + 1
    after_back = [i for i, attempt in enumerate(probe.attempts) if attempt.started >= back]
    assert first_success <= min(after_back, default=first_success)
    # A down target is probed once per cycle (interval 0.3 s), not retried 0.1 s apart.
    down = [attempt.started for attempt in probe.attempts[3 : first_success + 1]]
    assert all(later - earlier >= 0.3 - EARLY for earlier, later in itertools.pairwise(down)), down


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
            check = asyncio.ensure_future(TcpChecker().check(spec(listener.getsockname()[1]), timeout=0.4))
            await asyncio.sleep(0)  # the check has started its timeout ...
            await asyncio.sleep(0.4 * 1.5)  # ... before this timer: on a loaded host both are late alike
            in_time = check.done()
            result = await check
            took = time.monotonic() - started
        finally:
            for filler in fillers:
                filler.close()
    assert not result.ok
    assert "timed out after 0.4s" in result.detail  # the checker's own timeout ended the attempt ...
    assert in_time  # ... before a timer of 1.5 timeouts started after it fired (the kernel would wait minutes)
    assert took >= 0.4
