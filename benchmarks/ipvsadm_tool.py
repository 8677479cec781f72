"""The ipvsadm baseline: the same table through the tool LVS admins use, and what the kernel holds."""

from __future__ import annotations

import logging
import subprocess

from measure import timed_command

logger = logging.getLogger(__name__)


def clear() -> None:
    subprocess.run(["ipvsadm", "-C"], check=True)


def restore(text: str) -> float:
    """Seconds ``ipvsadm -R`` takes to program ``text`` (its -A/-a lines) into the kernel."""
    elapsed, _ = timed_command(["ipvsadm", "-R"], stdin=text)
    return elapsed


def listing() -> tuple[float, str]:
    """Seconds of ``ipvsadm -Ln`` (the whole table dumped and printed) and its output."""
    return timed_command(["ipvsadm", "-Ln"])


def saved_lines() -> set[str]:
    """``ipvsadm -Sn`` as a set of lines: what the kernel holds, in the form ``kubelvs export`` renders."""
    _, out = timed_command(["ipvsadm", "-Sn"])
    return {line.strip() for line in out.splitlines() if line.strip()}


def weight_of(vip: str, port: int, rip: str) -> int | None:
    """The weight ``ipvsadm -Ln -t VIP:PORT`` shows for one real server (None if absent)."""
    done = subprocess.run(["ipvsadm", "-Ln", "-t", f"{vip}:{port}"], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "->" and words[1] == f"{rip}:{port}":
            return int(words[3])
    return None
