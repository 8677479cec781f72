"""Each netstate value prints as the line ipvsadm 1.31 -Sn prints for it (lines taken from the capture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs import cli
from kubelvs.formats import ipvsadm
from kubelvs.netstate import NO_FLAGS, Destination, DestKey, Family, Fwd, Proto, Service, ServiceKey, SvcFlag

DATA = Path(__file__).parent / "data"
CAPTURED = set((DATA / "ipvsadm-Sn.txt").read_text().splitlines())

TCP80 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
V6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8::100", 80)
FWM7 = ServiceKey(Family.INET, Proto.NONE, "", 0, 7)
FWM8 = ServiceKey(Family.INET6, Proto.NONE, "", 0, 8)
P = SvcFlag.PERSISTENT


@pytest.mark.parametrize(
    ("service", "line"),
    [
        pytest.param(Service(TCP80, "wrr"), "-A -t 192.0.2.100:80 -s wrr", id="plain"),
        pytest.param(
            Service(
                ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 443),
                "sh",
                P | SvcFlag.SCHED1 | SvcFlag.SCHED2,
                600,
                24,
            ),
            "-A -t 192.0.2.100:443 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port",
            id="persistent-netmask-flags",
        ),
        pytest.param(
            Service(ServiceKey(Family.INET, Proto.TCP, "192.0.2.7", 0), "lc", P, 360, 32),
            "-A -t 192.0.2.7:0 -s lc -p 360",
            id="full-netmask-not-printed",
        ),
        pytest.param(
            Service(ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 514), "wlc", P | SvcFlag.ONEPACKET, 30, 32),
            "-A -u 192.0.2.100:514 -s wlc -p 30 -o",
            id="udp-ops",
        ),
        pytest.param(
            Service(ServiceKey(Family.INET, Proto.SCTP, "192.0.2.9", 3868), "mh", SvcFlag.SCHED2),
            "-A --sctp-service 192.0.2.9:3868 -s mh -b mh-port",
            id="sctp-mh-port",
        ),
        pytest.param(
            Service(V6, "sed", P, 120, 64), "-A -t [2001:db8::100]:80 -s sed -p 120 -M 64", id="ipv6-prefix"
        ),
        pytest.param(Service(FWM7, "fo", P, 60, 32), "-A -f 7 -s fo -p 60", id="fwmark"),
        pytest.param(Service(FWM8, "ovf", NO_FLAGS, 0, 128), "-A -f 8 -6 -s ovf", id="fwmark-ipv6"),
    ],
)
def test_service_line(service: Service, line: str) -> None:
    assert line in CAPTURED
    assert ipvsadm.render_service(service) == line


@pytest.mark.parametrize(
    ("dest", "line"),
    [
        pytest.param(
            Destination(DestKey(TCP80, "198.51.100.11", 80), Fwd.DROUTE, 3),
            "-a -t 192.0.2.100:80 -r 198.51.100.11:80 -g -w 3",
            id="dr",
        ),
        pytest.param(
            Destination(DestKey(TCP80, "198.51.100.13", 80), Fwd.TUNNEL, 1, 1000, 800),
            "-a -t 192.0.2.100:80 -r 198.51.100.13:80 -i -w 1 --tun-type ipip",
            id="tun-thresholds-not-saved",
        ),
        pytest.param(
            Destination(
                DestKey(ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 8080), "198.51.100.41", 80), Fwd.MASQ
            ),
            "-a -t 192.0.2.100:8080 -r 198.51.100.41:80 -m -w 1",
            id="nat-remapped-port",
        ),
        pytest.param(
            Destination(
                DestKey(ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 110), "2001:db8:1::61", 110),
                Fwd.TUNNEL,
                family=Family.INET6,
            ),
            "-a -t 192.0.2.100:110 -r [2001:db8:1::61]:110 -i -w 1 --tun-type ipip",
            id="tun-across-families",
        ),
        pytest.param(
            Destination(DestKey(FWM8, "2001:db8:1::21", 0), Fwd.DROUTE, 4),
            "-a -f 8 -6 -r [2001:db8:1::21]:0 -g -w 4",
            id="fwmark-ipv6",
        ),
    ],
)
def test_destination_line(dest: Destination, line: str) -> None:
    assert line in CAPTURED
    assert ipvsadm.render_destination(dest) == line


def test_thresholds_only_on_request() -> None:
    dest = Destination(DestKey(TCP80, "198.51.100.13", 80), Fwd.TUNNEL, 1, 1000, 800)
    assert ipvsadm.render_destination(dest, thresholds=True).endswith("--tun-type ipip -x 1000 -y 800")


def test_order_is_ipvsadms_listing_order() -> None:
    services = [
        Service(FWM8),
        Service(FWM7),
        Service(V6),
        Service(TCP80),
        Service(ServiceKey(Family.INET, Proto.UDP, "192.0.2.1", 53)),
    ]
    services.append(Service(ServiceKey(Family.INET, Proto.TCP, "192.0.2.7", 443)))
    lines = ipvsadm.render(services, [])
    assert lines == [
        "-A -t 192.0.2.7:443 -s wlc",
        "-A -t 192.0.2.100:80 -s wlc",
        "-A -u 192.0.2.1:53 -s wlc",
        "-A -t [2001:db8::100]:80 -s wlc",
        "-A -f 7 -s wlc",
        "-A -f 8 -6 -s wlc",
    ]


def test_export_of_the_examples_uses_the_planner(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).parents[2] / "examples"
    assert cli.main(["export", str(examples)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith(("-A ", "-a ")) for line in lines)
    assert ipvsadm.parse("\n".join(lines)).notes == []


def test_export_leaves_out_invalid_objects_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "apiVersion: lvs.kubelvs.io/v1alpha1\nkind: VirtualServer\nmetadata: {name: good}\n"
        "spec: {address: 192.0.2.1, port: 80, scheduler: rr}\n---\n"
        "apiVersion: lvs.kubelvs.io/v1alpha1\nkind: VirtualServer\nmetadata: {name: bad}\n"
        "spec: {address: 192.0.2.2, port: 80, scheduler: fastest}\n"
    )
    assert cli.main(["export", str(path)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == ["-A -t 192.0.2.1:80 -s rr"]
    assert "default/bad" in out.err and "spec.scheduler" in out.err
