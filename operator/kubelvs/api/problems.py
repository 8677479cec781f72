"""A validation problem that names the field path, the value and the rule it broke."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one object: ``spec.port: 70000 ... (must be 0..65535)``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _path(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item not in ("function-after", "function-before") and not str(item).startswith("function-"):
            parts.append(str(item))
    return ".".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_validation_error(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn pydantic's errors into Problems, keeping the camelCase path the user wrote."""
    problems = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling against `kubectl explain`)"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] in {"enum", "literal_error"} or "Input should" in message:
            message = f"{message} (got {_short(item['input'])})"
        problems.append(Problem(_path(tuple(item["loc"]), prefix), message))
    return problems
