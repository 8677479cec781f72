"""Real-server health checks like keepalived's: one engine owns timing, retries and state; checkers probe.

``HealthEngine(default_checkers(), on_change)`` is the usual start: TCP_CHECK, HTTP_GET and SSL_GET.
"""

from __future__ import annotations

from kubelvs.agent.health.engine import Checker, CheckSpec, Health, HealthEngine, Result, Transition
from kubelvs.agent.health.http import HttpChecker
from kubelvs.agent.health.tcp import TcpChecker
from kubelvs.api.enums import HealthCheckType

__all__ = [
    "CheckSpec",
    "Checker",
    "Health",
    "HealthEngine",
    "HttpChecker",
    "Result",
    "TcpChecker",
    "Transition",
    "default_checkers",
]


def default_checkers() -> dict[HealthCheckType, Checker]:
    """TCP_CHECK for tcp; one shared HTTP client for http (HTTP_GET) and https (SSL_GET)."""
    http = HttpChecker()
    return {HealthCheckType.TCP: TcpChecker(), HealthCheckType.HTTP: http, HealthCheckType.HTTPS: http}
