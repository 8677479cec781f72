"""What an importer says about its input: a line, a keyword, and why it was not (or only partly) mapped."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.StrEnum):
    """``info``: a choice the importer made; ``warning``: something dropped; ``error``: input it rejects."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Note:
    """One message about one line of the input (line 0: the input as a whole)."""

    line: int
    keyword: str
    message: str
    level: Level = Level.WARNING

    def format(self, source: str) -> str:
        """``source:12: warning: sorry_server: ...`` like a compiler, so editors can jump to the line."""
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.level}: {self.keyword}: {self.message}"
