"""The standalone agent's pass: manifests -> plan -> reconcile, bad objects reported, good ones kept."""

from __future__ import annotations

from pathlib import Path

import yaml
from reconciling import Node

from kubelvs.agent.manifest_files import ManifestFiles
from kubelvs.agent.options import StandaloneOptions as Options
from kubelvs.agent.standalone import StandaloneAgent
from kubelvs.netstate import AddressKey, Family, Proto, ServiceKey

WEB = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
API = "lvs.kubelvs.io/v1alpha1"


def obj(kind: str, name: str, **spec: object) -> dict:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def objects(*extra: dict) -> list[dict]:
    return [
        obj("VirtualServer", "web", address="192.0.2.100", port=80),
        obj("RealServer", "web-1", virtualServer="web", address="10.9.0.11"),
        *extra,
    ]


def options(path: Path, **changes: object) -> Options:
    values: dict = {
        "manifests": (str(path),),
        "node": "dir1",
        "labels": {},
        "vip_pools": (),
        "state_file": None,
        "resync_period": 30.0,
        "drain_timeout": 300.0,
        "timeouts": (0, 0, 0),
    }
    return Options(**(values | changes))


def test_one_pass_programs_the_director_and_binds_the_vip(tmp_path, capsys):
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump_all(objects()))
    node = Node.new()
    assert StandaloneAgent(options(path), node.kernel()).run(once=True) == 0
    assert set(node.ipvs.table) == {WEB}
    assert AddressKey("eth0", "192.0.2.100", 32) in node.addresses.present  # standalone holds every group
    assert "writes: address.add=1, address.announce=1, ipvs.add_destination=1" in capsys.readouterr().err


def test_a_bad_object_is_reported_and_fails_once_but_the_rest_is_programmed(tmp_path, capsys):
    bad = {
        "apiVersion": API,
        "kind": "VirtualServer",
        "metadata": {"name": "bad"},
        "spec": {"address": "192.0.2.7", "port": 70000},
    }
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump_all(objects(bad)))
    node = Node.new()
    assert StandaloneAgent(options(path), node.kernel()).run(once=True) == 1
    assert set(node.ipvs.table) == {WEB}
    err = capsys.readouterr().err
    assert f"error: {path}: VirtualServer default/bad: spec.port:" in err


def test_timeouts_are_set_when_asked(tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump_all(objects()))
    node = Node.new()
    StandaloneAgent(options(path, timeouts=(60, 0, 20)), node.kernel()).run(once=True)
    assert node.ipvs.timeouts() == (60, 120, 20)


def test_a_manifest_edit_changes_the_stamps_and_other_files_do_not(tmp_path):
    files = ManifestFiles([str(tmp_path)])
    (tmp_path / "a.yaml").write_text("a: 1\n")
    before = files.stamps()
    (tmp_path / "a.yaml").write_text("a: 22\n")
    edited = files.stamps()
    assert edited != before
    (tmp_path / "a.tmp").write_text("an editor's temporary file\n")  # not a manifest: refresh never reads it
    assert files.stamps() == edited
