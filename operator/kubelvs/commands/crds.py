"""``kubelvs crds``: print, write or check the CRDs generated from the API models.

``kubelvs crds`` prints both as one YAML stream (``| kubectl apply -f -``); ``--write DIR`` writes
``DIR/lvs.kubelvs.io_<plural>.yaml``; ``--check DIR`` exits 1 with a diff when DIR is stale, for CI.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from pathlib import Path

from kubelvs.api import crd

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--write", metavar="DIR", type=Path, help="write one file per CRD into DIR")
    target.add_argument("--check", metavar="DIR", type=Path, help="exit 1 if the files in DIR are stale")


def run(args: argparse.Namespace) -> int:
    rendered = crd.rendered()
    if args.write is not None:
        return _write(args.write, rendered)
    if args.check is not None:
        return _check(args.check, rendered)
    sys.stdout.write("---\n".join(rendered.values()))
    return 0


def _write(directory: Path, rendered: dict[str, str]) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    return 0


def _check(directory: Path, rendered: dict[str, str]) -> int:
    stale = 0
    for name, text in rendered.items():
        path = directory / name
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        stale += 1
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=str(path),
            tofile=f"{path} (generated)",
        )
        sys.stdout.writelines(diff)
        print(f"{path} is {'stale' if current else 'missing'}", file=sys.stderr)
    if stale:
        print(f"{stale} CRD file(s) out of date; run `kubelvs crds --write {directory}`", file=sys.stderr)
        return 1
    print(f"ok: {len(rendered)} CRDs in {directory} are up to date")
    return 0
