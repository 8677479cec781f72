"""Local mirrors of API objects for the in-cluster agent: list, then watch, in a daemon thread each.

The official client is synchronous and a watch blocks, so each mirror runs in its own thread and only
*marks work pending* through a callback; the agent's event loop reads a snapshot when it plans, or only
what changed since it last asked (:meth:`Mirror.take_changes`: a watch event carries the changed object,
so one edit costs the agent one object). When the API server goes away, a mirror keeps its last contents
(fail-static) and retries with a capped back-off; ``410 Gone`` or any broken stream leads to a fresh list.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

WATCH_TIMEOUT = 300  # seconds the API server keeps one watch open before we list again
MAX_BACKOFF = 10.0


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
        **list_args: Any,
    ) -> None:
        self.what = what
        self._list = list_call
        self._args = list_args
        self._notify = notify
        self._kind, self._api_version = kind, api_version  # core lists omit them on items
        self._objects: dict[str, dict[str, Any]] = {}
        self._changed: set[str] = set()  # keys changed (or deleted) since take_changes()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.synced = threading.Event()
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
                backoff = 0.5
                self._watch(version)
            except Exception as error:
                if self._stopping.is_set():
                    return
                gone = isinstance(error, ApiException) and error.status == 410
                if not gone:
                    logger.warning("%s: %s; keeping the last %d objects", self.what, error, len(self._objects))
                    self._stopping.wait(backoff)
                    backoff = min(MAX_BACKOFF, backoff * 2)

    def _relist(self) -> str:
        response = self._list(**self._args, _preload_content=False, _request_timeout=30)
        listed = json.loads(response.data)
        objects = {object_key(raw): self._complete(raw) for raw in listed.get("items") or []}
        with self._lock:
            keys = objects.keys() | self._objects.keys()
            differ = {key for key in keys if objects.get(key) != self._objects.get(key)}
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
                self._changed.add(key)
                if kind == "DELETED":
                    self._objects.pop(key, None)
                else:
                    self._objects[key] = self._complete(raw)
            self._notify()

    def _complete(self, raw: dict[str, Any]) -> dict[str, Any]:
        if self._kind:
            raw.setdefault("kind", self._kind)
        if self._api_version:
            raw.setdefault("apiVersion", self._api_version)
        return raw
