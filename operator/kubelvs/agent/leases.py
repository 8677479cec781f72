"""Lease records and the one gateway that reads and writes them: ``coordination.k8s.io/v1`` Leases.

The election (:mod:`kubelvs.agent.election`) decides; this module only talks to the API server. Writes
are conditional: a replace carries the ``resourceVersion`` that was read, and the API server answers
409 Conflict if anyone wrote in between -- that is the whole concurrency control of the election.

Two fields need more than the Lease type offers, so they ride in annotations:

- the exact lease duration (``leaseDurationSeconds`` is whole seconds; elections here run on 1.5 s),
- a preemption request: the name of a higher-priority candidate that asks the holder to hand over.
  (Kubernetes 1.31 added ``spec.preferredHolder`` for this, but it is dropped by API servers without the
  CoordinatedLeaderElection feature gate, so an annotation is the portable carrier.)
- who released the Lease when it left the group (shut down, or no longer a candidate), so lower ranks
  do not give it a head start it will never use.

The official client is synchronous; every call runs in a worker thread of the store's own small pool,
bounded by a request timeout so a hung API server cannot hold a thread past the renew deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import json
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

DURATION_ANNOTATION = "lvs.kubelvs.io/lease-duration-ms"
PREEMPT_ANNOTATION = "lvs.kubelvs.io/preempted-by"
RELEASED_ANNOTATION = "lvs.kubelvs.io/released-by"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


class Conflict(Exception):
    """The write lost a race: the Lease changed (409) or was created by someone else meanwhile."""


class Unavailable(Exception):
    """The API server did not answer usefully (network error, timeout, 5xx, 429)."""


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease the election reads and writes; ``raw`` keeps everything else intact."""

    name: str
    holder: str = ""
    duration: float = 1.0
    """Seconds a holder may go without renewing (the exact value, from the annotation if present)."""
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0
    preempted_by: str = ""
    """A higher-priority candidate that asked the holder to hand the lease over ("" = none)."""
    released_by: str = ""
    """The former holder that released the Lease and left the group ("" = none, or a handover)."""
    resource_version: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> LeaseRecord:
        meta = raw.get("metadata") or {}
        spec = raw.get("spec") or {}
        annotations = meta.get("annotations") or {}
        duration = float(spec.get("leaseDurationSeconds") or 1)
        if DURATION_ANNOTATION in annotations:
            try:
                duration = int(annotations[DURATION_ANNOTATION]) / 1000
            except ValueError:
                logger.warning("Lease %s: ignoring unreadable %s", meta.get("name"), DURATION_ANNOTATION)
        return cls(
            name=meta.get("name", ""),
            holder=spec.get("holderIdentity") or "",
            duration=duration,
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
            preempted_by=annotations.get(PREEMPT_ANNOTATION, ""),
            released_by=annotations.get(RELEASED_ANNOTATION, ""),
            resource_version=str(meta.get("resourceVersion") or ""),
            raw=raw,
        )

    def to_raw(self, namespace: str) -> dict[str, Any]:
        """The full object to write: unknown fields of what was read are carried over unchanged."""
        meta = dict(self.raw.get("metadata") or {})
        meta.update(name=self.name, namespace=namespace)
        labels = dict(meta.get("labels") or {})
        labels.setdefault(MANAGED_BY_LABEL, "kubelvs")
        meta["labels"] = labels
        annotations = dict(meta.get("annotations") or {})
        annotations[DURATION_ANNOTATION] = str(round(self.duration * 1000))
        for key, value in ((PREEMPT_ANNOTATION, self.preempted_by), (RELEASED_ANNOTATION, self.released_by)):
            if value:
                annotations[key] = value
            else:
                annotations.pop(key, None)
        meta["annotations"] = annotations
        if self.resource_version:
            meta["resourceVersion"] = self.resource_version
        else:
            meta.pop("resourceVersion", None)
        spec = dict(self.raw.get("spec") or {})
        spec.update(
            holderIdentity=self.holder or None,
            # Whole seconds for kubectl and other readers; rounded up so nobody takes over early.
            leaseDurationSeconds=max(1, math.ceil(self.duration)),
            acquireTime=self.acquire_time,
            renewTime=self.renew_time,
            leaseTransitions=self.transitions,
        )
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def changed(self, **changes: Any) -> LeaseRecord:
        return replace(self, **changes)


def micro_time(moment: datetime.datetime | None = None) -> str:
    """Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    moment = moment or datetime.datetime.now(tz=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseStore(Protocol):
    """Where Leases live: the API server in production (:class:`KubernetesLeases`)."""

    async def get(self, name: str) -> LeaseRecord | None:
        """The Lease, or None if it does not exist. Raises :class:`Unavailable`."""

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create it; :class:`Conflict` if it exists already."""

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        """Replace it if its resourceVersion is still ``record.resource_version``, else :class:`Conflict`."""


class KubernetesLeases:
    """:class:`LeaseStore` over the official client's ``CoordinationV1Api``, one namespace."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        namespace: str,
        request_timeout: float = 1.0,
        workers: int = 8,
    ) -> None:
        self._api = k8s.CoordinationV1Api(api_client)
        self._namespace = namespace
        self._timeout = request_timeout
        # Own threads: a renewal must never queue behind the agent's other blocking work (netlink,
        # status writes) in asyncio's small default pool.
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="leases")

    @property
    def namespace(self) -> str:
        return self._namespace

    async def get(self, name: str) -> LeaseRecord | None:
        try:
            raw = await self._call(self._api.read_namespaced_lease, name, self._namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise _translate(error) from error
        return LeaseRecord.from_raw(raw)

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        body = record.changed(resource_version="").to_raw(self._namespace)
        try:
            raw = await self._call(self._api.create_namespaced_lease, self._namespace, body)
        except ApiException as error:
            raise _translate(error) from error
        return LeaseRecord.from_raw(raw)

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        body = record.to_raw(self._namespace)
        try:
            raw = await self._call(self._api.replace_namespaced_lease, record.name, self._namespace, body)
        except ApiException as error:
            raise _translate(error) from error
        return LeaseRecord.from_raw(raw)

    async def _call(self, method: Any, *args: Any) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            response = method(*args, _preload_content=False, _request_timeout=self._timeout)
            loaded: dict[str, Any] = json.loads(response.data)
            return loaded

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except ApiException:
            raise
        except Exception as error:  # urllib3 connection errors, timeouts, bad JSON from a proxy
            raise Unavailable(f"{type(error).__name__}: {error}") from error


def _translate(error: ApiException) -> Exception:
    if error.status == 409:
        return Conflict(error.reason or "Conflict")
    if error.status is None or error.status >= 500 or error.status == 429:
        return Unavailable(f"HTTP {error.status}: {error.reason}")
    return error
