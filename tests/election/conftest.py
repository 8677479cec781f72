"""Elections against kmock's Kubernetes emulator made strict about resourceVersion (leases_emulator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from election_helpers import GROUP, NAMESPACE
from kubernetes import client as k8s
from leases_emulator import LeaseEmulator

from kubelvs.agent.election import Election, ElectionSettings, OnChange
from kubelvs.agent.leases import KubernetesLeases


@pytest.fixture()
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": LeaseEmulator}


@pytest.fixture()
def emulator(kmock: LeaseEmulator) -> LeaseEmulator:
    return kmock


Start = Callable[..., Awaitable[Election]]


@pytest.fixture()
async def start(emulator: LeaseEmulator) -> AsyncIterator[Start]:
    """Start a candidate: a node with its own API client (its User-Agent is the node name)."""
    elections: list[Election] = []
    clients: list[k8s.ApiClient] = []

    async def starter(
        node: str,
        groups: dict[str, list[str]] | None = None,
        settings: ElectionSettings | None = None,
        on_change: OnChange | None = None,
        store: type[KubernetesLeases] = KubernetesLeases,
    ) -> Election:
        config = k8s.Configuration(host=str(emulator.url).rstrip("/"))
        api = k8s.ApiClient(config)
        api.user_agent = node
        clients.append(api)
        election = Election(store(api, NAMESPACE), node, settings, on_change)
        elections.append(election)
        await election.set_candidacies(groups if groups is not None else {GROUP: []})
        return election

    yield starter
    await asyncio.gather(*(election.close(release=False) for election in elections))
    for api in clients:
        api.close()
