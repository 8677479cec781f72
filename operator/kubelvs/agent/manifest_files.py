"""The standalone agent's manifests, kept loaded: re-read only changed files, parse only changed documents.

:func:`kubelvs.api.manifests.load` reads and checks everything each time; for 11,000 objects that is seconds
per file edit. :class:`ManifestFiles` gives the same objects and findings, but keeps them between passes:
a file whose (mtime, size) is unchanged is not read, a changed file is split at its ``---`` document
markers (a marker at column 0 always ends a YAML document, so splitting there is exact) and only the
documents whose text is new are parsed. The rules between objects (:func:`kubelvs.api.rules.set_problems`)
run again only for what a change can affect: the VirtualServers' service claims when a VirtualServer
changed, and each touched VirtualServer's group of RealServers. One difference from ``load``: a document
that is not valid YAML costs only itself, not the documents after it in the same file.
"""

from __future__ import annotations

import itertools
import logging
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubelvs.api.manifests import Finding
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import describe, is_ours, parse_object
from kubelvs.api.problems import Problem
from kubelvs.api.rules import set_problems

logger = logging.getLogger(__name__)

_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SUFFIXES = (".yaml", ".yml", ".json")
_NOT_A_MARKER = re.compile(r"\n---[^ \t\r\n]")  # a line starting with --- that does not mark a document

Obj = VirtualServer | RealServer
ObjId = tuple[str, str]  # (kind, namespace/name)
Stamps = tuple[tuple[str, int, int], ...]  # (file, mtime ns, size) of every manifest file; -1 if unreadable


@dataclass
class _Doc:
    """What one document chunk holds once parsed: its objects and its findings (without a source)."""

    objects: list[Obj] = field(default_factory=list)
    problems: list[tuple[str, Problem]] = field(default_factory=list)  # (object, problem)
    invalid: set[str] = field(default_factory=set)  # VirtualServers that exist but failed their own checks


@dataclass
class _File:
    stamp: tuple[int, int]
    chunks: list[str]  # the documents' texts in file order
    docs: dict[str, _Doc]  # chunk text -> parsed
    problems: list[tuple[str, Problem]]  # of all its documents
    invalid: set[str]  # of all its documents


@dataclass
class Changes:
    """What one refresh found: objects to put, object ids gone, and whether anything changed at all."""

    put: list[Obj] = field(default_factory=list)
    removed: list[ObjId] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.put or self.removed)


class ManifestFiles:
    """Every valid lvs.kubelvs.io object under ``paths`` (as ``manifests.load`` accepts them), kept current."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        self._files: dict[str, _File] = {}
        self._objects: dict[ObjId, tuple[str, Obj]] = {}  # id -> (source file, object), all parsed objects
        self._children: dict[str, set[str]] = {}  # VirtualServer key -> its RealServers' keys
        self._claims: list[tuple[str, Problem]] = []
        self._groups: dict[str, list[tuple[str, Problem]]] = {}  # VirtualServer key -> its RealServers' problems
        self._accepted: dict[ObjId, Obj] = {}  # what the planner was given
        self._dropped: set[ObjId] = set()  # objects forgotten since the last check
        self.counts = {"VirtualServer": 0, "RealServer": 0}  # of the accepted objects

    # --- reading -------------------------------------------------------------------------------------

    def refresh(self) -> tuple[Changes, list[Finding]]:
        """Read what changed on disk; the accepted objects that changed, and every current finding."""
        findings: list[Finding] = []
        seen: set[str] = set()
        dirty_groups: set[str] = set()
        claims_dirty = False
        for source, path in self._sources(findings):
            seen.add(source)
            try:
                status = path.stat()
                stamp = (status.st_mtime_ns, status.st_size)
                old = self._files.get(source)
                if old is not None and old.stamp == stamp:
                    continue
                text = path.read_text()
            except OSError as error:
                findings.append(Finding(source, "-", Problem("", error.strerror or str(error))))
                continue
            groups, claims = self._read(source, stamp, text)
            dirty_groups |= groups
            claims_dirty |= claims
        for source in [s for s in self._files if s not in seen]:
            groups, claims = self._forget(self._files.pop(source).docs.values())
            dirty_groups |= groups
            claims_dirty |= claims
        orphans = {ident for ident in self._dropped if ident not in self._objects}
        if orphans:
            claims_dirty |= self._redefine(orphans, dirty_groups)
        changes = self._check(dirty_groups, claims_dirty)
        findings.extend(self._findings())
        return changes, findings

    def stamps(self) -> Stamps:
        """(file, mtime, size) of the files :meth:`refresh` reads: a change here means a refresh has work."""
        found: list[tuple[str, int, int]] = []
        for source, path in self._sources([]):
            try:
                status = path.stat()
            except OSError:
                found.append((source, -1, -1))
            else:
                found.append((source, status.st_mtime_ns, status.st_size))
        return tuple(found)

    def _sources(self, findings: list[Finding]) -> list[tuple[str, Path]]:
        found: list[tuple[str, Path]] = []
        for name in self.paths:
            path = Path(name)
            if path.is_dir():
                found.extend(
                    (str(child), child)
                    for child in sorted(path.rglob("*"))
                    if child.suffix in SUFFIXES and child.is_file()
                )
            elif path.exists():
                found.append((str(path), path))
            else:
                findings.append(Finding(name, "-", Problem("", "No such file or directory")))
        return found

    def _read(self, source: str, stamp: tuple[int, int], text: str) -> tuple[set[str], bool]:
        chunks = split_documents(text)
        before = self._files.get(source)
        docs = before.docs if before is not None else {}
        removed, added = changed_range(before.chunks if before is not None else [], chunks)
        # a chunk is gone only if no copy of it is left (a file may repeat a document word for word)
        gone = [docs.pop(chunk) for chunk in set(removed) if chunk in docs and chunk not in chunks]
        groups, claims = self._forget(gone)
        fresh = {chunk: _parse(source, chunk, chunks.index(chunk)) for chunk in set(added) if chunk not in docs}
        docs.update(fresh)
        if before is None or any(doc.problems or doc.invalid for doc in [*gone, *fresh.values()]):
            problems = [found for doc in docs.values() if doc.problems for found in doc.problems]
            invalid = {key for doc in docs.values() if doc.invalid for key in doc.invalid}
        else:
            problems, invalid = before.problems, before.invalid
        self._files[source] = _File(stamp, chunks, docs, problems, invalid)
        for doc in fresh.values():
            for obj in doc.objects:
                claims |= self._define(source, obj, groups)
            if doc.invalid:
                groups |= doc.invalid
        return groups, claims

    def _define(self, source: str, obj: Obj, groups: set[str]) -> bool:
        """Make ``obj`` the definition of its id (the last one read wins); True if a VirtualServer."""
        ident = (obj.kind, obj.key)
        previous = self._objects.get(ident)
        self._objects[ident] = (source, obj)
        if isinstance(obj, VirtualServer):
            groups.add(obj.key)
            return True
        if previous is not None:
            assert isinstance(previous[1], RealServer)
            self._unlink(previous[1])
            groups.add(previous[1].virtual_server_key)
        self._children.setdefault(obj.virtual_server_key, set()).add(obj.key)
        groups.add(obj.virtual_server_key)
        return False

    def _redefine(self, orphans: set[ObjId], groups: set[str]) -> bool:
        """Objects forgotten with a document that another document still defines (a file may repeat one):
        define them again from what is left. Scans every document, but only when an object went away."""
        claims = False
        for source, file in self._files.items():
            for doc in file.docs.values():
                for obj in doc.objects:
                    if (obj.kind, obj.key) in orphans:
                        claims |= self._define(source, obj, groups)
        return claims

    def _forget(self, docs: Iterable[_Doc]) -> tuple[set[str], bool]:
        groups: set[str] = set()
        claims = False
        for doc in docs:
            groups |= doc.invalid
            for obj in doc.objects:
                ident = (obj.kind, obj.key)
                current = self._objects.get(ident)
                if current is None or current[1] is not obj:
                    continue  # defined again elsewhere since
                del self._objects[ident]
                self._dropped.add(ident)
                if isinstance(obj, RealServer):
                    self._unlink(obj)
                    groups.add(obj.virtual_server_key)
                else:
                    groups.add(obj.key)
                    claims = True
        return groups, claims

    def _unlink(self, rs: RealServer) -> None:
        siblings = self._children.get(rs.virtual_server_key)
        if siblings is not None:
            siblings.discard(rs.key)
            if not siblings:
                del self._children[rs.virtual_server_key]

    # --- checking ------------------------------------------------------------------------------------

    def _invalid(self) -> frozenset[str]:
        return frozenset(key for file in self._files.values() for key in file.invalid)

    def _check(self, groups: set[str], claims: bool) -> Changes:
        """Cross-object rules for what changed, then the accepted objects' differences."""
        virtual_servers: list[VirtualServer] = self._objects_of(VirtualServer) if claims else []
        if claims:
            self._claims = list(set_problems(virtual_servers, ()))
        invalid = self._invalid() if groups else frozenset()
        for key in groups:
            parent = self._objects.get(("VirtualServer", key))
            children = [self._objects[("RealServer", name)][1] for name in sorted(self._children.get(key, ()))]
            found_problems = set_problems(
                [parent[1]] if parent else [],  # type: ignore[list-item]
                children,  # type: ignore[arg-type]
                invalid,
            )
            problems = [found for found in found_problems if found[0].startswith("RealServer ")]
            if problems:
                self._groups[key] = problems
            else:
                self._groups.pop(key, None)
        rejected = {obj for obj, _ in self._claims}
        changes = Changes()
        touched: set[ObjId] = {("VirtualServer", key) for key in groups}
        touched |= {("RealServer", name) for key in groups for name in self._children.get(key, ())}
        if claims:
            touched |= {("VirtualServer", vs.key) for vs in virtual_servers}
        touched |= {ident for ident in self._dropped if ident not in self._objects}  # gone, not redefined
        self._dropped.clear()
        for key in groups:
            rejected |= {obj for obj, _ in self._groups.get(key, ())}
        for ident in sorted(touched):
            entry = self._objects.get(ident)
            wanted = entry[1] if entry is not None and f"{ident[0]} {ident[1]}" not in rejected else None
            had = self._accepted.get(ident)
            if wanted is None:
                if had is not None:
                    del self._accepted[ident]
                    self.counts[ident[0]] -= 1
                    changes.removed.append(ident)
            elif had is not wanted:
                self._accepted[ident] = wanted
                self.counts[ident[0]] += had is None
                changes.put.append(wanted)
        return changes

    def _objects_of(self, kind: type[Obj]) -> list[Any]:
        return [obj for _, obj in self._objects.values() if isinstance(obj, kind)]

    def _findings(self) -> list[Finding]:
        found: list[Finding] = []
        for source, file in self._files.items():
            found.extend(Finding(source, obj, problem) for obj, problem in file.problems)
        for obj, problem in [*self._claims, *(p for key in sorted(self._groups) for p in self._groups[key])]:
            kind, _, key = obj.partition(" ")
            found.append(Finding(self._objects.get((kind, key), ("-", None))[0], obj, problem))
        return found

    @property
    def virtual_servers(self) -> list[VirtualServer]:
        return [obj for obj in self._accepted.values() if isinstance(obj, VirtualServer)]

    @property
    def real_servers(self) -> list[RealServer]:
        return [obj for obj in self._accepted.values() if isinstance(obj, RealServer)]


def split_documents(text: str) -> list[str]:
    """``text`` cut at each ``---`` document marker at the start of a line; the markers are cut out (every
    chunk but the first followed one: :func:`_parse` puts it back). A line like ``----`` or ``---x`` is not a
    marker and stays where it is.

    ``str.split`` and one regex search, both in C: a Python loop over 11,000 pieces was most of an edit's cost.
    """
    pieces = text.split("\n---")
    if _NOT_A_MARKER.search(text) is None:
        return pieces
    chunks = [pieces[0]]
    for piece in pieces[1:]:
        if not piece or piece[0] in " \t\r\n":
            chunks.append(piece)
        else:
            chunks[-1] += "\n---" + piece
    return chunks


def changed_range(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """The chunks of ``old`` and of ``new`` between their common head and their common tail: what an edit
    replaced. Compared pairwise in C (``map(operator.ne, ...)``), so an edit of one document of 11,000 costs
    two list scans that stop at the first difference -- no hashing of the whole file's text.
    """
    head = next(itertools.compress(itertools.count(), map(operator.ne, old, new)), min(len(old), len(new)))
    room = min(len(old), len(new)) - head  # the tail may not reach back into the head
    differs = map(operator.ne, reversed(old), reversed(new))
    tail = next(itertools.compress(itertools.count(), itertools.islice(differs, room)), room)
    return old[head : len(old) - tail], new[head : len(new) - tail]


def _parse(source: str, chunk: str, index: int) -> _Doc:
    doc = _Doc()
    try:
        raws = [raw for raw in yaml.load_all("---" + chunk if index else chunk, Loader=_LOADER) if raw is not None]
    except yaml.YAMLError as error:
        doc.problems.append(("-", Problem("", f"not valid YAML: {error}")))
        return doc
    for raw in raws:
        items = raw["items"] if _is_list(raw) else [raw]
        for item in items:
            if not isinstance(item, dict):
                doc.problems.append(("-", Problem("", f"{source}#{index}: a manifest must be a YAML mapping")))
                continue
            if not is_ours(item):
                continue
            parsed = parse_object(item)
            if isinstance(parsed, list):
                doc.problems.extend((describe(item), problem) for problem in parsed)
                if item.get("kind") == "VirtualServer":
                    doc.invalid.add(describe(item).removeprefix("VirtualServer "))
            else:
                doc.objects.append(parsed)
    return doc


def _is_list(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("kind") == "List" and isinstance(raw.get("items"), list)
