"""Raw Kubernetes objects (dicts) -> checked VirtualServer / RealServer models, or named problems."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kubelvs import API_VERSION, GROUP
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.problems import Problem, from_validation_error, shown
from kubelvs.api.rules import real_server_problems, virtual_server_problems

KINDS = ("VirtualServer", "RealServer")


NEAR_MISS = 0.85  # difflib's ratio of a group to ours above which it is a slip: lvs.kubelvs.oi, not k8s.nginx.org


def is_ours(raw: Mapping[str, Any]) -> bool:
    """True for any object of the lvs.kubelvs.io group, whatever its kind or version, and for one that was
    meant to be: one of our kinds without a usable apiVersion, or a group that is a slip of ours
    (``LVS.KUBELVS.IO``, ``lvs.kubelsv.io``, ``lvs.kubelvs.com``). Those :func:`parse_object` reports, as the
    API server would refuse them, instead of skipping them silently. Another group's VirtualServer (NGINX's
    ``k8s.nginx.org``) is not ours."""
    api_version = raw.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        return raw.get("kind") in KINDS
    group = api_version.split("/")[0]
    if group == GROUP:
        return True
    lowered = group.lower()[:64]  # a near miss is short; a long group costs no more than this
    return "kubelvs" in lowered or difflib.SequenceMatcher(None, lowered, GROUP).ratio() >= NEAR_MISS


def describe(raw: Mapping[str, Any]) -> str:
    """``VirtualServer default/web`` for messages, as much as the raw object allows (each part bounded)."""
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    kind, namespace = _part(raw.get("kind"), "<no kind>"), _part(meta.get("namespace"), "default")
    return f"{kind} {namespace}/{_part(meta.get('name'), '<no name>')}"


def _part(value: object, missing: str) -> str:
    if value is None:
        return missing
    if isinstance(value, str) and len(value) <= 253 and value.isprintable():
        return value
    return shown(value)


def parse_object(raw: Mapping[str, Any]) -> VirtualServer | RealServer | list[Problem]:
    """Check one object completely: schema, then the rules between its fields."""
    if raw.get("apiVersion") != API_VERSION:
        given = raw.get("apiVersion")
        what = "is missing" if given is None else f"{shown(given)} is not served"
        return [Problem("apiVersion", f"{what}; use {API_VERSION!r}")]
    kind = raw.get("kind")
    model: type[VirtualServer] | type[RealServer]
    if kind == "VirtualServer":
        model = VirtualServer
    elif kind == "RealServer":
        model = RealServer
    else:
        return [Problem("kind", f"{shown(kind)} is not a kind of {GROUP}; expected one of {', '.join(KINDS)}")]
    try:
        obj = model.model_validate(dict(raw), by_alias=True, by_name=False)  # the wire's camelCase only
    except ValidationError as error:
        return from_validation_error(error)
    problems = list(
        virtual_server_problems(obj.spec) if isinstance(obj, VirtualServer) else real_server_problems(obj.spec)
    )
    return problems or obj
