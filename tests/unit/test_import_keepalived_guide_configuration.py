"""The LVS guide's keepalived.conf (DR, rr, persistence 50, TCP_CHECK, MASTER/BACKUP VRRP) as CRs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs import cli
from kubelvs.api import manifests as api_manifests
from kubelvs.api.enums import Forwarding, HealthCheckType, OnFailure, Scheduler
from kubelvs.formats import keepalived, manifests
from kubelvs.formats.notes import Level

DATA = Path(__file__).parent / "data"
GUIDE = (DATA / "keepalived-guide.conf").read_text()


@pytest.fixture
def loaded(tmp_path: Path) -> api_manifests.ManifestSet:
    converted = keepalived.convert(GUIDE, "keepalived.conf", "default")
    path = tmp_path / "guide.yaml"
    path.write_text(manifests.render(converted.documents))
    result = api_manifests.load([str(path)])
    assert result.findings == []
    return result


def test_one_virtual_server_with_the_guide_settings(loaded: api_manifests.ManifestSet) -> None:
    [vs] = loaded.virtual_servers
    assert vs.metadata.name == "tcp-192-168-13-202-80"
    spec = vs.spec
    assert (spec.address, spec.port, spec.scheduler, spec.forwarding) == (
        "192.168.13.202",
        80,
        Scheduler.RR,
        Forwarding.DR,
    )
    assert spec.persistence is not None and spec.persistence.timeout == 50
    assert spec.directors.interface == "eth0"
    check = spec.health_check
    assert check is not None
    assert (check.type, check.interval, check.connect_timeout, check.retries, check.delay_before_retry) == (
        HealthCheckType.TCP,
        6.0,
        6.0,  # the guide's connect_timeout 10 outlasts delay_loop 6: cut to the interval, with a warning
        3,
        3.0,
    )
    assert check.port == 80
    assert check.on_failure == OnFailure.REMOVE  # no inhibit_on_failure: keepalived removes


def test_two_real_servers(loaded: api_manifests.ManifestSet) -> None:
    assert sorted((rs.spec.address, rs.spec.weight, rs.spec.virtual_server) for rs in loaded.real_servers) == [
        ("192.168.13.43", 1, "tcp-192-168-13-202-80"),
        ("192.168.13.44", 1, "tcp-192-168-13-202-80"),
    ]


def test_vrrp_priorities_become_a_preferred_order_hint() -> None:
    converted = keepalived.convert(GUIDE, "keepalived.conf", "default")
    [hint] = [n for n in converted.notes if n.keyword == "vrrp_instance"]
    assert hint.level == Level.INFO
    assert hint.message.index("VI_1 (MASTER, priority 100") < hint.message.index("VI_2 (BACKUP, priority 99")
    assert any("spec.directors.preferred" in line for line in converted.documents[0].comments)


def test_vrrp_settings_without_equivalent_are_warned_with_lines() -> None:
    notes = {(n.line, n.keyword) for n in keepalived.convert(GUIDE, "k.conf", "default").notes}
    assert {(3, "global_defs"), (10, "virtual_router_id"), (12, "advert_int"), (13, "authentication")} <= notes
    assert {(25, "virtual_router_id"), (27, "advert_int"), (28, "authentication")} <= notes


def test_command_prints_yaml_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "keepalived", str(DATA / "keepalived-guide.conf")]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("---\n# ")
    assert "kind: VirtualServer" in out.out and out.out.count("kind: RealServer") == 2
    assert "keepalived-guide.conf:12: warning: advert_int:" in out.err


def test_a_connect_timeout_over_the_interval_is_cut_to_it_with_a_warning() -> None:
    notes = keepalived.convert(GUIDE, "keepalived.conf", "default").notes
    [cut] = [n for n in notes if n.keyword == "connect_timeout"]
    assert (cut.line, cut.level) == (46, Level.WARNING)
    assert "10s is longer than the check interval 6s (delay_loop)" in cut.message
    assert "connectTimeout set to 6s" in cut.message


def test_durations_are_written_as_the_api_spells_them() -> None:
    rendered = manifests.render(keepalived.convert(GUIDE, "keepalived.conf", "default").documents)
    assert "connectTimeout: 6s\n" in rendered and "delayBeforeRetry: 3s\n" in rendered
    assert ".0\n" not in rendered  # strings, as the CRD's durations are: never 6.0
