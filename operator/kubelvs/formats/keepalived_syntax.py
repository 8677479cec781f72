"""keepalived.conf syntax: lines of ``keyword args...``, blocks in braces, ``#`` and ``!`` comments.

The tree keeps every statement's line number, so the importer can name the line of anything it cannot
map. Braces may stand at the end of a line, on the next line, or close a block on the same line; inside
double or single quotes they are text (``path "/api/{id}/health"``), and quoted spaces stay in the word.
The tree is built without recursion and is bounded: blocks nest at most :data:`MAX_DEPTH` deep and a file
holds at most :data:`MAX_STATEMENTS` statements; past either the parser says so on the line and goes on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from kubelvs.formats import reading
from kubelvs.formats.notes import Level, Note

logger = logging.getLogger(__name__)

MAX_DEPTH = 16  # keepalived's own deepest is four (virtual_server > real_server > HTTP_GET > url)
MAX_STATEMENTS = 200_000  # a thousand virtual servers of ten checked real servers each is under 100,000

# One piece of a word per match: a brace, a run of blanks, a quoted run, an escaped character, plain text;
# the last alternative catches an unclosed quote or a trailing backslash.
_PIECE = re.compile(r"""([{}])|([ \t]+)|"((?:[^"\\]|\\.)*)"|'([^']*)'|\\(.)|([^ \t{}"'\\]+)|(.)""")
_ESCAPED_IN_QUOTES = re.compile(r"""\\(["\\])""")


@dataclass(slots=True)
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
    """The statements, and what was wrong with the text: braces, quotes, encoding, bounds."""

    statements: list[Statement]
    notes: list[Note] = field(default_factory=list)


def _strip_comment(text: str) -> str:
    """Drop a ``#`` or ``!`` comment that starts a word (outside double quotes)."""
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "#!" and not quoted and (index == 0 or text[index - 1].isspace()):
            return text[:index]
    return text


def _words(text: str, number: int, notes: list[Note]) -> list[str]:
    """The words and braces of one line, quotes removed as a POSIX shell removes them."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    for match in _PIECE.finditer(text):
        brace, blank, double, single, escaped, plain, stray = match.groups()
        if stray is not None:
            notes.append(
                Note(
                    number,
                    "quote",
                    f"unclosed quote or trailing backslash at column {match.start() + 1}; "
                    "the line's words are read as written",
                )
            )
            return text.replace("{", " { ").replace("}", " } ").split()
        if brace is not None or blank is not None:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            if brace is not None:
                words.append(brace)
            continue
        in_word = True
        if double is not None:
            current.append(_ESCAPED_IN_QUOTES.sub(r"\1", double))
        else:
            current.append(next(part for part in (single, escaped, plain) if part is not None))
    if in_word:
        words.append("".join(current))
    return words


def parse(data: str | bytes) -> Syntax:
    """The statements of a keepalived.conf, with notes on what could not be read, each with its line."""
    read = reading.lines(data)
    notes = read.notes
    root: list[Statement] = []
    current = root
    enclosing: list[tuple[list[Statement], int]] = []  # the blocks around ``current``, and where it opened
    skipped = 0  # depth inside a block nested too deep, whose contents are dropped
    count = 0
    words: list[str] = []
    start = 0

    def flush() -> None:
        nonlocal words, count
        if words:
            current.append(Statement(words[0], words[1:], start))
            count += 1
            words = []

    for number, text in enumerate(read.text, start=1):
        if count > MAX_STATEMENTS:
            notes.append(
                Note(
                    number,
                    "input",
                    f"more than {MAX_STATEMENTS} statements: the rest of the file, from here on, is not read",
                    Level.ERROR,
                )
            )
            break
        for token in _words(_strip_comment(text), number, notes):
            if skipped:
                skipped += {"{": 1, "}": -1}.get(token, 0)
            elif token == "{" and len(enclosing) >= MAX_DEPTH:
                notes.append(
                    Note(
                        number,
                        "{",
                        f"blocks nested deeper than {MAX_DEPTH}: this block's contents are skipped",
                        Level.ERROR,
                    )
                )
                words = []
                skipped = 1
            elif token == "{":
                if words:
                    statement = Statement(words[0], words[1:], start)
                    count += 1
                    words = []
                elif current and current[-1].block is None:
                    statement = current.pop()  # the brace opens on the line after its keyword
                else:
                    statement = Statement("{", [], number)
                statement.block = []
                current.append(statement)
                enclosing.append((current, number))
                current = statement.block
            elif token == "}":
                flush()
                if not enclosing:
                    notes.append(Note(number, "{", "'}' closes no block", Level.ERROR))
                    continue
                current, _ = enclosing.pop()
            else:
                if not words:
                    start = number
                words.append(token)
        flush()
    flush()
    if skipped:
        notes.append(Note(len(read.text), "{", "a block nested too deep is never closed", Level.ERROR))
    for _, opened in reversed(enclosing):
        notes.append(Note(opened, "{", "block opened here is never closed", Level.ERROR))
    return Syntax(root, notes)
