"""Run adapter code *inside* a test namespace from the test process itself (setns on the calling thread).

Starting python under ``ip netns exec`` costs seconds under emulation; switching the thread's network
namespace costs nothing and is what the adapters must cope with anyway (they open their sockets, netlink
and ``/proc/sys`` files per call, in the namespace of the calling thread).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


@contextmanager
def inside(name: str) -> Iterator[None]:
    """``with inside("rs1"): ...`` runs the block in network namespace ``rs1``, then switches back."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)
