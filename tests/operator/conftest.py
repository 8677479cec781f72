"""One emulated API server and one running operator per test module (kopf takes seconds to start).

Tests are synchronous: they talk to the emulator over HTTP (:class:`emulator.Client`) while kopf runs
in a thread of its own, exactly as it would against a real API server. A module may override
``operator_config`` (VIP pools) before the operator starts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
from collections.abc import Iterator
from typing import Any

import emulator
import pytest

from kubelvs.controller.config import OperatorConfig
from kubelvs.controller.running import Scope, serve


@pytest.fixture(scope="module")
def keep_history() -> bool:
    """Whether the emulator keeps kmock's request history; a module of hundreds of objects turns it off."""
    return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, keep_history: bool) -> Iterator[emulator.Served]:
    with emulator.serve(keep_history=keep_history) as served:
        kubeconfig = emulator.write_kubeconfig(served.url, tmp_path_factory.mktemp("kube") / "config")
        saved = os.environ.get("KUBECONFIG")
        os.environ["KUBECONFIG"] = str(kubeconfig)
        try:
            yield served
        finally:
            if saved is None:
                os.environ.pop("KUBECONFIG", None)
            else:
                os.environ["KUBECONFIG"] = saved


@pytest.fixture(scope="module")
def api(cluster: emulator.Served) -> emulator.Client:
    return emulator.Client(cluster.url)


@pytest.fixture(scope="module")
def operator_config() -> OperatorConfig:
    return OperatorConfig(
        vip_pools=(ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/64")),
    )


@pytest.fixture(scope="module")
def operator_namespaces() -> tuple[str, ...]:
    """Namespaces the operator serves; empty: all of them (``--all-namespaces``)."""
    return ()


@contextlib.contextmanager
def running_operator(config: OperatorConfig, namespaces: tuple[str, ...] = ()) -> Iterator[None]:
    """``kubelvs operator --standalone`` in a thread, against the emulator ``$KUBECONFIG`` names."""
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            flags = {"stop_flag": stop, "ready_flag": ready}
            serve(config, Scope(namespaces=namespaces, standalone=True, extra=flags))
        except BaseException as error:  # surfaced below
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=run, name="operator", daemon=True)
    thread.start()
    assert ready.wait(30), "kopf did not get ready within 30 s"
    assert not failure, f"the operator failed to start: {failure[0]!r}"
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the operator did not stop within 30 s"


@pytest.fixture(scope="module")
def operator(
    cluster: emulator.Served, operator_config: OperatorConfig, operator_namespaces: tuple[str, ...]
) -> Iterator[None]:
    """``kubelvs operator --standalone`` in a thread, against the emulator, until the module ends."""
    with running_operator(operator_config, operator_namespaces):
        yield


def virtual_server(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{emulator.GROUP}/{emulator.VERSION}",
        "kind": "VirtualServer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"address": "192.0.2.10", "port": 80, "protocol": "TCP", **spec},
    }


def real_server(name: str, virtual_server: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{emulator.GROUP}/{emulator.VERSION}",
        "kind": "RealServer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"virtualServer": virtual_server, "address": "10.0.0.1", **spec},
    }


def add_node(api: emulator.Client, name: str, *addresses: str) -> None:
    """Register a Node and report its addresses through the status subresource, as a kubelet does."""
    api.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    status = {"addresses": [{"type": "InternalIP", "address": address} for address in addresses]}
    api.patch("v1", "nodes", None, name, {"status": status}, subresource="status")


API_VERSION = f"{emulator.GROUP}/{emulator.VERSION}"


def fetch(api: emulator.Client, plural: str, name: str, namespace: str = "default") -> dict[str, Any]:
    result: dict[str, Any] = api.get(API_VERSION, plural, namespace, name)
    return result


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """One condition of an object's status, or None."""
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item["type"] == kind:
            return dict(item)
    return None


def settled(
    api: emulator.Client, plural: str, name: str, kind: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    """Wait until the object's ``kind`` condition has ``status`` (and ``reason``); return the object."""

    def probe() -> dict[str, Any] | None:
        obj = fetch(api, plural, name)
        found = condition(obj, kind)
        ok = found is not None and found["status"] == status and (reason is None or found["reason"] == reason)
        return obj if ok else None

    return emulator.wait_for(probe, timeout=10)


def events(api: emulator.Client, kind: str, name: str, reason: str | None = None) -> list[dict[str, Any]]:
    """Events posted about one object (optionally of one reason), oldest first."""
    found = [
        event
        for event in api.list("v1", "events", "default")
        if event["involvedObject"].get("kind") == kind
        and event["involvedObject"].get("name") == name
        and (reason is None or event["reason"] == reason)
    ]
    return sorted(found, key=lambda event: int(event["metadata"]["resourceVersion"]))


def report(api: emulator.Client, plural: str, name: str, **status: Any) -> None:
    """Patch status fields the way the active director's agent does."""
    api.patch(API_VERSION, plural, "default", name, {"status": status}, subresource="status")
