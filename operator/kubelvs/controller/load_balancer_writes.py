"""The writes of the load-balancer controller: generated VirtualServers, Service and VIPPool statuses.

Every call goes through :func:`kubelvs.controller.writing.call` (a worker thread, failures classified).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes

from kubelvs import GROUP, VERSION
from kubelvs.controller.writing import WriteOutcome, call, load_credentials

MERGE_PATCH = "application/merge-patch+json"


class LoadBalancerWriter:
    """Creates, patches and deletes VirtualServers; patches Service and VIPPool statuses."""

    def __init__(self, custom: Any, core: Any) -> None:
        self._custom = custom
        self._core = core

    @classmethod
    def from_environment(cls) -> LoadBalancerWriter:
        load_credentials()
        return cls(kubernetes.client.CustomObjectsApi(), kubernetes.client.CoreV1Api())

    async def create_virtual_server(self, body: Mapping[str, Any]) -> WriteOutcome:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        return await call(
            f"VirtualServer {namespace}/{name}",
            self._custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "virtualservers",
            dict(body),
        )

    async def patch_virtual_server(self, namespace: str, name: str, patch: Mapping[str, Any]) -> WriteOutcome:
        return await call(
            f"VirtualServer {namespace}/{name}",
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "virtualservers",
            name,
            dict(patch),
            _content_type=MERGE_PATCH,
        )

    async def delete_virtual_server(self, namespace: str, name: str) -> WriteOutcome:
        return await call(
            f"deletion of VirtualServer {namespace}/{name}",
            self._custom.delete_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "virtualservers",
            name,
        )

    async def patch_service_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> WriteOutcome:
        return await call(
            f"status of Service {namespace}/{name}",
            self._core.patch_namespaced_service_status,
            name,
            namespace,
            {"status": dict(status)},
            _content_type=MERGE_PATCH,
        )

    async def patch_pool_status(self, name: str, status: Mapping[str, Any]) -> WriteOutcome:
        return await call(
            f"status of VIPPool {name}",
            self._custom.patch_cluster_custom_object_status,
            GROUP,
            VERSION,
            "vippools",
            name,
            {"status": dict(status)},
            _content_type=MERGE_PATCH,
        )
