"""Local mirrors of API objects for the in-cluster agent: list, then watch, in a daemon thread each.

The official client is synchronous and a watch blocks, so each mirror runs in its own thread and only
*marks work pending* through a callback; the agent's event loop reads a snapshot when it plans, or only
what changed since it last asked (:meth:`Mirror.take_changes`: a watch event carries the changed object,
so one edit costs the agent one object). When the API server goes away, a mirror keeps its last contents
(fail-static) and retries with a capped back-off; ``410 Gone`` or any broken stream leads to a fresh list.

A mirror may be told what of an object its reader depends on (``relevant``): a change of anything else --
the status an operator or another agent wrote, a new resourceVersion -- is stored (so :meth:`Mirror.status_of`
stays current) but wakes nobody. Without it every status write on a VirtualServer was a pass in every agent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

WATCH_TIMEOUT = 300  # seconds the API server keeps one watch open before we list again
MAX_BACKOFF = 10.0
VOLATILE_METADATA = ("resourceVersion", "managedFields")  # change with every write, status writes too


def object_without_status(raw: dict[str, Any]) -> tuple[Any, ...]:
    """What a custom object means to the agent: everything but its status and per-write bookkeeping."""
    meta = {k: v for k, v in (raw.get("metadata") or {}).items() if k not in VOLATILE_METADATA}
    return (meta, {k: v for k, v in raw.items() if k not in ("metadata", "status")})


def labels(raw: dict[str, Any]) -> Any:
    """What a Node means to the agent: its labels (kubelet heartbeats rewrite its status constantly)."""
    return (raw.get("metadata") or {}).get("labels")


def object_key(raw: dict[str, Any]) -> str:
    meta = raw.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


class Mirror:
    """All objects one list call returns, kept current by a watch; ``notify()`` runs on every change."""

    def __init__(
        self,
        what: str,
        list_call: Callable[..., Any],
        notify: Callable[[], None],
        kind: str = "",
        api_version: str = "",
        relevant: Callable[[dict[str, Any]], Any] | None = None,
        **list_args: Any,
    ) -> None:
        self.what = what
        self._relevant = relevant
        self._list = list_call
        self._args = list_args
        self._notify = notify
        self._kind, self._api_version = kind, api_version  # core lists omit them on items
        self._objects: dict[str, dict[str, Any]] = {}
        self._changed: set[str] = set()  # keys changed (or deleted) since take_changes()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.synced = threading.Event()
        self.failing_since: float | None = None  # monotonic time of the first failure since the last list
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name=f"watch {what}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the thread: the open watch response is shut, so the server sees the watch end too."""
        self._stopping.set()
        response = getattr(self._stream, "_resp", None)
        if response is not None:
            with contextlib.suppress(Exception):  # already closed, or closing under the reader's feet
                (getattr(response, "shutdown", None) or response.close)()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        """(key, object) of everything mirrored now."""
        with self._lock:
            return list(self._objects.items())

    def status_of(self, key: str) -> dict[str, Any]:
        """The object's status as last seen (status-only changes included, though they wake nobody)."""
        with self._lock:
            found = self._objects.get(key)
        return dict((found or {}).get("status") or {})

    def take_changes(self) -> dict[str, dict[str, Any] | None]:
        """Key -> current object (None: deleted) of everything changed since the last call."""
        with self._lock:
            changed, self._changed = self._changed, set()
            return {key: self._objects.get(key) for key in changed}

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                version = self._relist()
                self.failing_since = None
                backoff = 0.5
                self._watch(version)
            except Exception as error:
                if self._stopping.is_set():
                    return
                gone = isinstance(error, ApiException) and error.status == 410
                if not gone:
                    self.failing_since = self.failing_since or time.monotonic()
                    logger.warning("%s: %s; keeping the last %d objects", self.what, error, len(self._objects))
                    self._stopping.wait(backoff)
                    backoff = min(MAX_BACKOFF, backoff * 2)

    def _relist(self) -> str:
        response = self._list(**self._args, _preload_content=False, _request_timeout=30)
        listed = json.loads(response.data)
        objects = {object_key(raw): self._complete(raw) for raw in listed.get("items") or []}
        with self._lock:
            keys = objects.keys() | self._objects.keys()
            differ = {key for key in keys if self._differs(self._objects.get(key), objects.get(key))}
            changed = bool(differ)
            self._changed |= differ
            self._objects = objects
        self.synced.set()
        if changed:
            self._notify()
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, version: str) -> None:
        stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
        self._stream = stream
        args = dict(self._args, timeout_seconds=WATCH_TIMEOUT, _request_timeout=WATCH_TIMEOUT + 30)
        if version:
            args["resource_version"] = version
        for event in stream.stream(self._list, deserialize=False, **args):
            if self._stopping.is_set():
                stream.stop()
                return
            kind, raw = event.get("type"), event.get("raw_object", event.get("object"))
            if kind == "ERROR" or not isinstance(raw, dict):
                logger.info("%s: watch ended (%s); listing again", self.what, raw)
                return
            if kind == "BOOKMARK":
                continue
            key = object_key(raw)
            with self._lock:
                if kind == "DELETED":
                    changed = self._objects.pop(key, None) is not None
                else:
                    raw = self._complete(raw)
                    changed = self._differs(self._objects.get(key), raw)
                    self._objects[key] = raw
                if changed:
                    self._changed.add(key)
            if changed:
                self._notify()

    def _differs(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
        if old is None or new is None or self._relevant is None:
            return old != new
        return bool(self._relevant(old) != self._relevant(new))

    def _complete(self, raw: dict[str, Any]) -> dict[str, Any]:
        if self._kind:
            raw.setdefault("kind", self._kind)
        if self._api_version:
            raw.setdefault("apiVersion", self._api_version)
        return raw
