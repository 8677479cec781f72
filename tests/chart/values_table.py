"""The values table of charts/kubelvs/README.md, generated from values.yaml (helm-docs' comment convention).

A ``# -- text`` comment (continued by the ``#`` lines right after it) describes the key that follows; that key is
one row, its default the whole value. A described map is expanded as well only when keys below it are described;
an undescribed map is expanded into its keys, unless the schema leaves its keys to the user (nodeSelector);
an undescribed leaf is a row without a description. Types come from values.schema.json. The table sits
between ``<!-- values -->`` and ``<!-- /values -->`` in the chart's README:

    python tests/chart/values_table.py --write     # or: make chart-readme
    python tests/chart/values_table.py --check     # exit 1 when the README's table is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "kubelvs"
BEGIN, END = "<!-- values -->", "<!-- /values -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-/]+):(?:\s|$)")
DESCRIPTION = re.compile(r"^ *# -- ?(?P<text>.*)$")
CONTINUATION = re.compile(r"^ *#(?: (?P<text>.*))?$")


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str


def described_keys(text: str) -> dict[str, str]:
    """``{"a.b.c": description}`` for every key a ``# --`` comment describes."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in text.splitlines():
        if match := DESCRIPTION.match(line):
            pending = [match["text"].strip()]
        elif pending is not None and (match := CONTINUATION.match(line)):
            pending.append((match["text"] or "").strip())
        elif match := KEY.match(line):
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match["key"]))
            if pending is not None:
                found[".".join(key for _, key in stack)] = " ".join(part for part in pending if part)
            pending = None
        elif not line.strip().startswith("- "):
            pending = None  # a blank line or another statement ends a description that named no key
    return found


JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def schema_of(schema: dict[str, Any], path: list[str]) -> dict[str, Any]:
    node: dict[str, Any] = schema
    for part in path:
        node = (node.get("properties") or {}).get(part) or {}
    return node


def type_of(node: dict[str, Any], value: object) -> str:
    """The schema's type; for an enum or a key the schema leaves open, the default's JSON type."""
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind) if kind else JSON_TYPES.get(type(value), "")


def rows(values_text: str, schema: dict[str, Any]) -> list[Row]:
    values = yaml.safe_load(values_text) or {}
    described = described_keys(values_text)
    out: list[Row] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        for key, value in node.items():
            here = [*path, str(key)]
            name = ".".join(here)
            node = schema_of(schema, here)
            # a map of the user's keys (nodeSelector, pools, resources) is one value, not keys of the chart
            expand = isinstance(value, dict) and bool(value) and "properties" in node
            if name in described or not expand:
                default = json.dumps(value, separators=(", ", ": "))
                out.append(Row(name, type_of(node, value), default, described.get(name, "")))
            if expand and (name not in described or any(k.startswith(name + ".") for k in described)):
                walk(value, here)

    walk(values, [])
    return out


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(values_text: str, schema: dict[str, Any]) -> str:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for row in rows(values_text, schema):
        lines.append(f"| `{row.key}` | {row.type} | `{cell(row.default)}` | {cell(row.description)} |")
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str, generated: str) -> str:
    """``readme`` with the text between the markers replaced by ``generated``; ValueError without markers."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start == -1 or end < start:
        raise ValueError(f"the chart README has no {BEGIN} ... {END} block for the values table")
    return readme[: start + len(BEGIN)] + "\n" + generated + readme[end:]


def fresh_readme(chart: Path = CHART) -> str:
    values_text = (chart / "values.yaml").read_text()
    schema = json.loads((chart / "values.schema.json").read_text())
    return readme_with_table((chart / "README.md").read_text(), table(values_text, schema))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the values table of charts/kubelvs/README.md")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the README's table")
    mode.add_argument("--check", action="store_true", help="exit 1 when the README's table is stale")
    args = parser.parse_args(argv)
    readme = CHART / "README.md"
    fresh = fresh_readme()
    if args.write:
        readme.write_text(fresh)
        return 0
    if readme.read_text() != fresh:
        print(f"{readme} is stale: run `make chart-readme`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
