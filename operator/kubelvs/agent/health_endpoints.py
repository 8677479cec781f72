"""The agent's ``/healthz`` and ``/readyz``, served beside ``/metrics`` on the same port (kubelet probes).

``/healthz``: the agent's event loop runs -- the request hands the loop a no-op and waits for it, so a loop
that stopped or hangs answers 503. ``/readyz``: 200 once the first pass has adopted the kernel state from
synced sources, and while the sources stay synced; 503 with a one-line reason otherwise. Both answer in
plain text, one line; every other path goes to the metrics application.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

LOOP_ANSWER_TIMEOUT = 5.0  # seconds the loop may take to run a no-op before /healthz calls it stuck

SourcesLag = Callable[[], str | None]
"""Why the sources are not synced now (one line), or None when they are."""


class Readiness:
    """Whether the agent may take traffic: its first pass done, its sources synced; safe from any thread."""

    def __init__(self, sources: SourcesLag | None = None) -> None:
        self._sources = sources
        self._first_pass = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop /healthz proves alive."""
        self._loop = loop

    def first_pass_done(self) -> None:
        self._first_pass.set()

    def not_ready(self) -> str | None:
        """Why the agent is not ready, or None when it is."""
        if not self._first_pass.is_set():
            return "the first pass has not adopted the kernel state yet"
        return self._sources() if self._sources is not None else None

    def not_alive(self) -> str | None:
        """Why the agent is not alive (its loop gone or stuck), or None."""
        loop = self._loop
        if loop is None:
            return "the event loop has not started"
        answered: concurrent.futures.Future[None] = concurrent.futures.Future()
        try:
            loop.call_soon_threadsafe(answered.set_result, None)
        except RuntimeError:  # the loop is closed
            return "the event loop is closed"
        try:
            answered.result(timeout=LOOP_ANSWER_TIMEOUT)
        except concurrent.futures.TimeoutError:
            return f"the event loop did not answer within {LOOP_ANSWER_TIMEOUT:g} s"
        return None


def routed(metrics: WSGIApplication, readiness: Readiness) -> WSGIApplication:
    """``/healthz`` and ``/readyz`` from ``readiness``, every other path from ``metrics``."""
    checks = {"/healthz": readiness.not_alive, "/readyz": readiness.not_ready}

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        check = checks.get(environ.get("PATH_INFO", ""))
        if check is None:
            return metrics(environ, start_response)
        problem = check()
        body = f"{problem or 'ok'}\n".encode()
        status = "503 Service Unavailable" if problem else "200 OK"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    return application
