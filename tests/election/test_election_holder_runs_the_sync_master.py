"""IPVS connection sync follows the election: every director runs a backup daemon, a holder also the master."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kubernetes import client as k8s

from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from fakes import FakeIpvs  # the reconciler tests' in-memory kernel
from reconciling import Node as FakeNode


class SyncingIpvs(FakeIpvs):
    """The fake table plus the kernel's sync daemon states (master and backup may run side by side)."""

    def __init__(self) -> None:
        super().__init__()
        self.daemons: dict[str, tuple[str, int]] = {}

    def start_sync_daemon(self, state: str, interface: str, syncid: int) -> None:
        assert state not in self.daemons, "the kernel refuses a second daemon of one state"
        self.daemons[state] = (interface, syncid)

    def stop_sync_daemon(self, state: str) -> None:
        del self.daemons[state]

    def sync_daemons(self) -> dict[str, tuple[str, int]]:
        return dict(self.daemons)


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        pytest.param(frozenset(), {"backup": ("eth0", 7)}, id="standby-backup-only"),
        pytest.param(frozenset({"g"}), {"backup": ("eth0", 7), "master": ("eth0", 7)}, id="holder-also-master"),
    ],
)
def test_sync_daemons_follow_the_held_groups(held, expected):
    node = FakeNode.new()
    node.ipvs = SyncingIpvs()
    node.ipvs.daemons["backup"] = ("eth1", 3)  # left over with other settings: replaced
    with k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")) as api:  # never contacted here
        agent = ClusterAgent(
            Options(node="node-a", lease_namespace="kube-lvs", state_file=None, sync_daemon=("eth0", 7)),
            node.kernel(),
            api,
        )
        agent.election._held = held
        outcome = agent.pipeline.run(full=True).outcome
        assert node.ipvs.daemons == expected
        assert outcome.errors == []
        agent.election._held = frozenset()
        again = agent.pipeline.run(full=True).outcome
        assert node.ipvs.daemons == {"backup": ("eth0", 7)}  # stepping down stops the master
        assert again.writes.get("ipvs.sync_master", 0) == (1 if held else 0)
