"""IPv6 services in ipvsadm's and keepalived's languages against the real ipvsadm (issue 17): a table built with
ipvsadm's own commands (``-t [2001:db8::1]:80``, ``-r [2001:db8::10]:80 -m``, ``-f 1 -6``) and saved with
``ipvsadm -Sn`` imports (``kubelvs import ipvsadm``) into objects whose ``kubelvs export`` is that save line for
line; a keepalived.conf of IPv6 virtual servers imports into objects whose export ``ipvsadm -R`` restores and
``ipvsadm -Sn`` saves as the export."""

from __future__ import annotations

from pathlib import Path

import pytest
from ipvsadm_view import ipvsadm_in
from netns import Netns

from kubelvs import cli
from kubelvs.commands.importing import convert
from kubelvs.formats import manifests

DATA = Path(__file__).resolve().parents[1] / "unit" / "data"
COMMANDS = [
    "-A -t [2001:db8::1]:80 -s rr",
    "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m",
    "-a -t [2001:db8::1]:80 -r [2001:db8::11]:8080 -m -w 3",
    "-A -u [2001:db8::1]:53 -s wrr -p 60 -M 64",
    "-a -u [2001:db8::1]:53 -r [2001:db8::12]:53 -g -w 2",
    "-A -t [2001:db8:0:0::2]:443 -s sh -b sh-port",  # written long: saved (and exported) compressed
    "-a -t [2001:db8::2]:443 -r [2001:db8:0::13]:443 -i",
    "-A -f 1 -6 -s wlc",
    "-a -f 1 -6 -r [2001:db8::10]:0 -g -w 2",
]


def export(capsys: pytest.CaptureFixture[str], path: Path) -> list[str]:
    capsys.readouterr()
    status = cli.main(["export", str(path)])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out.splitlines()


def imported(fmt: str, text: str, name: str, tmp_path: Path) -> Path:
    documents, notes = convert(fmt, text, name, "default")
    assert not [note for note in notes if note.level == "error"], notes
    path = tmp_path / f"{name}.yaml"
    path.write_text(manifests.render(documents))
    return path


def test_an_ipvsadm_save_of_ipv6_services_imports_and_exports_as_saved(
    netns: Netns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = netns.namespace("save6").name
    for command in COMMANDS:
        ipvsadm_in(ns, *command.split())
    saved = ipvsadm_in(ns, "-Sn")
    print(f"ipvsadm -Sn:\n{saved}")
    assert "-A -f 1 -6 -s wlc" in saved.splitlines()
    assert "-A -t [2001:db8::2]:443 -s sh -b sh-port" in saved.splitlines()  # the kernel's compressed spelling
    exported = export(capsys, imported("ipvsadm", saved, "saved-Sn", tmp_path))
    assert exported == saved.splitlines()


def test_a_keepalived_conf_of_ipv6_services_exports_what_ipvsadm_restores(
    netns: Netns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = DATA / "keepalived-ipv6.conf"
    exported = export(capsys, imported("keepalived", conf.read_text(), conf.name, tmp_path))
    assert "-A -t [2001:db8::1]:80 -s rr" in exported and "-A -f 1 -6 -s wlc" in exported, exported
    ns = netns.namespace("keepalived6").name
    ipvsadm_in(ns, "-R", stdin="\n".join(exported) + "\n")
    assert ipvsadm_in(ns, "-Sn").splitlines() == exported
