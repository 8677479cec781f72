"""The agent gets the node's network and exactly the privileges the values say; the operator gets none."""

from __future__ import annotations


def test_agent_runs_on_the_host_network(rendered) -> None:
    pod = rendered.agent()["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"


def test_agent_privileges_match_the_values(rendered) -> None:
    agent_values = rendered.values.get("agent", {})
    context = rendered.container("DaemonSet", "-agent")["securityContext"]
    assert context["runAsUser"] == 0
    assert context["readOnlyRootFilesystem"] is True
    if agent_values.get("privileged", True):
        assert context["privileged"] is True
        assert "capabilities" not in context, "privileged gets every capability; listing some would mislead"
    else:
        assert context["privileged"] is False
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["capabilities"]["add"] == agent_values.get("capabilities", ["NET_ADMIN", "NET_RAW"])
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    pod = rendered.agent()["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, "a pod securityContext always"


def test_unprivileged_agent_gets_exactly_the_listed_capabilities(render) -> None:
    rendered = render({"agent": {"privileged": False, "capabilities": ["NET_ADMIN"]}})
    capabilities = rendered.container("DaemonSet", "-agent")["securityContext"]["capabilities"]
    assert capabilities == {"drop": ["ALL"], "add": ["NET_ADMIN"]}


def test_agent_placement_follows_the_values(rendered) -> None:
    agent_values = rendered.values.get("agent", {})
    pod = rendered.agent()["spec"]["template"]["spec"]
    # helm merges maps: the chart's default (linux nodes) stays unless set to null
    expected = {"kubernetes.io/os": "linux", **agent_values.get("nodeSelector", {})}
    assert pod["nodeSelector"] == expected
    assert pod.get("tolerations", []) == agent_values.get("tolerations", [])


def test_agent_knows_its_node_namespace_and_address(rendered) -> None:
    env = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in rendered.container("DaemonSet", "-agent")["env"]
    }
    assert env == {"NODE_NAME": "spec.nodeName", "POD_NAMESPACE": "metadata.namespace", "HOST_IP": "status.hostIP"}


def test_operator_is_unprivileged_non_root_and_read_only(rendered) -> None:
    pod = rendered.operator()["spec"]["template"]["spec"]
    context = rendered.container("Deployment", "-operator")["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod.get("hostNetwork", False) is False
    assert context == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_operator_replicas_follow_the_values(rendered) -> None:
    operator_values = rendered.values.get("operator", {})
    assert rendered.operator()["spec"]["replicas"] == operator_values.get("replicas", 1)


def test_without_peering_operator_pods_never_overlap(render) -> None:
    assert render({"operator": {"peering": {"enabled": False}}}).operator()["spec"]["strategy"] == {
        "type": "Recreate"
    }
    assert "strategy" not in render().operator()["spec"]
