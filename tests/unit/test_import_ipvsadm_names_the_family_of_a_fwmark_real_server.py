"""A fwmark service names its family on every line (ipvsadm -S prints ``-a -f 8 -6 -r ...``): a real server
added to the fwmark without ``-6`` when only the IPv6 service exists (or the reverse) is refused, as ipvsadm
refuses it, with the spelling that would have worked."""

from __future__ import annotations

import pytest

from kubelvs.formats import ipvsadm


@pytest.mark.parametrize(
    ("script", "message"),
    [
        pytest.param(
            "-A -f 1 -6 -s wlc\n-a -f 1 -r [2001:db8::10]:0 -g\n",
            "-r: service FWM 1 does not exist (FWM 1 IPv6 does: write -f 1 -6)",
            id="ipv6-service-without-6",
        ),
        pytest.param(
            "-A -f 2 -s rr\n-a -f 2 -6 -r [2001:db8::10]:0 -g\n",
            "-r: service FWM 2 IPv6 does not exist (FWM 2 does: drop -6)",
            id="ipv4-service-with-6",
        ),
        pytest.param(
            "-a -f 3 -r 192.0.2.10:0 -g\n",
            "-r: service FWM 3 does not exist (add it with -A first)",
            id="no-service-at-all",
        ),
    ],
)
def test_a_real_server_of_the_other_familys_fwmark_is_refused_with_the_right_spelling(
    script: str, message: str
) -> None:
    table = ipvsadm.parse(script)
    errors = [note for note in table.notes if note.level == "error"]
    assert [(note.line, f"{note.keyword}: {note.message}") for note in errors] == [(script.count("\n"), message)]
    assert table.destinations == {}


def test_the_ipv6_fwmark_spelled_as_ipvsadm_saves_it_is_read() -> None:
    table = ipvsadm.parse("-A -f 1 -6 -s wlc\n-a -f 1 -6 -r [2001:db8::10]:0 -g -w 2\n")
    assert [note for note in table.notes if note.level == "error"] == []
    assert ipvsadm.render(table.services.values(), table.destinations.values()) == [
        "-A -f 1 -6 -s wlc",
        "-a -f 1 -6 -r [2001:db8::10]:0 -g -w 2",
    ]
