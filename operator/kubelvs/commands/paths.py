"""The files a command is given must be readable before it reads any: one that is not is a usage error (exit 2)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable


def require(paths: Iterable[str]) -> None:
    """Raise the OSError (FileNotFoundError, PermissionError) of the first path that cannot be read (a directory:
    listed); ``-`` is stdin. The CLI's handler prints it as one line naming the file."""
    for path in paths:
        if path == "-":
            continue
        if stat.S_ISDIR(os.stat(path).st_mode):
            os.scandir(path).close()
        else:
            with open(path, "rb"):
                pass
