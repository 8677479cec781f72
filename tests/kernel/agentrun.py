"""Drive ``kubelvs agent --standalone`` inside test namespaces, as an operator would on real hosts.

Manifests are plain dicts written as YAML. A ``--once`` pass runs the real command line
(``kubelvs.cli.main``) on a thread switched into the namespace: the same code, adapters and kernel as
``ip netns exec NS kubelvs agent ...``, without a python start-up that costs minutes under emulation.
The long-running agent (signals, file watching) is a real process (:func:`start`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from netns import Namespace

from kubelvs import cli
from kubelvs.testbed.namespaces import inside

API = "lvs.kubelvs.io/v1alpha1"
DIRECTOR_LABEL = "kubelvs.io/director=true"
DIRECTORS = {"nodeSelector": {"kubelvs.io/director": "true"}}


def vs(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "VirtualServer", "metadata": {"name": name}, "spec": spec}


def rs(name: str, virtual_server: str, address: str, **spec: Any) -> dict[str, Any]:
    body = {"virtualServer": virtual_server, "address": address, **spec}
    return {"apiVersion": API, "kind": "RealServer", "metadata": {"name": name}, "spec": body}


def write(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path


def command(ns: Namespace, manifests: Path, state_dir: Path, *extra: str, labels: str = "") -> list[str]:
    return [
        sys.executable, "-m", "kubelvs.cli", "agent", "--standalone",
        "--manifests", str(manifests),
        "--node", ns.name,
        "--node-labels", labels,
        "--state-file", str(state_dir / f"{ns.name}.json"),
        *extra,
    ]  # fmt: skip


def agent(
    ns: Namespace,
    manifests: Path,
    state_dir: Path,
    *extra: str,
    labels: str = "",
    expect: int = 0,
) -> str:
    """One ``--once`` pass in ``ns``; asserts the exit status and returns the summary line (writes, errors),
    followed by everything the agent printed when a failure is expected."""
    argv = command(ns, manifests, state_dir, "--once", *extra, labels=labels)[3:]  # after "python -m kubelvs.cli"
    err = io.StringIO()
    with inside(ns.name), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    text = err.getvalue()
    assert status == expect, f"agent in {ns.name} exited {status}:\n{text}"
    summary = [line for line in text.splitlines() if line.startswith("kubelvs agent: ")]
    assert summary, text
    return summary[-1].removeprefix("kubelvs agent: ") + ("\n" + text if expect else "")


def director(ns: Namespace, manifests: Path, state_dir: Path, *extra: str, expect: int = 0) -> str:
    return agent(ns, manifests, state_dir, *extra, labels=DIRECTOR_LABEL, expect=expect)


def start(ns: Namespace, manifests: Path, state_dir: Path, log: Path, *extra: str) -> subprocess.Popen[str]:
    """A long-running director agent (no --once), logging to ``log``; stop it with SIGTERM."""
    argv = command(ns, manifests, state_dir, *extra, labels=DIRECTOR_LABEL)
    with log.open("w") as handle:
        return subprocess.Popen(["ip", "netns", "exec", ns.name, *argv], stderr=handle, text=True)


def table(ns: Namespace) -> str:
    """``ipvsadm -Ln`` without the header and the connection counters, whitespace squeezed."""
    lines = ns.exec("ipvsadm", "-Ln").stdout.splitlines()[3:]
    return "\n".join(" ".join(line.split()[:4] if line.split()[:1] == ["->"] else line.split()) for line in lines)


def service_lines(ns: Namespace, service: str) -> list[str]:
    """The lines of one service (``TCP 192.0.2.100:80 rr``) and its destinations, as ipvsadm prints them."""
    out, inside = [], False
    for line in table(ns).splitlines():
        if not line.startswith("->"):
            inside = line.split()[:2] == service.split()
        if inside:
            out.append(line)
    return out


def counts(answers: list[str]) -> Counter[str]:
    return Counter(answers)


def alternates(answers: list[str]) -> bool:
    """rr: every answer differs from the one before, and two servers take turns."""
    return len(set(answers)) == 2 and all(a != b for a, b in itertools.pairwise(answers))


def wrote_nothing(summary: str) -> bool:
    return re.match(r"writes: none; errors: 0", summary) is not None


LINE_SERVER = """
import socketserver, sys
name, port = sys.argv[1], int(sys.argv[2])
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for _ in self.rfile:
            self.wfile.write((name + "\\n").encode())
            self.wfile.flush()
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
with Server(("0.0.0.0", port), Handler) as server:
    print("ready", flush=True)
    server.serve_forever()
"""


def line_server(ns: Namespace, port: int) -> None:
    """A server that keeps a connection open and answers every line with the namespace's name."""
    ns.start(sys.executable, "-c", LINE_SERVER, ns.name, str(port))
