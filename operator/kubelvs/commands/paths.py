"""The files a command is given must exist before it reads any: a missing one is a usage error (exit 2)."""

from __future__ import annotations

import os
from collections.abc import Iterable


def require(paths: Iterable[str]) -> None:
    """Raise the OSError (FileNotFoundError, PermissionError) of the first path that cannot be looked at;
    ``-`` is stdin. The CLI's handler prints it as one line naming the file."""
    for path in paths:
        if path != "-":
            os.stat(path)
