"""The standalone agent's manifests, kept loaded: re-read only changed files, parse only changed documents.

:func:`kubelvs.api.manifests.load` reads everything each time, which a large set cannot afford per file
edit. :class:`ManifestFiles` reads the same objects (the last definition of an object wins, as with
``kubectl apply -f``) and keeps them between passes: a file whose (mtime, size) is unchanged is not read, a
changed file is split at its ``---`` document markers (a marker at column 0 always ends a YAML document, so
splitting there is exact) and only the documents whose text is new are parsed. It judges nothing: what it
hands on is every defined object and every VirtualServer that failed its own checks, and the planner's
judgement decides what is in force. One difference from ``load``: a document that is not valid YAML costs
only itself, not the documents after it in the same file.
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

from kubelvs.api import strict_yaml
from kubelvs.api.manifests import Finding
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import describe, is_ours, parse_object
from kubelvs.api.problems import Problem
from kubelvs.api.service_objects import EndpointSlice, Service, is_service_object, parse_service_object

logger = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml", ".json")
_NOT_A_MARKER = re.compile(r"\n---[^ \t\r\n]")  # a line starting with --- that does not mark a document

Obj = VirtualServer | RealServer | Service | EndpointSlice  # the Services and slices that backends follow
ObjId = tuple[str, str]  # (kind, namespace/name)
Stamps = tuple[tuple[str, int, int], ...]  # (file, mtime ns, size) of every manifest file; -1 if unreadable


@dataclass
class _Doc:
    """What one document chunk holds once parsed: its objects and its findings (without a source)."""

    objects: list[Obj] = field(default_factory=list)
    problems: list[tuple[str, Problem]] = field(default_factory=list)  # (object, problem)
    invalid: dict[str, list[Problem]] = field(default_factory=dict)  # VirtualServers failing their own checks
    error: strict_yaml.DocumentError | None = None  # not readable; its line counted from the chunk's first


@dataclass
class _File:
    stamp: tuple[int, int]
    chunks: list[str]  # the documents' texts in file order
    docs: dict[str, _Doc]  # chunk text -> parsed
    problems: list[tuple[str, Problem]]  # of all its documents
    invalid: dict[str, list[Problem]]  # of all its documents
    unreadable: int = 0  # how many of its documents are not readable


@dataclass
class Changes:
    """What one refresh found: objects to put, object ids gone, VirtualServers now invalid (key, problems)."""

    put: list[Obj] = field(default_factory=list)
    removed: list[ObjId] = field(default_factory=list)
    invalid: list[tuple[str, list[Problem]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.put or self.removed or self.invalid)


class ManifestFiles:
    """Every lvs.kubelvs.io object defined under ``paths``, and every v1 Service and EndpointSlice (what
    VirtualServers' backends follow, so the same YAML serves a host without a cluster), kept current."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        self._files: dict[str, _File] = {}
        self._objects: dict[ObjId, tuple[str, Obj]] = {}  # id -> (source file, object), all parsed objects
        self._given: dict[ObjId, Obj] = {}  # what the planner was given
        self._invalid: dict[str, list[Problem]] = {}  # invalid VirtualServers the planner was told of
        self._touched: set[ObjId] = set()  # defined or forgotten since the last check
        self._dropped: set[ObjId] = set()  # objects forgotten since the last check
        self.counts = dict.fromkeys(("VirtualServer", "RealServer", "Service", "EndpointSlice"), 0)  # defined

    # --- reading -------------------------------------------------------------------------------------

    def refresh(self) -> tuple[Changes, list[Finding]]:
        """Read what changed on disk; the accepted objects that changed, and every current finding."""
        findings: list[Finding] = []
        seen: set[str] = set()
        files_changed = False
        for source, path in self._sources(findings):
            seen.add(source)
            try:
                status = path.stat()
                stamp = (status.st_mtime_ns, status.st_size)
                old = self._files.get(source)
                if old is not None and old.stamp == stamp:
                    continue
                text = strict_yaml.decode(path.read_bytes())
            except OSError as error:
                findings.append(Finding(source, "-", Problem("", error.strerror or str(error))))
                continue
            except strict_yaml.DocumentError as error:  # not UTF-8: the whole file is unreadable
                self._read(source, stamp, "")
                self._files[source].problems = [("-", Problem("", f"not valid YAML: {error}"))]
                files_changed = True
                continue
            self._read(source, stamp, text)
            files_changed = True
        for source in [s for s in self._files if s not in seen]:
            self._forget(self._files.pop(source).docs.values())
            files_changed = True
        orphans = {ident for ident in self._dropped if ident not in self._objects}
        if orphans:
            self._redefine(orphans)
        self._dropped.clear()
        changes = self._check(files_changed)
        findings.extend(self._findings())
        return changes, findings

    def source_of(self, kind: str, key: str) -> str:
        """The file that defines an object, ``-`` if none does."""
        found = self._objects.get((kind, key))
        return found[0] if found is not None else "-"

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

    def _read(self, source: str, stamp: tuple[int, int], text: str) -> None:
        chunks = split_documents(text)
        before = self._files.get(source)
        docs = before.docs if before is not None else {}
        removed, added = changed_range(before.chunks if before is not None else [], chunks)
        # a chunk is gone only if no copy of it is left (a file may repeat a document word for word)
        gone = [docs.pop(chunk) for chunk in set(removed) if chunk in docs and chunk not in chunks]
        self._forget(gone)
        new = [chunk for chunk in set(added) if chunk not in docs]
        # each new chunk's first index: a scan per chunk for an edit, one map built in C for a whole new file
        last_first = zip(reversed(chunks), range(len(chunks) - 1, -1, -1), strict=True)
        first = chunks.index if len(new) < 16 else dict(last_first).__getitem__
        fresh = {chunk: _parse(source, chunk, first(chunk)) for chunk in new}
        docs.update(fresh)
        errors = sum(doc.error is not None for doc in fresh.values()) - sum(doc.error is not None for doc in gone)
        errors += before.unreadable if before is not None else 0
        unreadable = errors > 0  # an unreadable document's line moves with any edit above it
        if (
            before is None
            or unreadable
            or any(doc.problems or doc.invalid or doc.error for doc in [*gone, *fresh.values()])
        ):
            problems = [found for doc in docs.values() if doc.problems for found in doc.problems]
            if unreadable:
                problems += _unreadable(chunks, docs)
            invalid = {key: found for doc in docs.values() for key, found in doc.invalid.items()}
        else:
            problems, invalid = before.problems, before.invalid
        self._files[source] = _File(stamp, chunks, docs, problems, invalid, errors)
        for doc in fresh.values():
            for obj in doc.objects:
                self._define(source, obj)

    def _define(self, source: str, obj: Obj) -> None:
        """Make ``obj`` the definition of its id (the last one read wins)."""
        ident = (obj.kind, obj.key)
        self._objects[ident] = (source, obj)
        self._touched.add(ident)

    def _redefine(self, orphans: set[ObjId]) -> None:
        """Objects forgotten with a document that another document still defines (a file may repeat one):
        define them again from what is left. Scans every document, but only when an object went away."""
        for source, file in self._files.items():
            for doc in file.docs.values():
                for obj in doc.objects:
                    if (obj.kind, obj.key) in orphans:
                        self._define(source, obj)

    def _forget(self, docs: Iterable[_Doc]) -> None:
        for doc in docs:
            for obj in doc.objects:
                ident = (obj.kind, obj.key)
                current = self._objects.get(ident)
                if current is None or current[1] is not obj:
                    continue  # defined again elsewhere since
                del self._objects[ident]
                self._dropped.add(ident)
                self._touched.add(ident)

    # --- checking ------------------------------------------------------------------------------------

    def _check(self, files_changed: bool) -> Changes:
        """What the planner must be told: the objects defined anew or no more, the VirtualServers invalid now."""
        changes = Changes()
        for ident in sorted(self._touched):
            entry = self._objects.get(ident)
            wanted = entry[1] if entry is not None else None
            had = self._given.get(ident)
            if wanted is None:
                if had is not None:
                    del self._given[ident]
                    self.counts[ident[0]] -= 1
                    changes.removed.append(ident)
            elif had is not wanted:
                self._given[ident] = wanted
                self.counts[ident[0]] += had is None
                changes.put.append(wanted)
        self._touched.clear()
        if files_changed:
            invalid = {
                key: found
                for file in self._files.values()
                for key, found in file.invalid.items()
                if ("VirtualServer", key) not in self._objects
            }
            changes.invalid.extend((k, found) for k, found in invalid.items() if self._invalid.get(k) != found)
            gone = [k for k in self._invalid if k not in invalid and ("VirtualServer", k) not in self._given]
            changes.removed.extend(("VirtualServer", k) for k in gone)
            self._invalid = invalid
        return changes

    def _findings(self) -> list[Finding]:
        found: list[Finding] = []
        for source, file in self._files.items():
            found.extend(Finding(source, obj, problem) for obj, problem in file.problems)
        return found


def split_documents(text: str) -> list[str]:
    """``text`` cut at each ``---`` document marker at the start of a line; the markers are cut out (every
    chunk but the first followed one: :func:`_parse` puts it back). A line like ``----`` or ``---x`` is not a
    marker and stays where it is.

    ``str.split`` and one regex search, both in C: a Python loop over the pieces dominated an edit's cost.
    """
    pieces = text.split("\n---")
    if len(pieces) > 1 and _directives_only(pieces[0]):  # "%YAML 1.1" belongs to the document it opens
        pieces[:2] = [pieces[0] + "\n---" + pieces[1]]
    if _NOT_A_MARKER.search(text) is None:
        return pieces
    chunks = [pieces[0]]
    for piece in pieces[1:]:
        if not piece or piece[0] in " \t\r\n":
            chunks.append(piece)
        else:
            chunks[-1] += "\n---" + piece
    return chunks


def _directives_only(head: str) -> bool:
    """True if ``head`` holds YAML directives (``%YAML``, ``%TAG``) and nothing but comments and blank lines."""
    if "%" not in head:
        return False
    lines = [line for line in head.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and all(line.startswith("%") for line in lines)


def changed_range(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """The chunks of ``old`` and of ``new`` between their common head and their common tail: what an edit
    replaced. Compared pairwise in C (``map(operator.ne, ...)``), so an edit of one document costs two list
    scans that stop at the first difference -- no hashing of the whole file's text.
    """
    head = next(itertools.compress(itertools.count(), map(operator.ne, old, new)), min(len(old), len(new)))
    room = min(len(old), len(new)) - head  # the tail may not reach back into the head
    differs = map(operator.ne, reversed(old), reversed(new))
    tail = next(itertools.compress(itertools.count(), itertools.islice(differs, room)), room)
    return old[head : len(old) - tail], new[head : len(new) - tail]


def _unreadable(chunks: list[str], docs: dict[str, _Doc]) -> list[tuple[str, Problem]]:
    """A finding per unreadable document, its line counted in the file as it is now."""
    found: list[tuple[str, Problem]] = []
    line = 1  # the first line of each chunk: a chunk after the first starts on its "---" marker
    for chunk in chunks:
        error = docs[chunk].error
        if error is not None:
            where = f"line {error.line + line - 1}, column {error.column}: " if error.line else ""
            found.append(("-", Problem("", f"not valid YAML: {where}{error.message}")))
        line += chunk.count("\n") + 1  # the "\n---" cut before the next chunk is one line break
    return found


def _parse(source: str, chunk: str, index: int) -> _Doc:
    doc = _Doc()
    try:
        raws = [raw for raw in strict_yaml.load_documents("---" + chunk if index else chunk) if raw is not None]
    except strict_yaml.DocumentError as error:
        doc.error = error
        return doc
    for raw in raws:
        items = raw["items"] if _is_list(raw) else [raw]
        for item in items:
            if not isinstance(item, dict):
                doc.problems.append(("-", Problem("", f"{source}#{index}: a manifest must be a YAML mapping")))
                continue
            if is_service_object(item):
                found = parse_service_object(item)
                if isinstance(found, list):
                    doc.problems.extend((describe(item), problem) for problem in found)
                else:
                    doc.objects.append(found)
                continue
            if not is_ours(item):
                continue
            parsed = parse_object(item)
            if isinstance(parsed, list):
                doc.problems.extend((describe(item), problem) for problem in parsed)
                if item.get("kind") == "VirtualServer":
                    doc.invalid[describe(item).removeprefix("VirtualServer ")] = parsed
            else:
                doc.objects.append(parsed)
    return doc


def _is_list(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("kind") == "List" and isinstance(raw.get("items"), list)
