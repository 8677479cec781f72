"""Which Kubernetes Events a change deserves: pure functions from old and new status to notices.

Acceptance and backend health are read from the conditions the operator wrote before, so a restarted
operator does not repeat Events for what it already announced. Failover compares the active director
with the one seen last by this process (seeded silently at start-up): a failover that happened while no
operator ran is visible in ``status.activeDirector`` but gets no Event.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubelvs.controller.conditions import Type, condition

logger = logging.getLogger(__name__)


class Severity(enum.StrEnum):
    """Kubernetes Event types."""

    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Notice:
    """One Event to post on one object."""

    severity: Severity
    reason: str
    message: str


def acceptance(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Notice]:
    """Accepted / Rejected when the Accepted condition changes (a new rejection message counts too)."""
    before, after = condition(old, Type.ACCEPTED), condition(new, Type.ACCEPTED)
    if after is None:
        return []
    same = before is not None and (before.get("status"), before.get("message")) == (
        after.get("status"),
        after.get("message"),
    )
    if same:
        return []
    if after.get("status") == "True":
        return [Notice(Severity.NORMAL, "Accepted", str(after.get("message", "")))]
    return [Notice(Severity.WARNING, "Rejected", f"{after.get('reason')}: {after.get('message')}")]


def backend_health(old: Mapping[str, Any], new: Mapping[str, Any], target: str) -> list[Notice]:
    """BackendDown / BackendUp when a RealServer's Ready condition moves into or out of Unhealthy."""
    before, after = condition(old, Type.READY), condition(new, Type.READY)
    was = before.get("reason") if before is not None else None
    now = after.get("reason") if after is not None else None
    if now == "Unhealthy" and was != "Unhealthy":
        return [Notice(Severity.WARNING, "BackendDown", f"{target} fails its health checks")]
    if was == "Unhealthy" and now == "Healthy":
        return [Notice(Severity.NORMAL, "BackendUp", f"{target} passes its health checks again")]
    return []


def failover(before: str | None, after: str | None) -> list[Notice]:
    """Failover when the active director changes; NoActiveDirector when none holds the VIP any more."""
    if before == after or before is None:
        return []
    if after is None:
        return [Notice(Severity.WARNING, "NoActiveDirector", f"director {before} no longer holds the VIP")]
    return [Notice(Severity.NORMAL, "Failover", f"active director moved from {before} to {after}")]
