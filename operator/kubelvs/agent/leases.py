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

Followers also *watch*: :meth:`KubernetesLeases.watch` hands every version of a Lease the API server
reports to a callback on the event loop, the moment it is written. One watch per store covers all of the
namespace's kube-lvs Leases (label ``app.kubernetes.io/managed-by=kubelvs``); it runs in a daemon thread
while anyone listens and starts again, with back-off, when it breaks. Always from the current state (no
``resourceVersion``): the API server then begins with an ADDED event per Lease, which is the re-read that
a gap in the stream calls for anyway. The election keeps polling, so a broken watch only makes it slower.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import json
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

logger = logging.getLogger(__name__)

DURATION_ANNOTATION = "lvs.kubelvs.io/lease-duration-ms"
PREEMPT_ANNOTATION = "lvs.kubelvs.io/preempted-by"
RELEASED_ANNOTATION = "lvs.kubelvs.io/released-by"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kubelvs"

WATCH_TIMEOUT = 300
"""Seconds the API server keeps one watch open; then the store watches again."""
WATCH_IDLE = 60.0
"""Seconds without a byte after which a watch counts as broken (a held Lease changes every renew period)."""
WATCH_BACKOFF = (0.25, 10.0)
"""First and longest wait before watching again after a failure."""


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
        labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY)
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


Listener = Callable[[LeaseRecord | None], None]


class LeaseStore(Protocol):
    """Where Leases live: the API server in production (:class:`KubernetesLeases`)."""

    async def get(self, name: str) -> LeaseRecord | None:
        """The Lease, or None if it does not exist. Raises :class:`Unavailable`."""

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create it; :class:`Conflict` if it exists already."""

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        """Replace it if its resourceVersion is still ``record.resource_version``, else :class:`Conflict`."""

    def watch(self, name: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on the event loop with each version of the Lease the API server reports (None
        when it was deleted), for as long as the returned function was not called. Call it from the loop."""


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
        self._listeners: dict[str, set[Listener]] = {}
        self._watch: _NamespaceWatch | None = None

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

    def watch(self, name: str, listener: Listener) -> Callable[[], None]:
        self._listeners.setdefault(name, set()).add(listener)
        if self._watch is None:
            self._watch = _NamespaceWatch(
                self._api, self._namespace, self._timeout, asyncio.get_running_loop(), self._deliver
            )

        def unwatch() -> None:
            listeners = self._listeners.get(name, set())
            listeners.discard(listener)
            if not listeners:
                self._listeners.pop(name, None)
            if not self._listeners and self._watch is not None:
                self._watch.stop()
                self._watch = None

        return unwatch

    def _deliver(self, name: str, record: LeaseRecord | None) -> None:
        for listener in list(self._listeners.get(name, ())):
            try:
                listener(record)
            except Exception:
                logger.exception("Lease %s: a watch listener failed", name)

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


class _NamespaceWatch:
    """One watch on the namespace's kube-lvs Leases in a daemon thread; each event goes to ``deliver`` on
    the event loop. It goes on watching, with back-off after failures, until :meth:`stop`."""

    def __init__(
        self,
        api: k8s.CoordinationV1Api,
        namespace: str,
        connect_timeout: float,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[str, LeaseRecord | None], None],
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._connect_timeout = connect_timeout
        self._loop = loop
        self._deliver = deliver
        self._stopping = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"watch Leases {namespace}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread: the open response is shut, so a blocked read returns at once."""
        self._stopping.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed, or closing under the reader's feet
                response.shutdown()

    def _run(self) -> None:
        backoff = WATCH_BACKOFF[0]
        while not self._stopping.is_set():
            try:
                if self._stream():
                    backoff = WATCH_BACKOFF[0]
                    continue  # it ran and ended (server timeout, 410 Gone): watch again at once
                problem = "it ended without an event"
            except ApiException as error:  # its text carries every header and the body: too much for a log line
                problem = f"HTTP {error.status}: {error.reason}"
            except Exception as error:  # connection refused, read timeout
                problem = f"{type(error).__name__}: {error}"
            if self._stopping.is_set():
                return
            logger.info(
                "Lease watch in %s broke (%s); followers poll, watching again in %.2fs",
                self._namespace,
                problem,
                backoff,
            )
            self._stopping.wait(backoff)
            backoff = min(WATCH_BACKOFF[1], backoff * 2)

    def _stream(self) -> bool:
        """Watch until the stream ends; return whether it brought any Lease. The client's ``Watch`` helper is
        not used: without deserialising it fails on the API server's ERROR events (``raw_object``)."""
        response: Any = self._api.list_namespaced_lease(
            self._namespace,
            watch=True,
            label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}",
            timeout_seconds=WATCH_TIMEOUT,
            _preload_content=False,
            _request_timeout=(self._connect_timeout, WATCH_IDLE),
        )
        self._response = response
        delivered = False
        try:
            if self._stopping.is_set():  # stop() came before there was a response to shut
                return False
            for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                if self._stopping.is_set():
                    break
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, raw = event.get("type"), event.get("object")
                if kind == "ERROR" or not isinstance(raw, dict):
                    logger.debug("Lease watch in %s ended: %s", self._namespace, raw)
                    break
                if kind == "BOOKMARK":
                    continue
                name = str((raw.get("metadata") or {}).get("name") or "")
                record = None if kind == "DELETED" else LeaseRecord.from_raw(raw)
                try:
                    self._loop.call_soon_threadsafe(self._deliver, name, record)
                except RuntimeError:  # the event loop is closed: nobody is listening any more
                    self._stopping.set()
                    break
                delivered = True
        finally:
            self._response = None
            response.close()  # a half-read stream must not go back to the pool as a usable connection
            response.release_conn()
        return delivered


def _translate(error: ApiException) -> Exception:
    if error.status == 409:
        return Conflict(error.reason or "Conflict")
    if error.status is None or error.status >= 500 or error.status == 429:
        return Unavailable(f"HTTP {error.status}: {error.reason}")
    return error
