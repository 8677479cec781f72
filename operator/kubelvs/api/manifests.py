"""Read manifests (files, directories, stdin) the way ``kubectl apply -f`` would, and check them as a set."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelvs.api import strict_yaml
from kubelvs.api.judgement import Key, Tribunal
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import describe, is_ours, parse_object
from kubelvs.api.problems import Problem


@dataclass(frozen=True)
class Finding:
    """A problem located in a file and an object."""

    source: str
    obj: str
    problem: Problem

    def __str__(self) -> str:
        return f"{self.source}: {self.obj}: {self.problem}"


@dataclass
class ManifestSet:
    """The valid objects of a set of manifests, and a finding for everything else."""

    virtual_servers: list[VirtualServer] = field(default_factory=list)
    real_servers: list[RealServer] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _files(paths: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    for name in paths:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer.read()
            continue
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.suffix in (".yaml", ".yml", ".json") and child.is_file():
                    yield str(child), child.read_bytes()
        else:
            yield str(path), path.read_bytes()


def _documents(source: str, data: bytes) -> Iterator[tuple[str, Any]]:
    """Each document of one file (a List's items one by one); the first that cannot be read ends the file
    as a :class:`~kubelvs.api.strict_yaml.DocumentError`, after the documents before it."""
    try:
        for index, doc in enumerate(strict_yaml.load_documents(data)):
            if doc is None:
                continue
            if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                for item in doc["items"]:
                    yield f"{source}#{index}", item
            else:
                yield f"{source}#{index}", doc
    except strict_yaml.DocumentError as error:
        yield source, error


def load(paths: Iterable[str]) -> ManifestSet:
    """Parse and check every lvs.kubelvs.io object under ``paths``; other kinds are ignored.

    An object defined twice is the last definition, as ``kubectl apply -f`` leaves it; which objects are in
    force is the one judgement (:func:`kubelvs.api.judgement.judge`) the operator and the agents apply too.
    """
    result = ManifestSet()
    sources: dict[Key, str] = {}
    defined: dict[Key, VirtualServer | RealServer | list[Problem]] = {}
    for source, text in _read_all(paths, result):
        for where, doc in _documents(source, text):
            if isinstance(doc, strict_yaml.DocumentError):
                result.findings.append(Finding(source, "-", Problem("", f"not valid YAML: {doc}")))
                continue
            if not isinstance(doc, dict):
                result.findings.append(Finding(where, "-", Problem("", "a manifest must be a YAML mapping")))
                continue
            if not is_ours(doc):
                continue
            parsed = parse_object(doc)
            kind, _, key = describe(doc).partition(" ")
            if isinstance(parsed, list):
                result.findings.extend(Finding(source, describe(doc), p) for p in parsed)
            defined[(kind, key)] = parsed
            sources[(kind, key)] = source
    tribunal = Tribunal()
    for (kind, key), parsed in defined.items():
        if isinstance(parsed, list):
            tribunal.put_invalid(kind, key, parsed)
        else:
            tribunal.put(parsed)
    tribunal.settle()
    for (kind, key), parsed in sorted(defined.items(), key=_claims_first):
        verdict = tribunal.verdict(kind, key)
        if isinstance(parsed, list) or verdict is None or verdict.accepted:
            continue
        result.findings.extend(Finding(sources[(kind, key)], f"{kind} {key}", p) for p in verdict.problems)
    for obj in tribunal.in_force():
        if isinstance(obj, VirtualServer):
            result.virtual_servers.append(obj)
        else:
            result.real_servers.append(obj)
    return result


def _claims_first(item: tuple[Key, object]) -> tuple[bool, str]:
    """VirtualServers' findings before RealServers', each in key order."""
    (kind, key), _ = item
    return (kind != "VirtualServer", key)


def _read_all(paths: Iterable[str], result: ManifestSet) -> Iterator[tuple[str, bytes]]:
    for name in paths:
        try:
            yield from list(_files([name]))
        except OSError as error:
            result.findings.append(Finding(name, "-", Problem("", error.strerror or str(error))))
