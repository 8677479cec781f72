"""Sysctls of the current network namespace, read and written through ``/proc/sys``.

Paths use slashes as ``/proc/sys`` does (``net/ipv4/conf/eth0.100/rp_filter``), so interface names that
contain dots need no escaping. ``/proc/sys/net`` shows the namespace of the calling thread, which is what
makes this adapter work unchanged under ``ip netns exec``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

logger = logging.getLogger(__name__)

PROC_SYS = Path("/proc/sys")

# Letters, digits and the few separators sysctl and interface names use; no "..", no leading "/".
# At least one "/": the dotted form (net.ipv4.ip_forward) is refused rather than read as a missing key.
_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]*(/[A-Za-z0-9_][A-Za-z0-9_.:@+-]*)+")


class SysctlError(OSError):
    """A sysctl could not be written; the message names the key and the value."""


class SysctlNotFound(SysctlError, LookupError):
    """The key does not exist (the interface is missing, or the module that owns it is not loaded)."""


def _file(root: Path, path: str) -> Path:
    if not _PATH.fullmatch(path) or ".." in path.split("/"):
        raise ValueError(f"sysctl path {path!r} is not a relative path like 'net/ipv4/conf/lo/arp_ignore'")
    return root / path


def normalise(value: str) -> str:
    """Multi-value sysctls print tab-separated (``32768\\t60999``); compare them with single spaces."""
    return " ".join(value.split())


class ProcSysctls:
    """The ``Sysctls`` gateway over ``/proc/sys`` of the current network namespace."""

    def __init__(self, root: Path = PROC_SYS) -> None:
        self._root = root

    def read(self, path: str) -> str | None:
        """The value with whitespace normalised, or None if the key does not exist."""
        try:
            return normalise(_file(self._root, path).read_text())
        except FileNotFoundError:
            return None

    def write(self, path: str, value: str) -> None:
        """Set ``path`` to ``value``; raises SysctlNotFound for a missing key, SysctlError if refused."""
        file = _file(self._root, path)
        if "\n" in value:
            raise ValueError(f"sysctl {path}: value {value!r} must be one line")
        try:
            # Writing the same value again is harmless; the kernel parses the text itself.
            with file.open("w") as handle:
                handle.write(value)
        except FileNotFoundError:
            raise SysctlNotFound(f"sysctl {path} does not exist (cannot set it to {value!r})") from None
        except OSError as error:
            raise SysctlError(f"sysctl {path}: the kernel refused {value!r}: {error.strerror}") from error
        logger.debug("sysctl %s = %s", path, value)
