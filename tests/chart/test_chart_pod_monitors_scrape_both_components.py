"""``metrics.podMonitor.enabled``: a PodMonitor per component (operator, agent) scraping its pods' ``metrics``
container port, with the chosen interval, timeout and labels; the agent's series labelled by node, as the
ServiceMonitor does; and no metrics Service needed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_pod_monitors_scrape_the_metrics_port_of_both_components(render: Callable[..., Any]) -> None:
    chosen = {"enabled": True, "interval": "15s", "scrapeTimeout": "5s", "labels": {"release": "prom"}}
    rendering = render({"metrics": {"podMonitor": chosen}})
    monitors = {o["metadata"]["name"].rsplit("-", 1)[-1]: o for o in rendering.of_kind("PodMonitor")}
    assert set(monitors) == {"operator", "agent"}
    for component, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "prom"
        assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == component
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert (endpoint["port"], endpoint["interval"], endpoint["scrapeTimeout"]) == ("metrics", "15s", "5s")
        pod = rendering.agent() if component == "agent" else rendering.operator()
        ports = [p["name"] for c in pod["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
        assert "metrics" in ports
        assert (
            pod["spec"]["template"]["metadata"]["labels"].items()
            >= monitor["spec"]["selector"]["matchLabels"].items()
        )
    relabel = monitors["agent"]["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert relabel == [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}]
    assert "relabelings" not in monitors["operator"]["spec"]["podMetricsEndpoints"][0]
    assert not [o for o in rendering.of_kind("Service") if o["metadata"]["name"].endswith("-metrics")]


def test_no_pod_monitors_by_default(render: Callable[..., Any]) -> None:
    assert not render().of_kind("PodMonitor")
