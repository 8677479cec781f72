"""The kubelet probes what the processes serve: the agent's /healthz and /readyz on its metrics port (the port
its --metrics-port flag opens), kopf's /healthz on the operator's --liveness port; timings come from the values,
and a rolling update of the agents goes one ready node at a time."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from kubelvs.agent import health_endpoints

AGENT_PROBES = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
TIMINGS = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")


def flag(container: dict[str, Any], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in container["args"] if arg.startswith(f"--{name}=")]
    return value


def port_of(container: dict[str, Any], probe: dict[str, Any]) -> int:
    (port,) = [p["containerPort"] for p in container["ports"] if p["name"] == probe["httpGet"]["port"]]
    return int(port)


def test_agent_probes_its_own_metrics_server(rendered) -> None:
    agent = rendered.container("DaemonSet", "-agent")
    for kind, path in AGENT_PROBES.items():
        probe = agent[kind]
        assert probe["httpGet"]["path"] == path, kind
        assert "host" not in probe["httpGet"], "hostNetwork: the pod IP the kubelet probes is the node's address"
        assert port_of(agent, probe) == int(flag(agent, "metrics-port")), f"{kind} probes another port"
    assert flag(agent, "metrics-address") == "$(HOST_IP)"


def test_agent_probe_timings_follow_the_values(render) -> None:
    probes = {
        "startup": {"periodSeconds": 7, "timeoutSeconds": 2, "failureThreshold": 90},
        "liveness": {"periodSeconds": 11, "timeoutSeconds": 4, "failureThreshold": 5},
        "readiness": {"periodSeconds": 3, "timeoutSeconds": 1, "failureThreshold": 2},
    }
    agent = render({"agent": {"probes": probes}}).container("DaemonSet", "-agent")
    for name, timings in probes.items():
        probe = agent[f"{name}Probe"]
        assert {key: probe[key] for key in TIMINGS if key in probe} == timings, name


def test_agent_startup_allows_a_slow_first_pass(rendered) -> None:
    startup = rendered.container("DaemonSet", "-agent")["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "a big node's first pass takes a minute"


def test_agent_healthz_probes_wait_longer_than_the_agent_waits_for_its_loop(rendered) -> None:
    # the agent answers 503 itself once its loop misses LOOP_ANSWER_TIMEOUT; a shorter probe would cut it off
    agent = rendered.container("DaemonSet", "-agent")
    for kind in ("startupProbe", "livenessProbe"):
        assert agent[kind]["timeoutSeconds"] > health_endpoints.LOOP_ANSWER_TIMEOUT, kind


def test_agent_rolling_update_waits_for_each_node(render) -> None:
    spec = render().agent()["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    assert spec["minReadySeconds"] == 10
    assert render({"agent": {"minReadySeconds": 42}}).agent()["spec"]["minReadySeconds"] == 42


def test_operator_probes_kopfs_liveness_endpoint(rendered) -> None:
    operator = rendered.container("Deployment", "-operator")
    liveness = urlparse(flag(operator, "liveness"))
    for kind in ("livenessProbe", "readinessProbe"):
        probe = operator[kind]
        assert probe["httpGet"]["path"] == liveness.path == "/healthz", kind
        assert port_of(operator, probe) == liveness.port, f"{kind} probes another port than --liveness opens"


def test_operator_probe_timings_follow_the_values(render) -> None:
    probes = {
        "liveness": {"initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 4},
        "readiness": {"initialDelaySeconds": 5, "periodSeconds": 6, "timeoutSeconds": 7, "failureThreshold": 8},
    }
    operator = render({"operator": {"probes": probes}}).container("Deployment", "-operator")
    for name, timings in probes.items():
        probe = operator[f"{name}Probe"]
        assert {key: probe[key] for key in TIMINGS} == timings, name


def test_operator_without_a_health_port_has_no_probes(render) -> None:
    operator = render({"operator": {"healthPort": 0}}).container("Deployment", "-operator")
    assert "livenessProbe" not in operator and "readinessProbe" not in operator
    assert not any(arg.startswith("--liveness") for arg in operator["args"])


def test_probe_values_are_checked_by_the_schema(template_error) -> None:
    error = template_error({"agent": {"probes": {"startup": {"failureThreshold": 0}}}})
    assert "failureThreshold" in error
    error = template_error({"operator": {"probes": {"readiness": {"periodSecond": 5}}}})
    assert "periodSecond" in error
