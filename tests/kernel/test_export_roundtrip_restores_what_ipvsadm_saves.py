"""``kubelvs export`` prints what the kernel would hold: ``ipvsadm -R`` of the export, then ``ipvsadm -Sn``,
gives the export back line for line (same order: ipvsadm's sorted listing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ipvsadm_view import ipvsadm_in
from netns import Netns

from kubelvs import cli
from kubelvs.commands.importing import convert
from kubelvs.formats import manifests

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "unit" / "data"


def _imported(fmt: str, name: str, tmp_path: Path) -> str:
    documents, _ = convert(fmt, (DATA / name).read_text(), name, "default")
    path = tmp_path / f"{name}.yaml"
    path.write_text(manifests.render(documents))
    return str(path)


def _export(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    capsys.readouterr()
    status = cli.main(["export", *argv])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out.splitlines()


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(("examples", None), id="examples"),
        pytest.param(("ipvsadm", "ipvsadm-Sn.txt"), id="imported-captured-ipvsadm-save"),
        pytest.param(("keepalived", "keepalived-guide.conf"), id="imported-keepalived-guide"),
        pytest.param(("keepalived", "keepalived-rich.conf"), id="imported-keepalived-rich"),
    ],
)
def test_restore_of_the_export_saves_as_the_export(
    netns: Netns, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: tuple[str, str | None]
) -> None:
    fmt, name = source
    path = str(REPO / "examples") if name is None else _imported(fmt, name, tmp_path)
    exported = _export(capsys, path)
    assert exported, "the export printed no rules"
    ns = netns.namespace("export")
    ipvsadm_in(ns.name, "-R", stdin="\n".join(exported) + "\n")
    assert ipvsadm_in(ns.name, "-Sn").splitlines() == exported


def test_thresholds_survive_a_restore_of_the_thresholds_export(
    netns: Netns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _imported("keepalived", "keepalived-rich.conf", tmp_path)
    exported = _export(capsys, "--thresholds", path)
    assert any(" -x 100 -y 50" in line for line in exported)
    ns = netns.namespace("thresholds")
    ipvsadm_in(ns.name, "-R", stdin="\n".join(exported) + "\n")
    listed = ipvsadm_in(ns.name, "-Ln", "--thresholds")
    row = next(line for line in listed.splitlines() if "[2001:db8:1::11]:80" in line)
    fields = row.split()
    assert "100" in fields and "50" in fields, listed
