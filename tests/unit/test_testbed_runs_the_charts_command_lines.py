"""The test bed runs the operator and the agents with the command lines the Helm chart renders: the kubelet's
``$(VAR)`` expansion, the downward-API env, host paths per node, and only the test bed's own ``--set`` values.

These render the real chart, so they need helm (``.ci/install-helm.sh``); without it they fail, never skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs.address_text import listen_address
from kubelvs.cli import build_parser
from kubelvs.planner.facts import parse_pools
from kubelvs.testbed import chart
from kubelvs.testbed import stack as st


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("--node=$(NODE_NAME)", "--node=dir-a", id="reference"),
        pytest.param("$(NODE_NAME)-$(HOST_IP)", "dir-a-192.0.2.1", id="two-references"),
        pytest.param("$$(NODE_NAME)", "$(NODE_NAME)", id="escaped"),
        pytest.param("$(UNKNOWN)", "$(UNKNOWN)", id="unknown-stays"),
        pytest.param("$(NODE_NAME", "$(NODE_NAME", id="unclosed-stays"),
        pytest.param("cost $5 $", "cost $5 $", id="lone-dollars"),
        pytest.param("", "", id="empty"),
    ],
)
def test_arguments_are_expanded_like_the_kubelet_does(text: str, expected: str) -> None:
    assert chart.expand(text, {"NODE_NAME": "dir-a", "HOST_IP": "192.0.2.1"}) == expected


def test_env_values_may_refer_to_earlier_entries_and_unknown_sources_are_refused() -> None:
    pod = chart.Pod("p", "dir-a", "192.0.2.1", "192.0.2.1")
    node = {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    container = chart.Container("c", ("$(GREETING)",), (node, {"name": "GREETING", "value": "hi $(NODE)"}), {}, ())
    assert container.command(pod).argv == ("kubelvs", "hi dir-a")
    secret = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    with pytest.raises(ValueError, match="only values and fieldRefs"):
        chart.Container("c", (), (secret,), {}, ()).environment(pod)
    with pytest.raises(ValueError, match=r"fieldRef 'status\.hostIPs'"):
        pod.field("status.hostIPs")


def test_a_path_under_a_host_path_mount_moves_into_the_nodes_directory(tmp_path: Path) -> None:
    container = chart.Container(
        "agent", ("--state-file=/var/lib/kubelvs/owned.json", "/var/lib/kubelvs", "--other=/var/lib/kubelvsx"),
        (), {}, (("/var/lib/kubelvs", "/srv/lvs"),),
    )  # fmt: skip
    argv = container.command(chart.Pod("p", "n", "192.0.2.1", "192.0.2.1"), node_root=tmp_path / "n").argv
    on_node = tmp_path / "n" / "srv" / "lvs"
    assert argv[1:] == (f"--state-file={on_node}/owned.json", str(on_node), "--other=/var/lib/kubelvsx")
    assert on_node.is_dir(), "created, as a DirectoryOrCreate hostPath is"


@pytest.fixture
def stack(tmp_path: Path) -> st.Stack:
    return st.Stack(tmp_path)


@pytest.mark.parametrize("node", [*st.DIRECTORS, *st.BACKENDS])
def test_every_agent_runs_the_chart_command_line_with_its_node_address(stack: st.Stack, node: str) -> None:
    argv = stack.agent_argv(node)
    assert argv[:2] == ("kubelvs", "agent")
    args, unknown = build_parser(only="agent").parse_known_args(list(argv[1:]))
    assert unknown == []
    assert (args.node, args.namespace, args.standalone) == (node, chart.NAMESPACE, False)
    assert (listen_address(args.metrics_address), args.metrics_port) == stack.agent_metrics(node)
    assert args.metrics_address == st.NODE_ADDRESSES[node]
    assert Path(args.state_file) == stack.workdir / "nodes" / node / "var/lib/kubelvs/owned.json"
    assert (args.no_sync_daemon, args.sync_interface, args.sync_id) == (False, st.SYNC_INTERFACE, 0)
    assert [str(pool) for pool in parse_pools(args.vip_pools)] == st.VIP_POOLS.split(",")
    assert args.lease_duration == "4s", "the test bed's Lease (Timings), through the chart's values"
    assert stack.agent_command(node).env["HOST_IP"] == st.NODE_ADDRESSES[node]


def test_the_agents_state_files_are_apart(stack: st.Stack) -> None:
    files = {dict(a.partition("=")[::2] for a in stack.agent_argv(n))["--state-file"] for n in st.NODE_ADDRESSES}
    assert len(files) == len(st.NODE_ADDRESSES), "one filesystem in the VM: each node its own record"


def test_the_operator_runs_the_chart_command_line_with_peering(stack: st.Stack) -> None:
    command = stack.operator_command()
    assert command.argv[:2] == ("kubelvs", "operator")
    args, unknown = build_parser(only="operator").parse_known_args(list(command.argv[1:]))
    assert unknown == []
    assert args.all_namespaces and args.peering == "kubelvs" and not args.standalone
    assert (listen_address(args.metrics_address), args.metrics_port) == stack.operator_metrics()
    assert command.env["POD_IP"] == st.OPERATOR_POD_IP
    (peering,) = stack.render().of_kind("ClusterKopfPeering")
    assert peering["metadata"]["name"] == args.peering, "the stack creates the object the operator meets in"


def test_only_the_test_beds_own_values_are_set(stack: st.Stack) -> None:
    assert sorted(stack.chart_values()) == [
        "config.vipPools",
        "ipvs.syncDaemon.enabled",
        "ipvs.syncDaemon.interface",
        "leaderElection.leaseDuration",
        "leaderElection.renewDeadline",
        "leaderElection.renewPeriod",
        "leaderElection.retryPeriod",
    ]


def test_the_agents_own_lease_defaults_reach_it_through_the_chart(tmp_path: Path) -> None:
    defaults = st.Stack(tmp_path, timings=st.Timings.agent_defaults())
    args, _ = build_parser(only="agent").parse_known_args(list(defaults.agent_argv("dir-a")[1:]))
    assert (args.lease_duration, args.renew_deadline, args.renew_period, args.retry_period) == (
        "1500ms",
        "1s",
        "500ms",
        "250ms",
    )


def test_without_helm_the_stack_does_not_start(
    stack: st.Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chart, "REPO", tmp_path)  # no .cache/bin/helm there
    monkeypatch.setenv("PATH", str(tmp_path))
    chart._render.cache_clear()
    with pytest.raises(chart.HelmMissing, match=r"install-helm\.sh"):
        stack.render()


def test_a_metrics_page_is_read_by_series_name() -> None:
    page = "\n".join(
        [
            "# HELP kubelvs_ipvs_scrape_success 1 if the IPVS counters could be read.",
            "kubelvs_ipvs_scrape_success 1.0",
            'kubelvs_director_group_held{group="g1",node="dir-a"} 1.0',
            'kubelvs_director_group_held{group="g2",node="dir-a"} 0.0',
            'kubelvs_director_group_holder{group="g1",holder="dir-a"} 1.0',
        ]
    )
    assert st.series(page, "kubelvs_ipvs_scrape_success") == {"": 1.0}
    assert st.series(page, "kubelvs_director_group_held") == {
        '{group="g1",node="dir-a"}': 1.0,
        '{group="g2",node="dir-a"}': 0.0,
    }
    assert st.series(page, "kubelvs_director_group") == {}, "a name's prefix is not the name"
