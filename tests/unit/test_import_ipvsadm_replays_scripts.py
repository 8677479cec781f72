"""Shell scripts of ipvsadm commands (LVS HOWTO style) replay into the table the kernel would hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs.formats import ipvsadm
from kubelvs.formats.notes import Level

HOWTO = """\
#!/bin/sh
# LVS-NAT director, as in the LVS HOWTO
VIP=192.168.13.202
RIP1=192.168.13.43
echo 1 > /proc/sys/net/ipv4/ip_forward
/sbin/ipvsadm -C
ipvsadm -A -t $VIP:80 -s rr
ipvsadm -a -t $VIP:80 -r ${RIP1}:8080 -m -w 3
ipvsadm --add-server --tcp-service "$VIP:80" --real-server 192.168.13.44:8080 --masquerading --weight=2 \\
    -x 100 -y 50
ipvsadm --set 900 120 300
"""


def _lines(text: str) -> list[str]:
    table = ipvsadm.parse(text)
    return ipvsadm.render(table.services.values(), table.destinations.values(), thresholds=True)


def test_howto_script_gives_the_saved_rules() -> None:
    assert _lines(HOWTO) == [
        "-A -t 192.168.13.202:80 -s rr",
        "-a -t 192.168.13.202:80 -r 192.168.13.43:8080 -m -w 3",
        "-a -t 192.168.13.202:80 -r 192.168.13.44:8080 -m -w 2 -x 100 -y 50",
    ]


def test_howto_script_names_what_it_skipped() -> None:
    notes = {(n.line, n.keyword, n.level) for n in ipvsadm.parse(HOWTO).notes}
    assert (5, ">", Level.INFO) in notes  # the redirect of echo ...
    assert (5, "echo", Level.WARNING) in notes
    assert (6, "-C", Level.INFO) in notes
    assert (11, "--set", Level.WARNING) in notes


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80\nipvsadm -E -t 10.0.0.1:80 -s sh -b sh-port -p 60 -M 255.255.255.0",
            ["-A -t 10.0.0.1:80 -s sh -p 60 -M 255.255.255.0 -b sh-port"],
            id="edit-replaces-settings",
        ),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80 -s wrr\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -w 5\n"
            "ipvsadm -e -t 10.0.0.1:80 -r 10.0.1.1 -g -w 0",
            ["-A -t 10.0.0.1:80 -s wrr", "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 0"],
            id="edit-server-and-port-from-service",
        ),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:80\n"
            "ipvsadm -d -t 10.0.0.1:80 -r 10.0.1.1:80\nipvsadm -A -u 10.0.0.1:53\nipvsadm -D -u 10.0.0.1:53",
            ["-A -t 10.0.0.1:80 -s wlc"],
            id="delete-server-and-service",
        ),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:0 -p\nipvsadm -a -t 10.0.0.1:0 -r 10.0.1.1",
            ["-A -t 10.0.0.1:0 -s wlc -p 360", "-a -t 10.0.0.1:0 -r 10.0.1.1:0 -g -w 1"],
            id="bare-p-is-360-seconds",
        ),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:8080 -g",
            ["-A -t 10.0.0.1:80 -s wlc", "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1"],
            id="dr-takes-the-service-port",
        ),
        pytest.param(
            "ipvsadm -A -f 7 -6 -s mh -b flag-1,flag-2 --persistent=30 --netmask 64 -o\n"
            "ipvsadm -a -f 7 -6 -r [2001:db8::5]:0 -i",
            [
                "-A -f 7 -6 -s mh -p 30 -M 64 -o -b mh-fallback,mh-port",
                "-a -f 7 -6 -r [2001:db8::5]:0 -i -w 1 --tun-type ipip",
            ],
            id="fwmark-ipv6-long-options-generic-flags",
        ),
        pytest.param(
            "ipvsadm -At 10.0.0.1:80 -srr\nipvsadm -at 10.0.0.1:80 -r10.0.1.1:80 -mw4",
            ["-A -t 10.0.0.1:80 -s rr", "-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 4"],
            id="clustered-short-options",
        ),
        pytest.param(
            "ipvsadm -A --sctp-service 10.0.0.1:3868 -s lc\n"
            "ipvsadm -a --sctp-service 10.0.0.1:3868 -r 10.0.1.1:3868 -m -w 1; echo done",
            ["-A --sctp-service 10.0.0.1:3868 -s lc", "-a --sctp-service 10.0.0.1:3868 -r 10.0.1.1:3868 -m -w 1"],
            id="sctp-and-trailing-shell",
        ),
        pytest.param(
            "ipvsadm -A -u 10.0.0.1:53 -s rr\nipvsadm -C\nipvsadm -A -u 10.0.0.2:53 -s rr",
            ["-A -u 10.0.0.2:53 -s rr"],
            id="clear-drops-earlier-rules",
        ),
    ],
)
def test_script_replays_like_ipvsadm(script: str, expected: list[str]) -> None:
    assert _lines(script) == expected


def test_edits_and_deletions_replay_to_what_the_kernel_kept() -> None:
    data = Path(__file__).parent / "data"
    kept = (data / "ipvsadm-edits-Sn.txt").read_text().splitlines()  # captured after running the script
    table = ipvsadm.parse((data / "ipvsadm-edits.sh").read_text())
    assert ipvsadm.render(table.services.values(), table.destinations.values()) == kept
    assert not [n for n in table.notes if n.level == Level.ERROR]
