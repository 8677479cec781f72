"""The command lines the chart renders are accepted by the real ``kubelvs agent`` / ``kubelvs operator``
parsers, and their values parse: a renamed flag or a new required one fails here, not in a cluster.

``$(VAR)`` references are filled the way the kubelet fills them, from the container's own env entries (the
test bed's :mod:`kubelvs.testbed.chart`, which the full-stack VM test runs the same command lines through), so
a reference to an env entry the chart forgot stays unfilled and fails the parse or the check below.
"""

from __future__ import annotations

import pytest

from kubelvs.address_text import listen_address
from kubelvs.api.durations import parse_duration
from kubelvs.cli import build_parser
from kubelvs.planner.facts import parse_pools
from kubelvs.testbed import chart

NODE_IP, POD_IP = "192.0.2.7", "10.244.1.5"
# a hostNetwork agent's pod IP is its node's; the operator's pod has an address of its own
PODS = {
    "DaemonSet": chart.Pod("lvs-kubelvs-agent-x1", "node-a", NODE_IP, NODE_IP, namespace="kube-lvs"),
    "Deployment": chart.Pod("lvs-kubelvs-operator-x1", "node-b", NODE_IP, POD_IP, namespace="kube-lvs"),
}


def command_line(rendered, kind: str, suffix: str) -> list[str]:
    """The container's args as the kubelet passes them (after the image's ENTRYPOINT, ``kubelvs``)."""
    container = chart.Container.of(rendered.find(kind, suffix))
    argv = container.command(PODS[kind]).argv
    assert argv[0] == "kubelvs"
    unfilled = [arg for arg in argv if "$(" in arg]
    assert not unfilled, f"no env entry of the container fills {unfilled}"
    return list(argv[1:])


def parse(argv: list[str]):
    command = next(a for a in argv if not a.startswith("-"))
    return build_parser(only=command).parse_known_args(argv)


def test_operator_accepts_its_command_line(rendered) -> None:
    args, unknown = parse(command_line(rendered, "Deployment", "-operator"))
    assert unknown == []
    assert args.all_namespaces is True
    assert args.metrics_port == rendered.values.get("operator", {}).get("metricsPort", 9642)
    assert parse_pools(args.vip_pools) == parse_pools(
        ",".join(rendered.values.get("config", {}).get("vipPools", []))
    )
    peering = rendered.values.get("operator", {}).get("peering", {})
    if peering.get("enabled", True):
        assert args.peering == peering.get("name", "kubelvs")
    else:
        assert args.standalone is True
    assert listen_address(args.metrics_address) == POD_IP, "metrics listen on the pod's address alone"


def test_agent_accepts_its_command_line(rendered) -> None:
    args, unknown = parse(command_line(rendered, "DaemonSet", "-agent"))
    assert unknown == [], f"kubelvs agent does not know {unknown}"
    assert args.standalone is False
    assert args.node == "node-a"
    assert args.namespace == "kube-lvs", "Leases live in the release namespace, where the Role grants them"
    for duration in (args.resync_period, args.drain_timeout, args.lease_duration, args.renew_deadline):
        assert parse_duration(duration) > 0
    assert args.no_fail_static is not rendered.values.get("leaderElection", {}).get("failStatic", True)
    sync = rendered.values.get("ipvs", {}).get("syncDaemon", {})
    assert args.no_sync_daemon is not sync.get("enabled", False)
    if sync.get("enabled"):
        assert (args.sync_interface, args.sync_id) == (sync["interface"], sync.get("syncId", 0))
    assert listen_address(args.metrics_address) == NODE_IP, "metrics listen on the node's address, not every one"
    assert args.metrics_port == rendered.values.get("agent", {}).get("metricsPort", 9641)


def test_agent_election_settings_are_consistent_by_default(render) -> None:
    from kubelvs.agent.election import ElectionSettings

    args, _ = parse(command_line(render(), "DaemonSet", "-agent"))
    settings = ElectionSettings(
        lease_duration=parse_duration(args.lease_duration),
        renew_deadline=parse_duration(args.renew_deadline),
        renew_period=parse_duration(args.renew_period),
        retry_period=parse_duration(args.retry_period),
    )
    assert settings.retry_period < settings.renew_period < settings.renew_deadline < settings.lease_duration


def test_agent_serves_metrics_on_the_chart_port(render) -> None:
    rendered = render({"agent": {"metricsPort": 9700}})
    args, _ = parse(command_line(rendered, "DaemonSet", "-agent"))
    assert args.metrics_port == 9700


def test_agent_timeouts_and_pools_reach_the_command_line(render) -> None:
    rendered = render(
        {"config": {"vipPools": ["192.0.2.0/24"]}, "ipvs": {"timeouts": {"tcp": 60, "tcpFin": 0, "udp": 5}}}
    )
    args, _ = parse(command_line(rendered, "DaemonSet", "-agent"))
    assert (args.tcp_timeout, args.tcpfin_timeout, args.udp_timeout) == (60, 0, 5)
    assert [str(p) for p in parse_pools(args.vip_pools)] == ["192.0.2.0/24"]
    assert args.state_file == "/var/lib/kubelvs/owned.json"


AGENT_ENV = {"NODE_NAME": "node-a", "POD_NAMESPACE": "kube-lvs", "HOST_IP": NODE_IP}
OPERATOR_ENV = {"POD_NAME": "lvs-kubelvs-operator-x1", "POD_NAMESPACE": "kube-lvs", "POD_IP": POD_IP}


@pytest.mark.parametrize(
    ("kind", "suffix", "variables"),
    [
        pytest.param("DaemonSet", "-agent", AGENT_ENV, id="agent"),
        pytest.param("Deployment", "-operator", OPERATOR_ENV, id="operator"),
    ],
)
def test_env_substitutions_come_from_the_downward_api(rendered, kind: str, suffix: str, variables) -> None:
    container = chart.Container.of(rendered.find(kind, suffix))
    assert container.environment(PODS[kind]) == variables
    fields = {
        entry["name"]: entry["valueFrom"]["fieldRef"]["fieldPath"]
        for entry in rendered.container(kind, suffix)["env"]
        if "fieldRef" in entry.get("valueFrom", {})
    }
    address = {"DaemonSet": ("HOST_IP", "status.hostIP"), "Deployment": ("POD_IP", "status.podIP")}[kind]
    assert fields[address[0]] == address[1]
    assert f"--metrics-address=$({address[0]})" in rendered.container(kind, suffix)["args"]
