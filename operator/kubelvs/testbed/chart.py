"""The chart's command lines for the test bed: what ``helm template`` renders, with the kubelet's part done.

The full-stack test and ``kubelvs demo`` run the operator and the agents with exactly the arguments
``charts/kubelvs`` renders for its default values plus the few the test bed must change (``--set``), so a flag
the chart passes is a flag the tests ran. :func:`render` runs the real helm (a missing helm is an error, never
a fallback); :meth:`Container.command` then does for one pod what a kubelet does:

- the container's ``env`` is resolved: plain values, and ``fieldRef`` s from the pod (its name and namespace,
  the node's name, ``status.hostIP``, ``status.podIP``);
- ``$(VAR)`` in the arguments is replaced from that env, ``$$`` is a literal ``$``, and an unknown ``$(VAR)``
  stays as written (the kubelet's expansion rules);
- a path under a ``hostPath`` mount is moved to where that volume lies on the node: the VM's nodes are network
  namespaces on one filesystem, so each node's host paths live under its own directory.

The argv starts with the image's ENTRYPOINT (``kubelvs``), as the container runs it.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "kubelvs"
RELEASE = "kubelvs"
NAMESPACE = "kube-lvs"
ENTRYPOINT = "kubelvs"  # the image's ENTRYPOINT: a container's args follow it
HELM_TIMEOUT = 300.0  # a Go binary of 60 MB read over 9p by an emulated CPU


class HelmMissing(FileNotFoundError):
    """No helm binary: the test bed runs only what the chart renders, so it cannot start without one."""


def find_helm() -> str:
    """``.cache/bin/helm`` (``.ci/install-helm.sh`` puts it there), else ``helm`` on PATH."""
    local = REPO / ".cache" / "bin" / "helm"
    if os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found is None:
        raise HelmMissing("helm is missing: run `bash .ci/install-helm.sh` (installs .cache/bin/helm)")
    return found


@dataclass(frozen=True)
class Pod:
    """What a kubelet knows of one pod, for the container's ``fieldRef`` s."""

    name: str
    node_name: str
    host_ip: str
    pod_ip: str  # a hostNetwork pod's is the host's
    namespace: str = NAMESPACE

    def field(self, path: str) -> str:
        fields = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "spec.nodeName": self.node_name,
            "status.hostIP": self.host_ip,
            "status.podIP": self.pod_ip,
        }
        if path not in fields:
            raise ValueError(f"fieldRef {path!r} is not one the test bed knows: {sorted(fields)}")
        return fields[path]


@dataclass(frozen=True)
class Command:
    """A process as the container would run it: its argv and the env the kubelet gives it."""

    argv: tuple[str, ...]
    env: Mapping[str, str]


@dataclass(frozen=True)
class Container:
    """One pod template's only container, as rendered."""

    name: str
    args: tuple[str, ...]
    env: tuple[Mapping[str, Any], ...]
    ports: Mapping[str, int]  # container port by name
    host_paths: tuple[tuple[str, str], ...]  # (mountPath, hostPath) of each hostPath volume mounted

    @classmethod
    def of(cls, workload: Mapping[str, Any]) -> Container:
        spec = workload["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        volumes = {v["name"]: v["hostPath"]["path"] for v in spec.get("volumes") or [] if "hostPath" in v}
        return cls(
            name=container["name"],
            args=tuple(str(arg) for arg in container.get("args") or ()),
            env=tuple(container.get("env") or ()),
            ports={p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if "name" in p},
            host_paths=tuple(
                (m["mountPath"], volumes[m["name"]])
                for m in container.get("volumeMounts") or []
                if m["name"] in volumes
            ),
        )

    def environment(self, pod: Pod) -> dict[str, str]:
        """The container's env resolved in order (a value may refer to the entries before it)."""
        resolved: dict[str, str] = {}
        for entry in self.env:
            if "value" in entry:
                resolved[entry["name"]] = expand(str(entry["value"]), resolved)
            elif "fieldRef" in (entry.get("valueFrom") or {}):
                resolved[entry["name"]] = pod.field(entry["valueFrom"]["fieldRef"]["fieldPath"])
            else:
                raise ValueError(f"env {entry.get('name')!r} of {self.name}: only values and fieldRefs are known")
        return resolved

    def command(self, pod: Pod, node_root: Path | None = None) -> Command:
        """The container's process in ``pod``; ``node_root`` is the node's directory for its host paths."""
        env = self.environment(pod)
        args = [expand(arg, env) for arg in self.args]
        if node_root is not None:
            args = [self._on_node(arg, node_root) for arg in args]
        return Command((ENTRYPOINT, *args), env)

    def _on_node(self, arg: str, node_root: Path) -> str:
        flag, sep, value = arg.partition("=")
        if not (sep and arg.startswith("--")):  # a path is a flag's value or an argument of its own
            flag, sep, value = "", "", arg
        for mount, host in self.host_paths:
            mount = mount.rstrip("/")
            if value == mount or value.startswith(mount + "/"):
                on_node = node_root / host.strip("/")
                on_node.mkdir(parents=True, exist_ok=True)  # the chart's hostPath type is DirectoryOrCreate
                return f"{flag}{sep}{on_node}{value[len(mount) :]}"
        return arg


def expand(text: str, env: Mapping[str, str]) -> str:
    """``$(VAR)`` replaced from ``env`` the way the kubelet expands args: ``$$`` is ``$``, an unknown or
    unclosed reference stays as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
        elif text[i + 1] == "$":
            out.append("$")
            i += 2
        elif text[i + 1] == "(" and (end := text.find(")", i + 2)) != -1:
            name = text[i + 2 : end]
            out.append(env.get(name, text[i : end + 1]))
            i = end + 1
        else:
            out.append(text[i : i + 2])
            i += 2
    return "".join(out)


@dataclass(frozen=True)
class Rendering:
    """What ``helm template`` made of the chart: every object, the operator's and the agent's container."""

    objects: tuple[Mapping[str, Any], ...]
    operator: Container
    agent: Container

    def of_kind(self, kind: str) -> list[Mapping[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]


def _component(objects: tuple[Mapping[str, Any], ...], kind: str, component: str) -> Container:
    found = [
        o
        for o in objects
        if o.get("kind") == kind
        and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
    ]
    if len(found) != 1:
        raise ValueError(f"the chart rendered {len(found)} {kind}s of component {component}, not one")
    return Container.of(found[0])


def render(values: Mapping[str, str] | None = None) -> Rendering:
    """``helm template`` of the chart with ``--set KEY=VALUE`` for each of ``values`` (helm's syntax: lists as
    ``{a,b}``); cached per set of values, as the chart does not change under a running test."""
    return _render(tuple(sorted((values or {}).items())))


@functools.lru_cache(maxsize=8)
def _render(values: tuple[tuple[str, str], ...]) -> Rendering:
    command = [find_helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for key, value in values:
        command += ["--set", f"{key}={value}"]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=HELM_TIMEOUT, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"helm template failed: {result.stderr.strip() or result.stdout.strip()}")
    logger.info("helm template took %.2f s", time.monotonic() - started)
    objects = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    return Rendering(
        objects=objects,
        operator=_component(objects, "Deployment", "operator"),
        agent=_component(objects, "DaemonSet", "agent"),
    )
