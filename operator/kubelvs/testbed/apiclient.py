"""A small synchronous Kubernetes API client over plain HTTP (stdlib only): create, read, patch, delete, list.

The VM's test process and the demo use it instead of the official client, whose import costs minutes under TCG.
It speaks the same REST paths and merge patches, so it works against the emulator and a real API server alike
(without authentication).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A non-2xx answer: ``status`` and the decoded Status body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def path_of(api_version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """``/api/v1/namespaces/ns/events`` or ``/apis/group/version/...`` for one resource (and object)."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace is not None:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return base + (f"/{name}" if name is not None else "")


class Client:
    """A small synchronous client: create, read, patch and delete objects over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # TCG under load is slow
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, json.loads(error.read() or b"null")) from None

    def create(self, plural: str, obj: Mapping[str, Any]) -> Any:
        namespace = obj.get("metadata", {}).get("namespace")
        return self.request("POST", path_of(obj["apiVersion"], plural, namespace), obj)

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Any:
        return self.request("GET", path_of(api_version, plural, namespace, name))

    def list(self, api_version: str, plural: str, namespace: str | None = None) -> list[Any]:
        items: list[Any] = self.request("GET", path_of(api_version, plural, namespace))["items"]
        return items

    def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        body: Mapping[str, Any],
        subresource: str | None = None,
    ) -> Any:
        path = path_of(api_version, plural, namespace, name) + (f"/{subresource}" if subresource else "")
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> Any:
        return self.request("DELETE", path_of(api_version, plural, namespace, name))


T = TypeVar("T")


def wait_for(probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll ``probe`` until it returns something truthy (and return that); fail with its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        last_error: Exception | None = None
        result: T | None = None
        try:
            result = probe()
        except (ApiError, OSError, KeyError, TypeError, IndexError, StopIteration) as error:
            last_error = error
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s; last answer: {result!r} {last_error or ''}")
        time.sleep(interval)
