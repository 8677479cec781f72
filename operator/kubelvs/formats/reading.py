"""What the importers accept before they parse: bytes or text, checked line by line, and bounded.

Both importers read through :func:`lines`: bytes are decoded as UTF-8 one line at a time, so a line that
is not UTF-8, or holds a NUL or another control character, is one error naming the line and the column
while the rest of the file is still read. Numbers are read with :func:`integer` and :func:`decimal`, which
take ASCII digits only (Python's ``int()`` also takes ``'١٢'``, ``'1_000'`` and ``' 7 '``); messages quote
input through :func:`shown`, which caps what they quote.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field

from kubelvs.formats.notes import Level, Note

logger = logging.getLogger(__name__)

MAX_INPUT = 4 * 1024 * 1024  # far above a keepalived.conf or ipvsadm script for thousands of services
MAX_NOTES = 10_000  # a file of nothing but errors still ends in a readable, bounded report
QUOTE_LIMIT = 200  # what a message quotes of one value
MESSAGE_LIMIT = 1000  # a whole message, whatever produced it
MAX_DIGITS = 20  # every number the importers take fits in 64 bits

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")  # tab is the one control a line may hold
_DIGITS = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


@dataclass
class Lines:
    """The input's lines (``text[0]`` is line 1); a refused line is left empty so numbering holds."""

    text: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def lines(data: str | bytes) -> Lines:
    """Split and check the input; bytes must be UTF-8 (a byte-order mark is dropped)."""
    read = Lines()
    if len(data) > MAX_INPUT:
        unit = "bytes" if isinstance(data, bytes) else "characters"
        read.notes.append(
            Note(
                0,
                "input",
                f"is {len(data)} {unit}; the importer reads at most {MAX_INPUT} (split the file)",
                Level.ERROR,
            )
        )
        return read
    if isinstance(data, bytes):
        raw: list[str | bytes] = list(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"))
    else:
        raw = list(data.removeprefix("\ufeff").split("\n"))
    if raw and raw[-1] in ("", b""):
        raw.pop()  # the newline that ends the last line starts no line of its own
    for number, item in enumerate(raw, start=1):
        read.text.append(_checked_line(item, number, read.notes))
    return read


def _checked_line(item: str | bytes, number: int, notes: list[Note]) -> str:
    if isinstance(item, bytes):
        try:
            text = item.decode("utf-8")
        except UnicodeDecodeError as error:
            byte = item[error.start]
            column = len(item[: error.start].decode("utf-8", "replace")) + 1
            notes.append(
                Note(
                    number,
                    "encoding",
                    f"byte 0x{byte:02x} at column {column} is not UTF-8; the line is skipped "
                    "(convert the file to UTF-8, e.g. with iconv)",
                    Level.ERROR,
                )
            )
            return ""
    else:
        text = item
    text = text.removesuffix("\r")
    bad = _CONTROL.search(text)
    if bad is not None:
        what = "a NUL byte" if bad.group() == "\0" else f"control character U+{ord(bad.group()):04X}"
        if "\ud800" <= bad.group() <= "\udfff":
            what = f"lone surrogate U+{ord(bad.group()):04X}"
        notes.append(
            Note(
                number,
                "character",
                f"{what} at column {bad.start() + 1}: binary input? the line is skipped",
                Level.ERROR,
            )
        )
        return ""
    return text


def shown(value: str, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length said (input can be huge)."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def word(value: str, limit: int = 80) -> str:
    """A keyword or name as a message names it: as written when short and printable, else :func:`shown`."""
    plain = value and len(value) <= limit and value.isprintable() and value.strip() == value
    return value if plain else shown(value, limit)


def capped(message: str) -> str:
    """A whole message, cut at :data:`MESSAGE_LIMIT`."""
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}... ({len(message)} characters)"


def integer(text: str) -> int | None:
    """ASCII decimal digits with an optional ``-``, at most :data:`MAX_DIGITS` of them; None otherwise."""
    if not _DIGITS.fullmatch(text) or len(text.lstrip("-").lstrip("0")) > MAX_DIGITS:
        return None
    return int(text)


def decimal(text: str) -> float | None:
    """``6``, ``1.5``, ``.5`` in ASCII (no exponent, nan or inf); None otherwise."""
    if not _DECIMAL.fullmatch(text) or len(text.lstrip("0")) > MAX_DIGITS:
        return None
    return float(text)


def address(text: str) -> str | None:
    """The compressed IPv4 or IPv6 address, or None (a zone, ``fe80::1%eth0``, is no service address)."""
    if "%" in text or not text.isascii():
        return None
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def add_note(notes: list[Note], line: int, keyword: str, message: str, level: Level) -> None:
    """Append a note with its keyword and message capped; past :data:`MAX_NOTES`, one note says so."""
    if len(notes) > MAX_NOTES:
        return
    if len(notes) == MAX_NOTES:
        notes.append(Note(0, "input", f"more notes left out: the first {MAX_NOTES} are shown", Level.ERROR))
        return
    notes.append(Note(line, word(keyword), capped(message), level))
