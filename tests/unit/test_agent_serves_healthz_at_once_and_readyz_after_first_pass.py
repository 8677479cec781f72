"""/healthz and /readyz on the metrics server (a real HTTP server on loopback): /healthz answers 200 as soon as
the agent's loop runs and 503 once it stops; /readyz is 503 with its reason until the first pass, 200 after, and
503 again while the sources are out of sync; /metrics is still served beside them."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from fakes import FakeIpvs

from kubelvs.agent import health_endpoints
from kubelvs.agent.health_endpoints import Readiness
from kubelvs.agent.metrics import AgentMetrics


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Loop:
    """An event loop running in a thread, as the agent's runs in its main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def lag() -> list[str | None]:
    return [None]


@pytest.fixture
def served(lag: list[str | None]) -> Iterator[tuple[int, Readiness, Loop]]:
    readiness = Readiness(lambda: lag[0])
    loop = Loop()
    readiness.watch_loop(loop.loop)
    metrics = AgentMetrics("node-a", FakeIpvs())
    port = metrics.serve(0, "127.0.0.1", readiness)
    try:
        yield port, readiness, loop
    finally:
        metrics.close()
        if not loop.loop.is_closed():
            loop.stop()


def test_healthz_answers_at_once_and_fails_when_the_loop_is_gone(served) -> None:  # type: ignore[no-untyped-def]
    port, _, loop = served
    assert get(port, "/healthz") == (200, "ok\n")
    loop.stop()
    assert get(port, "/healthz") == (503, "the event loop is closed\n")


def test_healthz_fails_while_the_loop_is_stuck(served, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    port, _, loop = served
    monkeypatch.setattr(health_endpoints, "LOOP_ANSWER_TIMEOUT", 0.2)
    release = threading.Event()
    loop.loop.call_soon_threadsafe(release.wait, 10)  # a blocking call on the loop: nothing else runs
    try:
        assert get(port, "/healthz") == (503, "the event loop did not answer within 0.2 s\n")
    finally:
        release.set()
    assert get(port, "/healthz") == (200, "ok\n")


def test_readyz_turns_ready_after_the_first_pass_and_back_on_lost_sync(served, lag) -> None:  # type: ignore[no-untyped-def]
    port, readiness, _ = served
    assert get(port, "/readyz") == (503, "the first pass has not adopted the kernel state yet\n")
    readiness.first_pass_done()
    assert get(port, "/readyz") == (200, "ok\n")
    lag[0] = "the watch of RealServers has been failing for 45 s"
    assert get(port, "/readyz") == (503, "the watch of RealServers has been failing for 45 s\n")
    lag[0] = None
    assert get(port, "/readyz") == (200, "ok\n")


def test_metrics_are_still_served_beside_them(served) -> None:  # type: ignore[no-untyped-def]
    port, _, _ = served
    status, body = get(port, "/metrics")
    assert status == 200 and "kubelvs_agent_reconcile_duration_seconds" in body
