"""``-o table|json|yaml`` for the commands that print state (status, validate, export)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

FORMATS = ("table", "json", "yaml")


def add_argument(parser: argparse.ArgumentParser, table: str) -> None:
    """``-o/--output``; ``table`` says what the default prints."""
    parser.add_argument(
        "-o", "--output", choices=FORMATS, default="table", help=f"table: {table}; json or yaml: the same as data"
    )


def emit(data: Any, output: str) -> None:
    """``data`` as JSON (indented, one document) or YAML (block style, keys in their order) on stdout."""
    if output == "json":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        yaml.safe_dump(data, sys.stdout, sort_keys=False, default_flow_style=False)
