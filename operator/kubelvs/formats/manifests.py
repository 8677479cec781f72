"""Render VirtualServer / RealServer objects as readable CR YAML: defaults omitted, short lists inline,
an optional comment above each object saying where it came from.

The output is exactly what ``kubelvs validate`` and ``kubectl apply -f`` read back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kubelvs.api.models import RealServer, VirtualServer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One object of the output and the comment lines printed above it."""

    obj: VirtualServer | RealServer
    comments: tuple[str, ...] = ()


class _Dumper(yaml.SafeDumper):
    """Block style for mappings, flow style for lists of scalars (``schedulerFlags: [sh-port]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def as_dict(obj: VirtualServer | RealServer) -> dict[str, Any]:
    """The object as a manifest: apiVersion, kind, metadata (name, namespace), then the non-default spec."""
    spec = obj.spec.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    if "persistence" in spec:
        # -p always prints its timeout; an empty mapping would read as a mistake
        spec["persistence"] = {"timeout": obj.spec.persistence.timeout, **spec["persistence"]}  # type: ignore[union-attr]
    return {
        "apiVersion": obj.api_version,
        "kind": obj.kind,
        "metadata": {"name": obj.metadata.name, "namespace": obj.metadata.namespace},
        "spec": spec,
    }


def render(documents: Iterable[Document]) -> str:
    """A multi-document YAML stream, ``---`` between objects."""
    return _stream(
        "".join(f"# {line}\n" if line else "#\n" for line in document.comments) + _dump(as_dict(document.obj))
        for document in documents
    )


def render_bodies(bodies: Iterable[Mapping[str, Any]]) -> str:
    """Objects already in manifest form (a VIPPool), in the same style."""
    return _stream(_dump(body) for body in bodies)


def _dump(body: Mapping[str, Any]) -> str:
    return yaml.dump(dict(body), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def _stream(parts: Iterable[str]) -> str:
    listed = list(parts)
    return "---\n" + "---\n".join(listed) if listed else ""
