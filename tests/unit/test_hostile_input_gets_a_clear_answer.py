"""Every hostile input of the corpus (``tests/data/hostile``) gets a clear answer from what reads it as a user
runs it: ``kubelvs validate`` and the standalone agent's loader for ``manifests/``, ``kubelvs import`` for
``ipvsadm/`` and ``keepalived/``. A clear answer is the expected error naming the field, the line or the
option, or a correct acceptance (an import's YAML must then pass ``kubelvs validate``), within the time and
memory bound of :class:`hostile_corpus.Bounded`, and never a traceback. Each case runs in a fork of one
bounded server, so a blow-up or a hang costs its own case only.

The operator's share (the same manifests posted to the emulator) is
``tests/operator/test_operator_judges_hostile_bodies_and_keeps_serving.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile_corpus import Bounded, Case, check, check_import, params


@pytest.fixture(scope="module")
def bounded() -> Iterator[Bounded]:
    server = Bounded()
    yield server
    server.close()


def _names_its_file(rc: int, stderr: str, path: Path) -> None:
    if rc:
        findings = stderr.splitlines()
        assert all(line.startswith(str(path)) for line in findings), f"a finding names no file: {findings[:3]}"


@pytest.mark.parametrize("case", params("manifests"))
def test_validate_gives_a_clear_answer(case: Case, bounded: Bounded, tmp_path: Path) -> None:
    path = case.materialise(tmp_path)
    ran = bounded.run("kubelvs.cli:main", ["validate", str(path)])
    check(ran, case.outcome("validate"), f"kubelvs validate {case.name}")
    _names_its_file(ran.rc, ran.stderr, path)


@pytest.mark.parametrize("case", params("manifests"))
def test_the_standalone_loader_gives_a_clear_answer(case: Case, bounded: Bounded, tmp_path: Path) -> None:
    """The agent's reading and judging (ManifestFiles behind ManifestSource and the planner, no kernel): the
    findings ``kubelvs validate`` gives, and never an exception out of ``refresh()``."""
    path = case.materialise(tmp_path)
    ran = bounded.run("hostile_corpus:standalone_loader", str(path))
    check(ran, case.outcome("loader"), f"standalone loader {case.name}")
    _names_its_file(ran.rc, ran.stderr, path)


@pytest.mark.parametrize("case", params("ipvsadm"))
def test_import_ipvsadm_gives_a_clear_answer(case: Case, bounded: Bounded, tmp_path: Path) -> None:
    check_import(bounded, case, tmp_path)


@pytest.mark.parametrize("case", params("keepalived"))
def test_import_keepalived_gives_a_clear_answer(case: Case, bounded: Bounded, tmp_path: Path) -> None:
    check_import(bounded, case, tmp_path)
