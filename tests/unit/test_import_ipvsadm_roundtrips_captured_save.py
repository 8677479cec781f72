"""ipvsadm -Sn output captured from a real kernel (data/capture_ipvsadm.sh) -> CR YAML that validates ->
``kubelvs export`` -> the very lines that were captured."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs import cli
from kubelvs.api import manifests as api_manifests
from kubelvs.commands.importing import convert
from kubelvs.formats import ipvsadm, manifests

DATA = Path(__file__).parent / "data"
CAPTURED = (DATA / "ipvsadm-Sn.txt").read_text().splitlines()


def _import_to_file(name: str, tmp_path: Path) -> Path:
    documents, notes = convert("ipvsadm", (DATA / name).read_text(), name, "default")
    assert not [n for n in notes if n.level == "error"]
    path = tmp_path / "imported.yaml"
    path.write_text(manifests.render(documents))
    return path


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("ipvsadm-Sn.txt", id="numeric-save"),
        pytest.param("ipvsadm-S.txt", id="save-with-service-names"),
    ],
)
def test_import_then_export_gives_the_captured_lines(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _import_to_file(name, tmp_path)
    loaded = api_manifests.load([str(path)])
    assert loaded.findings == []
    capsys.readouterr()
    assert cli.main(["export", str(path)]) == 0
    exported = capsys.readouterr().out.splitlines()
    assert set(exported) == set(CAPTURED)
    assert exported == CAPTURED  # and in ipvsadm's own order


def test_the_renderer_alone_reprints_the_captured_table() -> None:
    table = ipvsadm.parse("\n".join(CAPTURED))
    assert table.notes == []
    assert ipvsadm.render(table.services.values(), table.destinations.values()) == CAPTURED


def test_every_captured_service_becomes_one_virtual_server(tmp_path: Path) -> None:
    loaded = api_manifests.load([str(_import_to_file("ipvsadm-Sn.txt", tmp_path))])
    assert len(loaded.virtual_servers) == sum(line.startswith("-A ") for line in CAPTURED)
    assert len(loaded.real_servers) == sum(line.startswith("-a ") for line in CAPTURED)
    names = {vs.metadata.name for vs in loaded.virtual_servers}
    assert {"tcp-192-0-2-100-80", "sctp-192-0-2-9-3868", "tcp-2001-db8--100-80", "fwm-7", "fwm-8-ipv6"} <= names
    assert "tcp-192-0-2-100-80-198-51-100-13-80" in {rs.metadata.name for rs in loaded.real_servers}
