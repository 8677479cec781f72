"""Raw Kubernetes objects (dicts) -> checked VirtualServer / RealServer models, or named problems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kubelvs import API_VERSION, GROUP
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.problems import Problem, from_validation_error
from kubelvs.api.rules import real_server_problems, virtual_server_problems

KINDS = ("VirtualServer", "RealServer")


def is_ours(raw: Mapping[str, Any]) -> bool:
    """True for any object of the lvs.kubelvs.io group, whatever its kind or version."""
    return str(raw.get("apiVersion", "")).split("/")[0] == GROUP


def describe(raw: Mapping[str, Any]) -> str:
    """``VirtualServer default/web`` for messages, as much as the raw object allows."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    name = meta.get("name", "<no name>")
    return f"{raw.get('kind', '<no kind>')} {meta.get('namespace', 'default')}/{name}"


def parse_object(raw: Mapping[str, Any]) -> VirtualServer | RealServer | list[Problem]:
    """Check one object completely: schema, then the rules between its fields."""
    if raw.get("apiVersion") != API_VERSION:
        return [Problem("apiVersion", f"{raw.get('apiVersion')!r} is not served; use {API_VERSION!r}")]
    kind = raw.get("kind")
    model: type[VirtualServer] | type[RealServer]
    if kind == "VirtualServer":
        model = VirtualServer
    elif kind == "RealServer":
        model = RealServer
    else:
        return [Problem("kind", f"{kind!r} is not a kind of {GROUP}; expected one of {', '.join(KINDS)}")]
    try:
        obj = model.model_validate(dict(raw))
    except ValidationError as error:
        return from_validation_error(error)
    problems = list(
        virtual_server_problems(obj.spec) if isinstance(obj, VirtualServer) else real_server_problems(obj.spec)
    )
    return problems or obj
