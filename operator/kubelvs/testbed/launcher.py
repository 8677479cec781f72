"""A zygote for the VM's stack: import kube-lvs once, then fork every agent, server and the operator from it.

Under TCG a python that imports the agent (kubernetes, pyroute2, pydantic, kopf) takes a minute or more; six
of them starting at once on two emulated CPUs take several. This process pays the imports once and then forks
a child per request. A child is a real process with its own pid (SIGTERM/SIGKILL reach it alone), switches
into its network namespace with ``setns`` before it opens any socket, sends its output to a log file and runs:

- ``["kubelvs", ARGS...]``: the real command line, :func:`kubelvs.cli.main` (agent, operator);
- ``["apiserver", ARGS...]``: :func:`kubelvs.testbed.apiserver.main`;
- ``["http-server", NAME, PORT]``: :func:`kubelvs.testbed.webserver.serve`.

Protocol, one JSON object per line on stdin, one answer per line on stdout::

    {"start": ARGV, "netns": "dir-a" | null, "log": PATH, "env": {...}, "nice": -10}  ->  {"pid": 1234}
    {"status": 1234}                                                    ->  {"exit": null | CODE}

The zygote never starts a thread, so forking it is safe. It reaps its children and remembers their status.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from kubelvs.testbed.namespaces import enter

logger = logging.getLogger(__name__)

_exits: dict[int, int] = {}


def _reap(*_: object) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _exits[pid] = os.waitstatus_to_exitcode(status)


def _run(argv: Sequence[str]) -> int:
    kind, *rest = argv
    if kind == "kubelvs":
        from kubelvs import cli

        return cli.main(rest)
    if kind == "apiserver":
        from kubelvs.testbed import apiserver

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return apiserver.main(rest)
    if kind == "http-server":
        from kubelvs.testbed import webserver

        webserver.serve(rest[0], int(rest[1]))
        return 0
    raise ValueError(f"unknown child kind {kind!r}")


def _child(request: dict[str, Any]) -> None:
    """In the forked child: never returns."""
    code = 1
    try:
        os.setsid()  # its own group: a signal to the stack's group does not reach every child at once
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.update(request.get("env") or {})
        if os.environ.get("KUBELVS_TRACEBACK_AFTER"):  # diagnosis: every thread's stack into the log, once
            faulthandler.dump_traceback_later(float(os.environ["KUBELVS_TRACEBACK_AFTER"]), file=sys.stderr)
        if request.get("nice"):  # the API server first: every Lease renewal waits on it
            os.nice(int(request["nice"]))
        if request.get("netns"):
            enter(request["netns"])
        code = _run(request["start"])
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:
        logging.getLogger(__name__).exception("child %s failed", request.get("start"))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


PRELOADED = (
    "kubelvs.cli",
    "kubelvs.commands.agent",
    "kubelvs.commands.operator",
    "kubelvs.agent.cluster",
    "kubelvs.agent.standalone",
    "kubelvs.controller.running",
    "kubelvs.kernel.addresses",
    "kubelvs.kernel.ipvs",
    "kubelvs.kernel.nft",
    "kubelvs.kernel.routes",
    "kubelvs.kernel.sysctl",
    "kubelvs.kernel.tunnel",
    "kubelvs.testbed.apiserver",
    "kubelvs.testbed.webserver",
    # imported lazily by pyroute2 and the kubernetes client, once per process unless done here
    "kubernetes.client",
    "kubernetes.config",
    "kubernetes.watch",
    "pyroute2.iproute",
    "pyroute2.netlink.generic.ipvs",
    "pyroute2.netlink.rtnl.ifaddrmsg",
    "pyroute2.netlink.rtnl.ifinfmsg",
    "pyroute2.netlink.rtnl.marshal",
    "pyroute2.netlink.rtnl.rtmsg",
)


def preload() -> None:
    """Import what the children run, so a fork starts them at once."""
    for name in PRELOADED:
        importlib.import_module(name)


def main() -> int:
    preload()
    signal.signal(signal.SIGCHLD, _reap)
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "start" in request:
            pid = os.fork()
            if pid == 0:
                _child(request)
            answer: dict[str, Any] = {"pid": pid}
        elif "status" in request:
            _reap()
            answer = {"exit": _exits.get(int(request["status"]))}
        else:
            answer = {"error": f"unknown request {request!r}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
