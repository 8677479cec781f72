"""A watch mirror whose list fails records since when (what /readyz compares with the resync period), keeps
that time over the retries, and clears it once a list succeeds. The Mirror is the real one; the API call is a
stub that fails while told to and otherwise lists nothing and holds its watch open."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException

from kubelvs.agent.watching import Mirror

PATIENCE = 10.0


class OpenWatch:
    """A watch response that sends nothing until closed."""

    status = 200

    def __init__(self) -> None:
        self.closed = threading.Event()

    def stream(self, amt: object = None, decode_content: object = None) -> Iterator[bytes]:
        self.closed.wait(PATIENCE)
        yield from ()

    def close(self) -> None:
        self.closed.set()

    shutdown = close

    def release_conn(self) -> None:
        return None


class Api:
    def __init__(self) -> None:
        self.failing = True
        self.lists = 0

    def list(self, **args: Any) -> Any:
        if args.get("watch"):
            return OpenWatch()
        self.lists += 1
        if self.failing:
            raise ApiException(status=503, reason="Service Unavailable")
        response = type("Listed", (), {})()
        response.data = b'{"items": [], "metadata": {"resourceVersion": "7"}}'
        return response


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "not within the test's patience"
        time.sleep(0.01)


def test_failing_since_is_set_kept_and_cleared() -> None:
    api = Api()
    mirror = Mirror("RealServers", api.list, lambda: None)
    started = time.monotonic()
    mirror.start()
    try:
        wait_for(lambda: mirror.failing_since is not None)
        first = mirror.failing_since
        assert first is not None and started <= first <= time.monotonic()
        wait_for(lambda: api.lists >= 2)  # retried after its back-off, still failing
        assert mirror.failing_since == first and not mirror.synced.is_set()
        api.failing = False
        wait_for(lambda: mirror.failing_since is None)  # cleared right after the list that succeeded
        assert mirror.synced.is_set()
    finally:
        mirror.stop()
