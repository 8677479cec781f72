"""The sync daemons an in-cluster agent starts go into its ownership record, and ``--cleanup`` stops them from the
record alone (no flags, no API server); one it did not start (another syncid) is left running. The kernel is the
reconciler's fake with sync daemon states; stopping a real daemon is the VM test's
(tests/kernel/test_agent_cleanup_leaves_the_node_as_it_was.py)."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client as k8s
from test_election_holder_runs_the_sync_master import FakeNode, SyncingIpvs

from kubelvs.agent.cleanup import clean
from kubelvs.agent.cluster import ClusterAgent
from kubelvs.agent.options import ClusterOptions as Options
from kubelvs.agent.ownership import Store


class NoTunnel:
    def is_up(self) -> bool:
        return False

    def set_down(self) -> bool:
        return False


def test_cleanup_stops_the_daemons_the_record_names(tmp_path: Path) -> None:
    node = FakeNode.new()
    node.ipvs = ipvs = SyncingIpvs()
    state = tmp_path / "owned.json"
    options = Options(node="node-a", lease_namespace="kube-lvs", state_file=state, sync_daemon=("eth0", 7))
    with k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")) as api:  # never contacted here
        agent = ClusterAgent(options, node.kernel(), api)
        agent.election._held = frozenset({"g"})
        assert agent.pipeline.run(full=True).outcome.errors == []
    assert ipvs.daemons == {"backup": ("eth0", 7), "master": ("eth0", 7)}
    assert Store(state).load().sync_daemons == {"backup": ("eth0", 7), "master": ("eth0", 7)}

    ipvs.daemons["master"] = ("eth0", 8)  # replaced by someone else meanwhile: not ours to stop
    outcome = clean(node.kernel(), Store(state), NoTunnel())
    assert outcome.errors == []
    assert ipvs.daemons == {"master": ("eth0", 8)}
    assert outcome.writes["ipvs.stop_sync"] == 1
