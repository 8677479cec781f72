"""The README's Helm quick start, read from README.md itself, so the tests run what a new user copies.

The quick start is the first ``sh`` code block of the section "Install on a cluster (Helm)" that runs
``helm install``; its commands are split the way a shell splits them (backslash continuations joined, comments
dropped). :func:`read` returns the release, namespace, ``--set`` flags, the ``kubectl label node`` step and the
file ``kubectl apply -f`` names; a README whose block lacks one of them is an error naming what is missing.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SECTION = "## Install on a cluster (Helm)"
BLOCK = re.compile(r"^```sh\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class QuickStart:
    release: str
    chart: str
    namespace: str
    sets: tuple[str, ...]  # each ``KEY=VALUE`` as helm's --set takes it
    label_nodes: tuple[str, ...]
    label: tuple[str, str]  # (key, value) the label step puts on the nodes
    applied: Path  # the file ``kubectl apply -f`` names, inside the repository

    def set_values(self) -> dict[str, str]:
        """``--set`` flags as ``{key: value}`` (helm's own syntax kept, e.g. ``{192.0.2.0/24}``)."""
        return dict(flag.split("=", 1) for flag in self.sets)


def commands(block: str) -> list[list[str]]:
    """The block's commands as argv lists."""
    joined = block.replace("\\\n", " ")
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def section(text: str, title: str = SECTION) -> str:
    start = text.find(title + "\n")
    if start == -1:
        raise ValueError(f"README.md has no section {title!r}")
    end = text.find("\n## ", start + len(title))
    return text[start : end if end != -1 else len(text)]


def read(readme: Path = README) -> QuickStart:
    body = section(readme.read_text())
    blocks = [m["body"] for m in BLOCK.finditer(body) if "helm install" in m["body"]]
    if not blocks:
        raise ValueError(f"{SECTION!r} has no sh block that runs `helm install`")
    install = label = apply = None
    for argv in commands(blocks[0]):
        if argv[:2] == ["helm", "install"]:
            install = argv
        elif argv[:3] == ["kubectl", "label", "node"]:
            label = argv
        elif argv[:2] == ["kubectl", "apply"] and "-f" in argv:
            apply = argv
    missing = [name for name, found in (("helm install", install), ("kubectl label node", label),
               ("kubectl apply -f", apply)) if found is None]  # fmt: skip
    if missing or install is None or label is None or apply is None:
        raise ValueError(f"the quick start block lacks {missing}")
    positional, sets, namespace = [], [], "default"
    i = 2
    while i < len(install):
        arg = install[i]
        if arg == "--set":
            sets.append(install[i + 1])
            i += 2
        elif arg.startswith("--set="):
            sets.append(arg.removeprefix("--set="))
            i += 1
        elif arg in ("-n", "--namespace"):
            namespace = install[i + 1]
            i += 2
        else:
            if not arg.startswith("-"):
                positional.append(arg)
            i += 1
    nodes = tuple(arg for arg in label[3:] if "=" not in arg and not arg.startswith("-"))
    (pair,) = [arg for arg in label[3:] if "=" in arg]
    key, _, value = pair.partition("=")
    applied = REPO / apply[apply.index("-f") + 1]
    return QuickStart(positional[0], positional[1], namespace, tuple(sets), nodes, (key, value), applied)
