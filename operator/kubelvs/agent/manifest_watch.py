"""Wake the standalone agent the moment a manifest may have changed: inotify on the manifests' directories.

Polling the files' (mtime, size) every 0.1 s cost up to a tenth of a second (half of it on average) before an
edit even started to be read; an inotify event arrives as soon as the writer closes or renames the file. The
*directories* are watched, not the files, because editors, config tools and Kubernetes ConfigMap volumes
replace a file by renaming a new one over it (a ConfigMap swaps its ``..data`` symlink), which a watch on the
old file's inode would never see. An event only wakes the agent: whether anything changed is still decided
by comparing the files' stamps, so events of unrelated files in the same directory cost one ``stat`` each.

Where inotify is unavailable (no more watches allowed, a file system without events such as NFS) the caller
falls back to polling at its own interval, which it keeps as a safety net in any case.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Sequence
from pathlib import Path

from inotify_simple import INotify, flags

logger = logging.getLogger(__name__)

# What a writer does to a manifest: close after writing, rename over, create, delete, move away.
MASK = (
    flags.CLOSE_WRITE
    | flags.MOVED_TO
    | flags.MOVED_FROM
    | flags.CREATE
    | flags.DELETE
    | flags.DELETE_SELF
    | flags.MOVE_SELF
    | flags.ATTRIB
)


def watched_directories(paths: Sequence[str]) -> list[Path]:
    """The directories whose entries decide the manifests under ``paths``: a directory and every directory
    below it, or a file's parent."""
    found: dict[Path, None] = {}
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found[path] = None
            found.update(dict.fromkeys(sorted(p for p in path.rglob("*") if p.is_dir())))
        else:
            found[path.parent] = None
    return list(found)


class ManifestWatch:
    """``wait(timeout)`` returns when a watched directory saw a change, :meth:`wake` was called, or the time is
    up -- whichever comes first."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        self._inotify = INotify(nonblocking=True)
        self._watches: dict[Path, int] = {}
        self._closing = threading.RLock()  # re-entrant: a signal handler's wake may interrupt close
        self._closed = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self.rewatch()

    def rewatch(self) -> None:
        """Watch the directories that exist now (new subdirectories, a parent created after start)."""
        for directory in watched_directories(self.paths):
            if directory in self._watches:
                continue
            try:
                self._watches[directory] = self._inotify.add_watch(directory, MASK)
            except OSError as error:  # missing for now, or out of watches: the caller's poll covers it
                logger.debug("cannot watch %s: %s", directory, error)

    def wait(self, timeout: float) -> bool:
        """True if something may have changed (an event arrived), False if woken or timed out without one."""
        ready, _, _ = select.select([self._inotify.fileno(), self._wake_read], [], [], max(0.0, timeout))
        if self._wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_read, 64)
        if self._inotify.fileno() not in ready:
            return False
        events = self._inotify.read(timeout=0)
        if any(event.mask & (flags.IGNORED | flags.CREATE | flags.MOVED_TO) for event in events):
            # a directory was replaced or a new one appeared: watch what exists now
            gone = {event.wd for event in events if event.mask & flags.IGNORED}
            self._watches = {path: wd for path, wd in self._watches.items() if wd not in gone}
            self.rewatch()
        return True

    def wake(self) -> None:
        """Make a pending or the next :meth:`wait` return at once (safe from a signal handler)."""
        with self._closing:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError):  # the pipe is full: a wake-up is pending anyway
                os.write(self._wake_write, b"\0")

    def close(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._inotify.close()
            os.close(self._wake_read)
            os.close(self._wake_write)
