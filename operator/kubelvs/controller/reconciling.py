"""One level-triggered pass: judge every object, write each status that differs, announce what changed.

Any watch event (a VirtualServer, a RealServer, a Node, the agent's status reports) asks for a pass;
a pass reads the whole current world, so requests that pile up while one runs collapse into the next
one. Statuses equal to what is stored are not written, and conditions keep their transition times, so
the operator's own writes (which come back as watch events) end in a pass that writes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubelvs.api import status_fields as sf
from kubelvs.api.objects import parse_object
from kubelvs.api.service_objects import parse_service_object
from kubelvs.controller import metrics
from kubelvs.controller.coalescing import Coalescer, Outcome
from kubelvs.controller.conditions import (
    REAL_SERVER_FIELDS,
    VIRTUAL_SERVER_FIELDS,
    Type,
    checks_health,
    condition,
    is_healthy,
    is_programmed,
    owned,
    real_server_facts,
    real_server_status,
    virtual_server_status,
)
from kubelvs.controller.config import OperatorConfig
from kubelvs.controller.judging import Backends, ParseCache, Raw, judge
from kubelvs.controller.notices import Notice, Severity, acceptance, backend_health, failover
from kubelvs.controller.writing import WriteOutcome

logger = logging.getLogger(__name__)


WRITE_CONCURRENCY = 8
"""Status patches in flight at once (each is a blocking client call in a worker thread)."""
TRUST_OWN_WRITES = 30.0
"""Seconds the operator's last write of a status beats an index that does not show it yet."""


class Writer(Protocol):
    async def patch_status(
        self, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> WriteOutcome: ...


Announce = Callable[[Mapping[str, Any], Notice], None]


@dataclass(frozen=True)
class World:
    """Everything a pass judges: objects by ``namespace/name``, node addresses by node name."""

    virtual_servers: Mapping[str, Raw]
    real_servers: Mapping[str, Raw]
    node_addresses: Mapping[str, frozenset[str]]
    services: Mapping[str, Raw] = field(default_factory=dict)  # what VirtualServers' backends follow
    endpoint_slices: Mapping[str, Raw] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """One object's status as it is (``old``) and as it should be (``new``), and what to announce."""

    kind: str
    key: str
    raw: Raw
    old: dict[str, Any]
    new: dict[str, Any]
    notices: list[Notice]


def _parent_key(key: str, raw: Raw) -> str:
    """``namespace/virtualServer`` of a RealServer, read raw so that invalid ones are counted too."""
    return f"{key.split('/', 1)[0]}/{(raw.get('spec') or {}).get('virtualServer')}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reconciler:
    """Runs passes one at a time; remembers only what it wrote and the directors it saw."""

    def __init__(self, config: OperatorConfig, writer: Writer, announce: Announce) -> None:
        self.config = config
        self._writer = writer
        self._announce = announce
        self._passes = Coalescer()
        # (kind, key) -> (when, what was written). The operator is the only writer of its fields, so what
        # it wrote last is their truth until the watch shows it: events from before the write may still
        # be on their way, and judging them would rewrite transition times and repeat Events.
        self._written: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._directors: dict[str, str | None] = {}
        self._parse = ParseCache(parse_object)
        self._parse_services = ParseCache(parse_service_object, version="resourceVersion")
        self._unresolved: dict[str, str] = {}  # VirtualServer key -> why its backends were not found, announced

    @property
    def needs_retry(self) -> bool:
        return self._passes.needs_retry

    async def reconcile(self, read_world: Callable[[], World]) -> Outcome:
        """Ask for a pass; returns at once if a pass that started after this request already ran."""

        async def run_pass() -> Outcome:
            outcome = await self._pass(read_world())
            metrics.RECONCILES.labels(outcome=outcome.value).inc()
            return outcome

        return await self._passes.request(run_pass)

    async def _pass(self, world: World) -> Outcome:
        plans = self._plan(world)
        limit = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def write(plan: Plan) -> WriteOutcome | None:
            async with limit:
                return await self._write(plan)

        outcomes = await asyncio.gather(*(write(plan) for plan in plans))
        for plan, outcome in zip(plans, outcomes, strict=True):
            if plan.kind == "VirtualServer" and outcome is not WriteOutcome.FAILED:
                self._directors[plan.key] = (plan.raw.get("status") or {}).get(sf.ACTIVE_DIRECTOR)
        self._forget(world)
        return Outcome.RETRY if WriteOutcome.FAILED in outcomes else Outcome.CLEAN

    def _plan(self, world: World) -> list[Plan]:
        """Judge the world and derive every object's status and notices (no I/O)."""
        judgement = judge(
            world.virtual_servers,
            world.real_servers,
            world.node_addresses,
            self.config.vip_pools,
            self._parse,
            world.services,
            world.endpoint_slices,
            self._parse_services,
        )
        self._parse.forget_unused()
        self._parse_services.forget_unused()
        now = _now()
        parents = {
            key: (is_programmed(world.virtual_servers[key]), checks_health(vs))
            for key, vs in judgement.accepted_virtual_servers.items()
        }
        ready: collections.Counter[str] = collections.Counter()
        total: collections.Counter[str] = collections.Counter()
        plans: list[Plan] = []

        for key, verdict in judgement.real_servers.items():
            raw = world.real_servers[key]
            model = judgement.parsed_real_servers.get(key)
            facts = real_server_facts(model, verdict, parents)
            parent = _parent_key(key, raw)
            total[parent] += 1
            ready[parent] += is_healthy(raw, facts)
            old = self._old("RealServer", key, raw, REAL_SERVER_FIELDS)
            new = real_server_status(raw, facts, now)
            spec = raw.get("spec") or {}
            target = f"real server {spec.get('address')}" + (f":{spec['port']}" if spec.get("port") else "")
            notices = acceptance(old, new) + backend_health(old, new, target)
            plans.append(Plan("RealServer", key, raw, old, new, notices))

        for key, endpoints in judgement.backends.items():
            ready[key] += endpoints.ready
            total[key] += endpoints.total

        for key, verdict in judgement.virtual_servers.items():
            raw = world.virtual_servers[key]
            old = self._old("VirtualServer", key, raw, VIRTUAL_SERVER_FIELDS)
            backends = judgement.backends.get(key) if key in judgement.accepted_virtual_servers else None
            new = virtual_server_status(raw, verdict, ready[key], total[key], now, backends)
            notices = acceptance(old, new) + self._backends_notices(key, backends)
            if key in self._directors:
                notices += failover(self._directors[key], (raw.get("status") or {}).get(sf.ACTIVE_DIRECTOR))
            plans.append(Plan("VirtualServer", key, raw, old, new, notices))

        for kind, verdicts in (
            ("VirtualServer", judgement.virtual_servers),
            ("RealServer", judgement.real_servers),
        ):
            accepted = sum(verdict.accepted for verdict in verdicts.values())
            metrics.OBJECTS.labels(kind=kind, accepted="true").set(accepted)
            metrics.OBJECTS.labels(kind=kind, accepted="false").set(len(verdicts) - accepted)
        return plans

    def _backends_notices(self, key: str, backends: Backends | None) -> list[Notice]:
        """BackendsNotFound (the Service or port is missing) or BackendsRefused (endpoints the judgement keeps
        out), once per new reason, not once per pass."""
        unusable = backends.unusable if backends is not None else None
        if unusable is None:
            self._unresolved.pop(key, None)
            return []
        reason, why = unusable
        if self._unresolved.get(key) == why:
            return []
        self._unresolved[key] = why
        return [Notice(Severity.WARNING, reason, why)]

    def _old(self, kind: str, key: str, raw: Raw, fields: Sequence[str]) -> dict[str, Any]:
        current = owned(raw, fields)
        remembered = self._written.get((kind, key))
        if remembered is None:
            return current
        written_at, written = remembered
        if current == written or time.monotonic() - written_at > TRUST_OWN_WRITES:
            # Seen (or long enough ago that someone else must have changed it since): the watch is the truth.
            del self._written[(kind, key)]
            return current
        return written

    async def _write(self, plan: Plan) -> WriteOutcome | None:
        """Patch the status if it differs, then announce; None when there was nothing to write."""
        outcome: WriteOutcome | None = None
        if plan.new != plan.old:
            namespace, name = plan.key.split("/", 1)
            outcome = await self._writer.patch_status(plan.kind, namespace, name, plan.new)
            metrics.STATUS_WRITES.labels(kind=plan.kind, outcome=outcome.value).inc()
            if outcome is not WriteOutcome.WRITTEN:
                return outcome
            self._written[(plan.kind, plan.key)] = (time.monotonic(), plan.new)
        for notice in plan.notices:
            if notice.reason == "Rejected":
                accepted = condition(plan.new, Type.ACCEPTED) or {}
                metrics.REJECTIONS.labels(kind=plan.kind, reason=accepted.get("reason", "Unknown")).inc()
            self._announce(plan.raw, notice)
        return outcome

    def _forget(self, world: World) -> None:
        """Drop memory of objects that are gone, so nothing dangles after deletions."""
        live = {("VirtualServer", key) for key in world.virtual_servers}
        live |= {("RealServer", key) for key in world.real_servers}
        for stale in set(self._written) - live:
            del self._written[stale]
        for key in set(self._directors) - set(world.virtual_servers):
            del self._directors[key]
        for key in set(self._unresolved) - set(world.virtual_servers):
            del self._unresolved[key]
