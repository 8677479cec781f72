"""The load-balancer controller's passes: plan (:mod:`kubelvs.loadbalancer.passes`), write, announce.

Level-triggered like the VirtualServer reconciler beside it, with its own lock: a pass reads the whole
current world, requests that pile up while one runs collapse into the next. VirtualServers are written
first (created, patched, deleted), then Service statuses, then VIPPool statuses; a Service's Event is
posted once its status, which names the same reason, is written. A failed write schedules a pass of its
own a few seconds later (the world is read afresh then: kopf's indexes are live).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from kubelvs.api.judgement import Network
from kubelvs.controller import metrics
from kubelvs.controller.coalescing import Coalescer, Outcome
from kubelvs.controller.notices import Notice, Severity
from kubelvs.controller.reconciling import Announce
from kubelvs.controller.writing import WriteOutcome
from kubelvs.loadbalancer import passes

logger = logging.getLogger(__name__)

WRITE_CONCURRENCY = 8
RETRY_DELAY = 5.0  # seconds before a pass with failed writes runs again


class Writer(Protocol):
    async def create_virtual_server(self, body: Mapping[str, Any]) -> WriteOutcome: ...
    async def patch_virtual_server(self, namespace: str, name: str, patch: Mapping[str, Any]) -> WriteOutcome: ...
    async def delete_virtual_server(self, namespace: str, name: str) -> WriteOutcome: ...
    async def patch_service_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> WriteOutcome: ...
    async def patch_pool_status(self, name: str, status: Mapping[str, Any]) -> WriteOutcome: ...


class LoadBalancers:
    """Serves LoadBalancer Services of kube-lvs' class (or of none, with ``default_class``)."""

    def __init__(
        self, writer: Writer, announce: Announce, default_class: bool, bound: tuple[Network, ...]
    ) -> None:
        self._writer = writer
        self._announce = announce
        self.default_class = default_class
        self.bound = bound
        self._passes = Coalescer()
        self._retry: asyncio.TimerHandle | None = None
        self._pending: asyncio.Future[Outcome] | None = None

    @property
    def needs_retry(self) -> bool:
        return self._passes.needs_retry

    async def reconcile(self, read_world: Callable[[], passes.World]) -> Outcome:
        """Ask for a pass; returns at once if a pass that started after this request already ran."""

        async def run_pass() -> Outcome:
            writes = passes.plan(read_world(), self.default_class, self.bound, passes.now())
            outcome = await self._write(writes)
            metrics.LOAD_BALANCER_PASSES.labels(outcome=outcome.value).inc()
            if outcome is Outcome.RETRY and self._retry is None:  # no event may come: try again by itself
                self._retry = asyncio.get_running_loop().call_later(RETRY_DELAY, self._again, read_world)
            return outcome

        return await self._passes.request(run_pass)

    def _again(self, read_world: Callable[[], passes.World]) -> None:
        self._retry = None
        self._pending = asyncio.ensure_future(self.reconcile(read_world))  # kept: a task must be referenced

    async def _write(self, writes: passes.Writes) -> Outcome:
        limit = asyncio.Semaphore(WRITE_CONCURRENCY)
        writer = self._writer

        async def bounded(what: str, write: Awaitable[WriteOutcome]) -> WriteOutcome:
            async with limit:
                outcome = await write
            metrics.LOAD_BALANCER_WRITES.labels(write=what, outcome=outcome.value).inc()
            return outcome

        def split(key: str) -> tuple[str, str]:
            namespace, name = key.split("/", 1)
            return namespace, name

        vs_writes = [
            *(bounded("create VirtualServer", writer.create_virtual_server(body)) for body in writes.create),
            *(
                bounded("patch VirtualServer", writer.patch_virtual_server(*split(key), patch))
                for key, patch in writes.replace.items()
            ),
            *(bounded("delete VirtualServer", writer.delete_virtual_server(*split(key))) for key in writes.delete),
        ]
        outcomes = list(await asyncio.gather(*vs_writes))
        keys = list(writes.service_status)
        statuses = await asyncio.gather(
            *(
                bounded("Service status", writer.patch_service_status(*split(key), writes.service_status[key]))
                for key in keys
            )
        )
        outcomes += statuses
        written = {key for key, outcome in zip(keys, statuses, strict=True) if outcome is WriteOutcome.WRITTEN}
        outcomes += await asyncio.gather(
            *(
                bounded("VIPPool status", writer.patch_pool_status(name, status))
                for name, status in writes.pool_status.items()
            )
        )
        for notice in writes.notices:
            meta = notice.about.get("metadata") or {}
            if f"{meta.get('namespace')}/{meta.get('name')}" in written:
                severity = Severity.NORMAL if notice.normal else Severity.WARNING
                self._announce(notice.about, Notice(severity, notice.reason, notice.message))
        failed = [outcome for outcome in outcomes if outcome is WriteOutcome.FAILED]
        return Outcome.RETRY if failed else Outcome.CLEAN


def served_or_ours(body: Mapping[str, Any], generated_owners: set[str]) -> bool:
    """Whether a Service event concerns this controller: a LoadBalancer, the owner of VirtualServers it
    made, or one whose status it wrote (type or class changed since)."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    ours = any(
        isinstance(item, Mapping) and item.get("type") == passes.ALLOCATED
        for item in status.get("conditions") or []
    )
    return (body.get("spec") or {}).get("type") == "LoadBalancer" or meta.get("uid") in generated_owners or ours
