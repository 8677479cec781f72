"""One kube-lvs zygote (kubelvs.testbed.launcher) per test session, for the fault tests' agent processes.

Under a loaded TCG a python that imports the agent takes minutes; a fault test restarts agents several times.
The zygote imports once and forks each agent as a real process of its own (SIGKILL reaches it alone) inside
its network namespace. The kubernetes client reads ``KUBECONFIG`` at import, so the zygote is started with a
fixed path (:data:`KUBECONFIG`) that a test writes before it starts an in-cluster agent.
"""

from __future__ import annotations

import atexit
import itertools
from collections.abc import Sequence
from pathlib import Path

from kubelvs.testbed.stack import Child, Launcher

WORKDIR = Path("/tmp/kubelvs-fault-tests")  # the guest's /tmp: writable, gone at power-off
KUBECONFIG = WORKDIR / "kubeconfig"
_started: list[Launcher] = []
_numbers = itertools.count(1)


def launcher() -> Launcher:
    if not _started:
        WORKDIR.mkdir(parents=True, exist_ok=True)
        zygote = Launcher(WORKDIR / "launcher.log", {"KUBECONFIG": str(KUBECONFIG)})
        zygote.wait_ready()
        atexit.register(zygote.close)
        _started.append(zygote)
    return _started[0]


def spawn(argv: Sequence[str], netns: str, log: Path) -> Child:
    """Fork ``kubelvs ARGV...`` inside ``netns``, its stdout and stderr to ``log``.

    ``log`` exists when this returns: the child opens it (for appending) only once it runs, and a test that reads
    the log straight after the start must find it empty, not missing.
    """
    zygote = launcher()
    log.touch()
    start = ["kubelvs", *argv]
    answer = zygote.ask({"start": start, "netns": netns, "log": str(log), "env": {}})
    return Child(f"agent-{next(_numbers)}", tuple(start), netns, log, int(answer["pid"]), zygote)
