"""What the status says: the operator's share of VirtualServer and RealServer status, as plain dicts.

Conditions have the metav1.Condition shape (type, status, reason, message, observedGeneration,
lastTransitionTime); ``lastTransitionTime`` moves only when a condition's status changes, so rewriting
an unchanged status is a no-op and never loops.

kstatus (sigs.k8s.io/cli-utils, read by Flux's health checks and ``kubectl wait``-style tooling) decides
an object's health like this, and kube-lvs follows it:

1. ``status.observedGeneration`` below ``metadata.generation`` -> InProgress. The operator writes the
   generation it judged, so a spec change reads InProgress until it is judged.
2. ``Reconciling=True`` (an "abnormal-true" condition) -> InProgress. Set while an accepted object waits
   for the active director to program its generation (``status.programmedGeneration``).
3. ``Stalled=True`` (abnormal-true) -> Failed. Set while the object is rejected: nothing will change
   until a human edits it (or the conflicting object goes away).
4. Otherwise Current. ``Ready`` is the positive summary (``Ready == Accepted and Programmed and healthy``);
   Reconciling and Stalled are left out entirely while they are not True, as kstatus recommends.

So "all real servers down" is Current with ``Ready=False`` (NoHealthyRealServers): the object is fully
reconciled, the backends are what is unwell. Argo CD has no generic reading of conditions for custom
resources; a Lua health check that maps Stalled -> Degraded, Reconciling -> Progressing and
Ready=False -> Degraded gives it the same view.

Fields the active director's agent writes (``activeDirector``, ``programmedGeneration``, RealServer
``health``/``effectiveWeight``) are read here, never written.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kubelvs.api import status_fields as sf
from kubelvs.api.enums import HealthCheckType
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.controller.judging import Backends, Verdict

logger = logging.getLogger(__name__)

Status = Literal["True", "False", "Unknown"]


class Type(enum.StrEnum):
    """Condition types the operator owns."""

    ACCEPTED = "Accepted"
    PROGRAMMED = "Programmed"
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


OWNED_TYPES = frozenset(Type)

# Top-level status fields the operator owns (besides conditions); everything else belongs to the agent.
VIRTUAL_SERVER_FIELDS = (
    sf.OBSERVED_GENERATION,
    sf.CONDITIONS,
    sf.READY_REAL_SERVERS,
    sf.TOTAL_REAL_SERVERS,
    sf.READY,
)
REAL_SERVER_FIELDS = (sf.OBSERVED_GENERATION, sf.CONDITIONS)


@dataclass(frozen=True)
class RealServerFacts:
    """What a RealServer's status depends on besides its own body: its verdict and its parent's state."""

    verdict: Verdict
    parent_programmed: bool = False
    parent_checks_health: bool = True


def _generation(raw: Mapping[str, Any]) -> int | None:
    value = (raw.get("metadata") or {}).get("generation")
    return value if isinstance(value, int) else None


def _status(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    status = raw.get("status")
    return status if isinstance(status, Mapping) else {}


def _conditions(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[tuple[Type, Status, str, str]],
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """New conditions, keeping each old lastTransitionTime whose status did not change."""
    before = {item.get("type"): item for item in old if isinstance(item, Mapping)}
    result = []
    for kind, status, reason, message in new:
        previous = before.get(kind)
        unchanged = previous is not None and previous.get("status") == status
        since = str(previous.get(sf.LAST_TRANSITION_TIME)) if unchanged and previous is not None else now
        # kubelvs.api.models.Condition's metav1 shape, built directly: this runs per object per pass.
        result.append(
            {
                "type": str(kind),
                "status": status,
                "reason": reason,
                "message": message,
                sf.OBSERVED_GENERATION: generation,
                sf.LAST_TRANSITION_TIME: since,
            }
        )
    # Conditions someone else added (not ours) stay as they are.
    result.extend(dict(item) for item in old if isinstance(item, Mapping) and item.get("type") not in OWNED_TYPES)
    return result


def is_programmed(raw: Mapping[str, Any]) -> bool:
    """The active director reports the current generation as programmed."""
    status = _status(raw)
    generation = _generation(raw)
    return (
        bool(status.get(sf.ACTIVE_DIRECTOR))
        and generation is not None
        and (status.get(sf.PROGRAMMED_GENERATION) == generation)
    )


def checks_health(vs: VirtualServer) -> bool:
    check = vs.spec.health_check
    return check is not None and check.type != HealthCheckType.NONE


def is_healthy(raw: Mapping[str, Any], facts: RealServerFacts) -> bool:
    """A real server counts as ready: accepted, its service programmed, and passing (or not needing) checks."""
    if not facts.verdict.accepted or not facts.parent_programmed:
        return False
    health = _status(raw).get(sf.HEALTH)
    return health == "Healthy" or (health is None and not facts.parent_checks_health)


def virtual_server_status(
    raw: Mapping[str, Any], verdict: Verdict, ready: int, total: int, now: str, backends: Backends | None = None
) -> dict[str, Any]:
    """The operator's fields of a VirtualServer's status; ``backends``: its endpoints, if it follows a Service."""
    status = _status(raw)
    generation = _generation(raw)
    director = status.get(sf.ACTIVE_DIRECTOR)
    programmed_generation = status.get(sf.PROGRAMMED_GENERATION)
    new: list[tuple[Type, Status, str, str]] = []
    if not verdict.accepted:
        new += [
            (Type.ACCEPTED, "False", str(verdict.rejection), verdict.message),
            (Type.PROGRAMMED, "False", "NotAccepted", "a rejected service is not programmed"),
            (Type.READY, "False", "NotAccepted", verdict.message),
            (Type.STALLED, "True", str(verdict.rejection), verdict.message),
        ]
    else:
        new.append((Type.ACCEPTED, "True", "Accepted", "the service passed all checks"))
        if is_programmed(raw):
            message = f"generation {generation} is programmed; active director {director}"
            new.append((Type.PROGRAMMED, "True", "Programmed", message))
            counts = f"{ready}/{total} real servers ready"
            if ready:
                new.append((Type.READY, "True", "Ready", counts))
            elif backends is not None and backends.unusable is not None:
                reason, why = backends.unusable
                new.append((Type.READY, "False", reason, f"{counts}; {why}"))
            elif backends is not None:
                new.append(
                    (Type.READY, "False", "NoReadyBackends", f"{counts}: the Service has no ready endpoint")
                )
            else:
                new.append((Type.READY, "False", "NoHealthyRealServers", counts))
        else:
            if not director:
                reason, message = "NoActiveDirector", "no director holds the VIP yet"
            else:
                reason = "Pending"
                message = (
                    f"director {director} programmed generation {programmed_generation}, not {generation} yet"
                )
            new += [
                (Type.PROGRAMMED, "False", reason, message),
                (Type.READY, "False", "NotProgrammed", message),
                (Type.RECONCILING, "True", reason, message),
            ]
    return {
        sf.OBSERVED_GENERATION: generation,
        sf.CONDITIONS: _conditions(status.get(sf.CONDITIONS) or [], new, generation, now),
        sf.READY_REAL_SERVERS: ready,
        sf.TOTAL_REAL_SERVERS: total,
        sf.READY: f"{ready}/{total}",
    }


def real_server_status(raw: Mapping[str, Any], facts: RealServerFacts, now: str) -> dict[str, Any]:
    """The operator's fields of a RealServer's status."""
    status = _status(raw)
    generation = _generation(raw)
    verdict = facts.verdict
    new: list[tuple[Type, Status, str, str]] = []
    if not verdict.accepted:
        new += [
            (Type.ACCEPTED, "False", str(verdict.rejection), verdict.message),
            (Type.READY, "False", "NotAccepted", verdict.message),
            (Type.STALLED, "True", str(verdict.rejection), verdict.message),
        ]
    else:
        new.append((Type.ACCEPTED, "True", "Accepted", "the real server fits its virtual server"))
        health = status.get(sf.HEALTH)
        weight = status.get(sf.EFFECTIVE_WEIGHT)
        if not facts.parent_programmed:
            message = "its virtual server is not programmed yet"
            new += [
                (Type.READY, "False", "VirtualServerNotProgrammed", message),
                (Type.RECONCILING, "True", "VirtualServerNotProgrammed", message),
            ]
        elif health == "Healthy":
            new.append((Type.READY, "True", "Healthy", f"passing health checks; effective weight {weight}"))
        elif health == "Unhealthy":
            new.append((Type.READY, "False", "Unhealthy", f"failing health checks; effective weight {weight}"))
        elif health is None and not facts.parent_checks_health:
            new.append((Type.READY, "True", "NoHealthCheck", "its virtual server does not check health"))
        else:
            new.append((Type.READY, "Unknown", "HealthUnknown", "no health check result yet"))
    return {
        sf.OBSERVED_GENERATION: generation,
        sf.CONDITIONS: _conditions(status.get(sf.CONDITIONS) or [], new, generation, now),
    }


def owned(raw: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The current values of the operator's fields, to compare with what it would write."""
    status = _status(raw)
    return {name: status.get(name) for name in fields}


def condition(status: Mapping[str, Any], kind: Type) -> Mapping[str, Any] | None:
    """One condition of a status dict, if present."""
    for item in status.get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == kind:
            return item
    return None


def real_server_facts(
    rs: RealServer | None, verdict: Verdict, parents: Mapping[str, tuple[bool, bool]]
) -> RealServerFacts:
    """RealServerFacts for one RealServer: ``parents`` maps VirtualServer key -> (programmed, checks health)."""
    programmed, checking = parents.get(rs.virtual_server_key, (False, True)) if rs is not None else (False, True)
    return RealServerFacts(verdict=verdict, parent_programmed=programmed, parent_checks_health=checking)
