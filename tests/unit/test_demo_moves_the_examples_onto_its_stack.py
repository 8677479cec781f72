"""``kubelvs demo`` applies examples/ rewritten onto its VM topology: still valid, on the stack's addresses,
directed by the two director nodes; and it refuses a directory without examples before booting anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubelvs import cli
from kubelvs.api import groups as groups_
from kubelvs.api import manifests
from kubelvs.api.models import Directors
from kubelvs.testbed import demo, stack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_rewritten_examples_pass_the_api_rules(tmp_path: Path) -> None:
    objects = demo.load_examples(EXAMPLES)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    loaded = manifests.load([str(path)])
    assert not loaded.findings, loaded.findings
    assert len(loaded.virtual_servers) == 5 and len(loaded.real_servers) == 10


@pytest.mark.parametrize(
    ("name", "vip", "backends"),
    [
        pytest.param("nat-rr", "192.0.2.202", ["10.9.0.11", "10.9.0.12"], id="nat"),
        pytest.param("tun-wrr", "192.0.2.220", ["10.9.0.11", "10.9.0.12"], id="tun-routed-servers-moved"),
        pytest.param("ha-dr", "192.0.2.240", ["10.9.0.11", "10.9.0.12"], id="ha"),
    ],
)
def test_vips_and_real_servers_land_on_the_stack(name: str, vip: str, backends: list[str]) -> None:
    objects = demo.load_examples(EXAMPLES)
    (service,) = [o for o in objects if o["kind"] == "VirtualServer" and o["metadata"]["name"] == name]
    assert service["spec"]["address"] == vip
    assert service["spec"]["directors"]["nodeSelector"] == stack.DIRECTOR_LABELS
    servers = [o["spec"]["address"] for o in objects if o["spec"].get("virtualServer") == name]
    assert servers == backends


def test_preferred_directors_and_the_nat_gateway_are_the_stacks() -> None:
    objects = {o["metadata"]["name"]: o for o in demo.load_examples(EXAMPLES)}
    assert objects["ha-dr"]["spec"]["directors"]["preferred"] == ["dir-a", "dir-b"]
    assert objects["nat-rr"]["spec"]["directors"]["gateway"]["address"] == "10.9.0.100"


def test_every_service_is_in_one_director_group() -> None:
    # one Lease for every VIP: one holder to show and to crash, and every service fails over with it
    objects = demo.load_examples(EXAMPLES)
    groups = {groups_.director_group(Directors.model_validate(o["spec"]["directors"])) for o in objects
              if o["kind"] == "VirtualServer"}  # fmt: skip
    assert len(groups) == 1


def test_demo_refuses_a_directory_without_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--examples", str(tmp_path)]) == 2
    assert f"no examples (0*.yaml) in {tmp_path}" in capsys.readouterr().err
