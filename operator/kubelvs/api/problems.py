"""A validation problem that names the field path, the value and the rule it broke."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

QUOTE_LIMIT = 60  # what a message quotes of one value


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
            parts.append(item if len(item) <= QUOTE_LIMIT else item[: QUOTE_LIMIT - 3] + "...")  # keys: any length
    return ".".join(parts)


class _Bounded(reprlib.Repr):
    """reprlib, which looks at no more of a value than it shows -- but an int's repr is built whole
    first (and past 4,300 digits Python refuses to build it), so a long one is told by its size."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 192:
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_REPR = _Bounded()
_REPR.maxstring = QUOTE_LIMIT
_REPR.maxother = QUOTE_LIMIT
_REPR.maxlevel = 2
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4


def shown(value: Any) -> str:
    """``repr(value)`` for a message, bounded whatever the value is: a long string, a deep or huge
    collection or a huge integer costs what the message shows, never the size of the input."""
    text = _REPR.repr(value)
    return text if len(text) <= QUOTE_LIMIT + 10 else text[: QUOTE_LIMIT + 7] + "..."


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
            message = f"{message} (got {shown(item['input'])})"
        problems.append(Problem(_path(tuple(item["loc"]), prefix), message))
    return problems
