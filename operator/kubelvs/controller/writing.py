"""The one way the operator writes: a merge patch of an object's ``status`` subresource.

Uses the official Kubernetes client (in a worker thread, it is synchronous) with the same credentials
kopf logs in with: the in-cluster service account, else ``$KUBECONFIG`` / ``~/.kube/config``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections.abc import Mapping
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
    FAILED = "failed"


class StatusWriter:
    """Patches ``status`` of VirtualServers and RealServers."""

    def __init__(self, api: Any) -> None:
        self._api = api

    @classmethod
    def from_environment(cls) -> StatusWriter:
        try:
            kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            # The client reads $KUBECONFIG once, at import; read it now, as kopf does.
            kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
        return cls(kubernetes.client.CustomObjectsApi())

    async def patch_status(self, kind: str, namespace: str, name: str, status: Mapping[str, Any]) -> WriteOutcome:
        try:
            await asyncio.to_thread(
                self._api.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                name,
                {"status": dict(status)},
                _content_type="application/merge-patch+json",
            )
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return WriteOutcome.GONE
            logger.warning(
                "status of %s %s/%s not written: %s %s", kind, namespace, name, error.status, error.reason
            )
            return WriteOutcome.FAILED
        except (OSError, urllib3.exceptions.HTTPError) as error:  # unreachable API server
            logger.warning("status of %s %s/%s not written: %s", kind, namespace, name, error)
            return WriteOutcome.FAILED
        return WriteOutcome.WRITTEN
