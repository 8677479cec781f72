"""``kubelvs validate PATH...``: the API's own checks, offline, over a set of manifests.

``-o json|yaml`` prints one result per object: ``{"ok": bool, "objects": [...], "problems": [...]}``. An object
is ``{"kind", "name" (namespace/name), "ok", "problems"}``; a problem is ``{"source" (the file), "field" (the
path in the object, "" for the object as a whole), "message"}`` (the message quotes the value and says why).
``problems`` at the top holds what belongs to no object: a file that is not YAML, a document not a mapping.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kubelvs.api import manifests
from kubelvs.commands import output, paths

WHOLE_FILE = "-"  # the object of a finding about a file or document, not one object


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories; - for stdin")
    output.add_argument(parser, "each problem on a line of stderr, then a count")


def results(loaded: manifests.ManifestSet) -> dict[str, Any]:
    """The per-object results of a set of manifests (the shape in this module's docstring)."""
    objects: dict[str, dict[str, Any]] = {}
    valid = [("VirtualServer", vs.key) for vs in loaded.virtual_servers]
    for kind, name in valid + [("RealServer", rs.key) for rs in loaded.real_servers]:
        objects[f"{kind} {name}"] = {"kind": kind, "name": name, "ok": True, "problems": []}
    loose = []
    for finding in loaded.findings:
        problem = {"source": finding.source, "field": finding.problem.path, "message": finding.problem.message}
        if finding.obj == WHOLE_FILE:
            loose.append(problem)
            continue
        kind, _, name = finding.obj.partition(" ")
        entry = objects.setdefault(finding.obj, {"kind": kind, "name": name, "ok": False, "problems": []})
        entry["ok"] = False
        entry["problems"].append(problem)
    return {"ok": not loaded.findings, "objects": list(objects.values()), "problems": loose}


def run(args: argparse.Namespace) -> int:
    paths.require(args.paths)
    result = manifests.load(args.paths)
    if args.output != "table":
        output.emit(results(result), args.output)
        return 1 if result.findings else 0
    for finding in result.findings:
        print(finding, file=sys.stderr)
    if result.findings:
        return 1
    print(f"ok: {len(result.virtual_servers)} VirtualServer(s), {len(result.real_servers)} RealServer(s)")
    return 0
