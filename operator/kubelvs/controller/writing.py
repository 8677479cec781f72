"""How the operator writes: a merge patch of an object's ``status`` subresource (and :func:`call`, which
every write goes through).

Uses the official Kubernetes client (in a worker thread, it is synchronous) with the same credentials
kopf logs in with: the in-cluster service account, else ``$KUBECONFIG`` / ``~/.kube/config``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import kubernetes
import urllib3

from kubelvs import GROUP, VERSION

logger = logging.getLogger(__name__)

PLURALS = {"VirtualServer": "virtualservers", "RealServer": "realservers"}


class WriteOutcome(enum.StrEnum):
    """What became of one status patch."""

    WRITTEN = "written"
    GONE = "gone"
    EXISTS = "exists"  # a create of a name already taken
    FAILED = "failed"


class StatusWriter:
    """Patches ``status`` of VirtualServers and RealServers."""

    def __init__(self, api: Any) -> None:
        self._api = api

    @classmethod
    def from_environment(cls) -> StatusWriter:
        load_credentials()
        return cls(kubernetes.client.CustomObjectsApi())

    async def patch_status(self, kind: str, namespace: str, name: str, status: Mapping[str, Any]) -> WriteOutcome:
        return await call(
            f"status of {kind} {namespace}/{name}",
            self._api.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURALS[kind],
            name,
            {"status": dict(status)},
            _content_type="application/merge-patch+json",
        )


def load_credentials() -> None:
    """The in-cluster service account, else ``$KUBECONFIG`` read now (the client reads it once, at import)."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]


async def call(what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> WriteOutcome:
    """One blocking client write in a worker thread, its failure classified and logged against ``what``."""
    try:
        await asyncio.to_thread(method, *args, **kwargs)
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return WriteOutcome.GONE
        if error.status == 409 and "AlreadyExists" in str(error.body):
            return WriteOutcome.EXISTS
        logger.warning("%s not written: %s %s", what, error.status, error.reason)
        return WriteOutcome.FAILED
    except (OSError, urllib3.exceptions.HTTPError) as error:  # unreachable API server
        logger.warning("%s not written: %s", what, error)
        return WriteOutcome.FAILED
    return WriteOutcome.WRITTEN
