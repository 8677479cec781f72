"""The hostile-input corpus (``tests/data/hostile/``) and the bounded process every case runs in.

A case is one file under ``manifests/``, ``ipvsadm/`` or ``keepalived/``; ``NAME.gz`` holds a large case
compressed (it runs as ``NAME``). Its expected outcome is in the sidecar ``FILE.expect`` (README.md there):
``accept``, ``accept: <stdout words>`` or ``error: <stderr words>`` for every target (``expect:``), or for
one target (``validate:``, ``loader:``, ``operator:``, ``import:``); ``operator: refused`` says the API
server refuses such a body before any controller sees it, so only the operator's survival is checked.

Why a fork server: every case must end within a time and a memory bound, and a case that blows up must not
take the test run with it. A subprocess per case costs ~0.2 s of interpreter start and imports (a minute for
the corpus on a 2-core host); in-process, a hang or a multi-GB blow-up would hang or kill pytest itself. So
one child process (:class:`Bounded`) imports kube-lvs once under ``RLIMIT_AS`` (1 GiB), then forks a
grandchild per case: each case gets a fresh copy of that bound, its own stdout and stderr files, and is
killed by the server when its wall-clock limit passes -- a hang costs its own case, never the run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parent / "data" / "hostile"
TARGETS = ("manifests", "ipvsadm", "keepalived")
MEMORY = 1024**3  # the address space of every case
CASE_SECONDS = 20.0  # the wall-clock bound of one case; the slowest takes about a second
LINE_LIMIT = 8192  # no line of stderr, condition or Event message is longer ("a few KB")
EXPANDED_LIMIT = 64 * 1024 * 1024  # what a compressed case may expand to
BODY_LIMIT = 3 * 1024 * 1024  # the API server's request-body limit: a larger body is refused (413)
API_VERSION = "lvs.kubelvs.io/v1alpha1"
PLURALS = {"VirtualServer": "virtualservers", "RealServer": "realservers"}


# --- cases -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """``accept`` (with words stdout must hold), ``error`` (words stderr must hold) or ``refused``."""

    verdict: str
    words: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.verdict}: {' | '.join(self.words)}" if self.words else self.verdict


@dataclass(frozen=True)
class Case:
    target: str
    path: Path  # the file in the corpus
    outcomes: dict[str, Outcome] = field(hash=False)  # by target name, "expect" for every target

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".gz")

    def outcome(self, target: str) -> Outcome:
        return self.outcomes.get(target) or self.outcomes["expect"]

    def data(self) -> bytes:
        raw = self.path.read_bytes()
        if self.path.suffix != ".gz":
            return raw
        data = gzip.GzipFile(fileobj=__import__("io").BytesIO(raw)).read(EXPANDED_LIMIT + 1)
        assert len(data) <= EXPANDED_LIMIT, f"{self.path} expands past {EXPANDED_LIMIT} bytes"
        return data

    def materialise(self, folder: Path) -> Path:
        """The case as a file of its own name in ``folder`` (a compressed case expanded)."""
        path = folder / self.name
        path.write_bytes(self.data())
        return path

    @property
    def namespace(self) -> str:
        """A namespace of this case alone (a DNS label), for objects that do not name their own."""
        return "h-" + hashlib.sha256(f"{self.target}/{self.name}".encode()).hexdigest()[:12]


def parse_sidecar(path: Path) -> dict[str, Outcome]:
    """``target: accept[: words]`` / ``target: error: words`` / ``operator: refused`` lines; # comments."""
    found: dict[str, Outcome] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        target, _, rest = line.partition(":")
        verdict, _, words = rest.strip().partition(":")
        target, verdict, words = target.strip(), verdict.strip(), words.strip()
        assert target in ("expect", "validate", "loader", "operator", "import"), f"{path}:{number}: {target!r}"
        assert verdict in ("accept", "error", "refused"), f"{path}:{number}: {verdict!r}"
        assert verdict != "error" or words, f"{path}:{number}: an error names the words stderr must hold"
        old = found.get(target)
        assert old is None or old.verdict == verdict, f"{path}:{number}: {target} is both {old} and {verdict}"
        found[target] = Outcome(verdict, (old.words if old else ()) + ((words,) if words else ()))
    assert "expect" in found, f"{path}: no expect: line"
    return found


def cases(target: str) -> list[Case]:
    folder = CORPUS / target
    return [
        Case(target, path, parse_sidecar(path.with_name(path.name + ".expect")))
        for path in sorted(folder.iterdir())
        if not path.name.endswith(".expect") and path.is_file()
    ]


def params(target: str) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in cases(target)]


# --- the bounded process -----------------------------------------------------------------------------------

_SERVER = r"""
import importlib, json, os, resource, select, signal, sys, time, traceback
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.path.insert(0, sys.argv[1])
import hostile_corpus
for name in hostile_corpus.PRELOAD:  # imported once, before any fork: a case costs a fork, not the imports
    importlib.import_module(name)

def child(request):
    code = 1
    try:
        for fd, name, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY | os.O_CREAT),
                                (2, request["stderr"], os.O_WRONLY | os.O_CREAT)):
            os.dup2(os.open(name, flags), fd)
        sys.stdin = open(os.devnull)
        module, _, name = request["call"].partition(":")
        code = getattr(importlib.import_module(module), name)(*request["args"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()  # what the interpreter would print
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 0)

for line in sys.stdin:
    request = json.loads(line)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(request)
    handle = os.pidfd_open(pid)
    timed_out = not select.select([handle], [], [], request["timeout"])[0]
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    os.close(handle)
    reply = {"rc": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - start,
             "timed_out": timed_out, "maxrss_kb": usage.ru_maxrss}
    print(json.dumps(reply), flush=True)
"""

PRELOAD = (
    "kubelvs.cli",
    "kubelvs.commands.validate",
    "kubelvs.commands.importing",
    "kubelvs.agent.standalone",
    "kubelvs.planner",
    "yaml",
)
READ_LIMIT = 4 * 1024 * 1024  # what is read back of a case's stdout or stderr


@dataclass(frozen=True)
class Ran:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    maxrss_kb: int


class Bounded:
    """One forking server under RLIMIT_AS; :meth:`run` calls ``module:function(*args)`` in a fresh fork."""

    def __init__(self, memory: int = MEMORY) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="hostile-"))
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(Path(__file__).parent), str(memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._count = 0

    def run(self, call: str, *args: object, timeout: float = CASE_SECONDS) -> Ran:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._count += 1
        out, err = self._folder / f"{self._count}.out", self._folder / f"{self._count}.err"
        request = {"call": call, "args": list(args), "stdout": str(out), "stderr": str(err), "timeout": timeout}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        assert line, f"the bounded server died (exit {self._process.poll()})"
        reply = json.loads(line)
        ran = Ran(reply["rc"], _read(out), _read(err), reply["seconds"], reply["timed_out"], reply["maxrss_kb"])
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
        return ran

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(10)
        for leftover in self._folder.iterdir():
            leftover.unlink()
        self._folder.rmdir()


def _read(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        return handle.read(READ_LIMIT).decode("utf-8", "replace")


def check(ran: Ran, outcome: Outcome, what: str, errors_exit: bool = True) -> None:
    """A clear answer within the bounds: no hang, no traceback, bounded lines, and the expected outcome.

    ``errors_exit``: an error ends with exit status 1 (validate, the loader); an importer may import the
    rest of a file with an error in it, so there an error is an ``error:`` note or exit status 1.
    """
    tail = ran.stderr[-1500:]
    assert not ran.timed_out, f"{what}: still running after {CASE_SECONDS} s (killed); stderr: {tail}"
    assert "Traceback" not in ran.stderr, f"{what}: a traceback:\n{tail}"
    assert ran.rc in (0, 1), f"{what}: exit status {ran.rc} (a crash or a kill); stderr: {tail}"
    assert "<unicode string>" not in ran.stderr, f"{what}: an error names no file:\n{ran.stderr[:1500]}"
    long = [line for line in ran.stderr.splitlines() if len(line) > LINE_LIMIT]
    assert not long, f"{what}: a stderr line of {len(long[0])} characters: {long[0][:300]}..."
    if outcome.verdict == "accept":
        assert ran.rc == 0, f"{what}: expected acceptance, got exit {ran.rc}:\n{ran.stderr[:3000]}"
        missing = [w for w in outcome.words if w not in ran.stdout]
        assert not missing, f"{what}: stdout lacks {missing}:\n{ran.stdout[:1500]}"
        return
    assert outcome.verdict == "error", outcome
    if errors_exit:
        assert ran.rc == 1, f"{what}: expected an error ({outcome}), but it was accepted:\n{ran.stdout[:1500]}"
    else:
        said = ran.rc == 1 or ": error: " in ran.stderr
        neither = "got neither exit 1 nor an error note"
        assert said, f"{what}: expected an error ({outcome}), {neither}:\n{ran.stderr[:3000]}"
    missing = [w for w in outcome.words if w not in ran.stderr]
    assert not missing, f"{what}: stderr lacks {missing}:\n{ran.stderr[:3000]}"


def check_import(bounded: Bounded, case: Case, folder: Path) -> None:
    """``kubelvs import FORMAT`` on the case gives its clear answer, and what it imports is valid: the
    YAML it prints passes ``kubelvs validate``."""
    path = case.materialise(folder)
    ran = bounded.run("kubelvs.cli:main", ["import", case.target, str(path)])
    check(ran, case.outcome("import"), f"kubelvs import {case.target} {case.name}", errors_exit=False)
    if ran.rc == 0:
        imported = folder / "imported.yaml"
        imported.write_text(ran.stdout)
        validated = bounded.run("kubelvs.cli:main", ["validate", str(imported)])
        check(validated, Outcome("accept"), f"kubelvs validate of what {case.name} imported")


# --- what runs inside the bounded process ------------------------------------------------------------------


def standalone_loader(path: str) -> int:
    """The standalone agent's reading and judging of ``path`` (no kernel): its findings on stderr, then
    ``ok: N VirtualServer(s), M RealServer(s)`` in force, as ``kubelvs validate`` prints them."""
    from kubelvs.agent.manifest_files import ManifestFiles
    from kubelvs.agent.standalone import ManifestSource
    from kubelvs.planner import NodeFacts, Planner

    source = ManifestSource(ManifestFiles([path]), {})
    planner = Planner()
    source.feed(planner)
    planner.plan(NodeFacts("director"), ())
    findings = source.findings(planner)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        return 1
    virtual_servers, real_servers = planner.in_force()
    print(f"ok: {len(virtual_servers)} VirtualServer(s), {len(real_servers)} RealServer(s)")
    return 0


def ours(doc: Any) -> bool:
    """A document the operator test posts: of our group (however misspelled), or of one of our kinds
    without a usable apiVersion."""
    if not isinstance(doc, dict):
        return False
    api_version = doc.get("apiVersion")
    if isinstance(api_version, str):
        return "kubelvs" in api_version.lower()
    return doc.get("kind") in PLURALS or api_version is not None


def bodies(path: str) -> int:
    """The JSON bodies a client would send for the case's documents, one ``[plural, body]`` per line;
    exit 3 if the file is no YAML a client could send (a client expands aliases: a bomb is not sent), or a
    body is over the API server's limit."""
    import yaml

    class Loader(yaml.SafeLoader):
        """Timestamps stay strings, as kubectl sends them."""

    Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    docs: list[Any] = []
    try:
        loader = Loader(Path(path).read_bytes())
        while loader.check_node():
            node = loader.get_node()
            if _expanded(node) > SENDABLE_NODES:
                print("aliases expand past what a client sends", file=sys.stderr)
                return 3
            docs.append(loader.construct_document(node))
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        print(f"not sendable: {str(error)[:300]}", file=sys.stderr)
        return 3
    for doc in docs:
        items = doc["items"] if isinstance(doc, dict) and isinstance(doc.get("items"), list) else [doc]
        for item in items:
            if not ours(item):
                continue
            kind = item.get("kind")
            try:
                text = json.dumps(item, allow_nan=False)
            except (ValueError, TypeError, RecursionError) as error:  # inf, bytes, sets...
                print(f"not JSON: {str(error)[:300]}", file=sys.stderr)
                return 3
            if len(text) > BODY_LIMIT:
                print(f"a body of {len(text)} bytes", file=sys.stderr)
                return 3
            print(json.dumps([PLURALS.get(kind if isinstance(kind, str) else "", "virtualservers"), item]))
    return 0


SENDABLE_NODES = 1_000_000


def _expanded(root: Any) -> int:
    """Nodes of a YAML node graph once its aliases are expanded (each shared node counted per use);
    a graph that holds itself is endless."""
    from yaml.nodes import MappingNode, SequenceNode

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, done = stack.pop()
        children = (
            list(node.value)
            if isinstance(node, SequenceNode)
            else [n for pair in node.value for n in pair]
            if isinstance(node, MappingNode)
            else []
        )
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), SENDABLE_NODES + 1)
            open_nodes.discard(id(node))
        elif id(node) in open_nodes:
            return SENDABLE_NODES + 1
        elif id(node) not in sizes:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children)
    return sizes[id(root)]
