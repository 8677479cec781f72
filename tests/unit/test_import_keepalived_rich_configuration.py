"""A richer keepalived.conf: HTTP_GET, SSL_GET, NAT with a gateway VIP, UDP, fwmark, IPv6, and keywords
kube-lvs cannot map, each a warning with its line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs.api import manifests as api_manifests
from kubelvs.api.models import VirtualServer
from kubelvs.formats import keepalived, manifests
from kubelvs.formats.notes import Level

DATA = Path(__file__).parent / "data"
RICH = (DATA / "keepalived-rich.conf").read_text()


@pytest.fixture(scope="module")
def converted() -> keepalived.Converted:
    return keepalived.convert(RICH, "rich.conf", "default")


@pytest.fixture
def by_name(converted: keepalived.Converted, tmp_path: Path) -> dict[str, VirtualServer]:
    path = tmp_path / "rich.yaml"
    path.write_text(manifests.render(converted.documents))
    loaded = api_manifests.load([str(path)])
    assert loaded.findings == []
    assert len(loaded.real_servers) == 7
    return {vs.metadata.name: vs for vs in loaded.virtual_servers}


@pytest.mark.parametrize(
    ("line", "keyword"),
    [
        pytest.param(3, "include", id="include"),
        pytest.param(4, "global_defs", id="global-defs"),
        pytest.param(14, "nopreempt", id="nopreempt"),
        pytest.param(25, "sorry_server", id="sorry-server"),
        pytest.param(33, "digest", id="digest"),
        pytest.param(35, "url", id="second-url"),
        pytest.param(57, "MISC_CHECK", id="misc-check"),
        pytest.param(79, "real_server", id="real-server-without-checker"),
        pytest.param(80, "SMTP_CHECK", id="smtp-check"),
        pytest.param(83, "notify_down", id="notify-down"),
        pytest.param(99, "hysteresis", id="hysteresis"),
        pytest.param(116, "virtual_server_group", id="virtual-server-group"),
    ],
)
def test_unmapped_keyword_is_a_warning_on_its_line(
    converted: keepalived.Converted, line: int, keyword: str
) -> None:
    assert (line, keyword, Level.WARNING) in {(n.line, n.keyword, n.level) for n in converted.notes}


def test_http_get_with_nat_and_gateway(by_name: dict[str, VirtualServer]) -> None:
    spec = by_name["tcp-203-0-113-10-80"].spec
    assert spec.forwarding == "nat"
    assert spec.directors.gateway is not None
    assert (spec.directors.gateway.address, spec.directors.gateway.interface) == ("10.20.0.254", "eth1")
    check = spec.health_check
    assert check is not None and check.http is not None
    assert (check.type, check.http.path, check.http.expect_status, check.port) == ("http", "/healthz", [200], 8080)
    assert (check.interval, check.connect_timeout, check.retries, check.delay_before_retry) == (10, 3, 2, 2)
    assert check.on_failure == "quiesce"  # inhibit_on_failure


def test_ssl_get_with_virtualhost_and_status_range(by_name: dict[str, VirtualServer]) -> None:
    spec = by_name["tcp-203-0-113-10-443"].spec
    assert spec.scheduler == "sh" and spec.scheduler_flags == ["sh-port"]
    assert spec.persistence is not None and spec.persistence.netmask == "255.255.255.0"
    check = spec.health_check
    assert check is not None and check.http is not None
    assert (check.type, check.http.host, check.http.expect_status) == (
        "https",
        "www.example.com",
        [200, 201, 202, 203, 204],
    )
    assert check.on_failure == "remove"


def test_udp_ops_fwmark_and_ipv6(by_name: dict[str, VirtualServer]) -> None:
    udp = by_name["udp-203-0-113-53-53"].spec
    assert (udp.protocol, udp.one_packet, udp.forwarding) == ("UDP", True, "nat")
    fwm = by_name["fwm-7"].spec
    assert (fwm.fwmark, fwm.scheduler, fwm.address) == (7, "wrr", None)
    assert fwm.health_check is not None and fwm.health_check.interval == 60  # keepalived's delay_loop default
    v6 = by_name["tcp-2001-db8--10-80"].spec
    assert (v6.address, v6.forwarding, v6.health_check) == ("2001:db8::10", "tun", None)


def test_syntax_errors_are_errors_with_lines() -> None:
    converted = keepalived.convert(
        "virtual_server 10.0.0.1 80\n{\n  lb_algo fastest\n  real_server 10.0.1.1 80 {\n}\n", "x", "default"
    )
    found = {(n.line, n.keyword, n.level) for n in converted.notes}
    assert (3, "lb_algo", Level.ERROR) in found
    assert (2, "{", Level.ERROR) in found  # the brace opened on line 2 is never closed
    assert converted.documents == []
