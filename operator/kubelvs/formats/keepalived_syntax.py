"""keepalived.conf syntax: lines of ``keyword args...``, blocks in braces, ``#`` and ``!`` comments.

The tree keeps every statement's line number, so the importer can name the line of anything it cannot
map. Braces may stand at the end of a line, on the next line, or close a block on the same line.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class Statement:
    """``keyword arg arg`` at ``line``; ``block`` holds the statements inside its braces, if any."""

    keyword: str
    args: list[str]
    line: int
    block: list[Statement] | None = None

    def inner(self) -> list[Statement]:
        return self.block or []


@dataclass
class Syntax:
    statements: list[Statement]
    errors: list[tuple[int, str]]


def _strip_comment(text: str) -> str:
    """Drop a ``#`` or ``!`` comment that starts a word (outside double quotes)."""
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "#!" and not quoted and (index == 0 or text[index - 1].isspace()):
            return text[:index]
    return text


def _tokens(text: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).replace("{", " { ").replace("}", " } ")
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        tokens.extend((number, word) for word in words)
        tokens.append((number, "\n"))
    return tokens


def parse(text: str) -> Syntax:
    """The statements of a keepalived.conf, and brace errors as (line, message)."""
    tokens = _tokens(text)
    errors: list[tuple[int, str]] = []
    statements, _ = _block(tokens, 0, errors, top=True)
    return Syntax(statements, errors)


def _block(
    tokens: list[tuple[int, str]], index: int, errors: list[tuple[int, str]], top: bool
) -> tuple[list[Statement], int]:
    statements: list[Statement] = []
    words: list[str] = []
    start = 0
    opened_at = tokens[index - 1][0] if index else 0
    while index < len(tokens):
        line, token = tokens[index]
        index += 1
        if token == "\n":
            if words:
                statements.append(Statement(words[0], words[1:], start))
                words = []
        elif token == "{":
            if words:
                statement = Statement(words[0], words[1:], start)
                words = []
            elif statements and statements[-1].block is None:
                statement = statements.pop()  # the brace opens on the line after its keyword
            else:
                statement = Statement("{", [], line)
            statement.block, index = _block(tokens, index, errors, top=False)
            statements.append(statement)
        elif token == "}":
            if words:
                statements.append(Statement(words[0], words[1:], start))
                words = []
            if top:
                errors.append((line, "'}' closes no block"))
                continue
            return statements, index
        else:
            if not words:
                start = line
            words.append(token)
    if words:
        statements.append(Statement(words[0], words[1:], start))
    if not top:
        errors.append((opened_at, "block opened here is never closed"))
    return statements, index
