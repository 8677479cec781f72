"""The nft script kube-lvs writes and the ``nft -j`` listing it reads back (captured from nft 1.0.6 in a network
namespace, the binary the VM runs too): the whole table, and SNAT set elements changed alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubelvs.kernel import nft
from kubelvs.netstate import Family, FwmarkRule, Proto, SnatRule

# What the VM's kernel held when tests/unit/data/nft-j-list-table-kubelvs.json was captured.
MARKS = {
    FwmarkRule(1, Family.INET, "192.0.2.100", Proto.TCP, (80, 443)),
    FwmarkRule(2, Family.INET, "192.0.2.101", Proto.UDP, (53,)),
    FwmarkRule(3, Family.INET6, "2001:db8:1::100", Proto.SCTP, (3868, 3869)),
    FwmarkRule(0xFFFF0001, Family.INET6, "2001:db8:1::101", Proto.NONE, ()),
}
SNATS = {
    SnatRule(Family.INET, "10.9.0.11", Proto.TCP, 8080, "192.0.2.100"),
    SnatRule(Family.INET, "10.9.0.12", Proto.TCP, 8080, "192.0.2.100"),
    SnatRule(Family.INET6, "2001:db8:9::11", Proto.UDP, 53, "2001:db8:1::100"),
}
LISTING = Path(__file__).parent / "data" / "nft-j-list-table-kubelvs.json"


def test_captured_listing_parses_back_to_the_rules_written() -> None:
    assert nft.parse(json.loads(LISTING.read_text())) == (MARKS, SNATS)


@pytest.mark.parametrize(
    "foreign",
    [
        pytest.param(
            {"rule": {"family": "inet", "table": "kubelvs", "chain": "prerouting", "handle": 99,
                      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}},
                               {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 9}}]}},
            id="mark-rule",
        ),
        pytest.param(
            {"rule": {"family": "inet", "table": "kubelvs", "chain": "postrouting", "handle": 98,
                      "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                                          "right": "10.9.0.11"}}, {"masquerade": None}]}},
            id="masquerade-rule",
        ),
        pytest.param(
            {"set": {"family": "inet", "name": "snat4", "table": "kubelvs", "elem": ["10.9.0.11"]}},
            id="set-element",
        ),
    ],
)  # fmt: skip
def test_anything_we_did_not_write_makes_the_table_foreign(
    foreign: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    listing = json.loads(LISTING.read_text())
    listing["nftables"].append(foreign)
    assert nft.parse(listing) is None  # the reconciler then writes the table whole
    assert "did not write" in caplog.text


def test_script_recreates_the_table_in_one_transaction() -> None:
    text = nft.script(sorted(MARKS), sorted(SNATS))
    lines = text.splitlines()
    assert lines[:3] == ["table inet kubelvs", "delete table inet kubelvs", "table inet kubelvs {"]
    assert "\t\tip daddr 192.0.2.100 meta l4proto tcp th dport { 80, 443 } counter meta mark set 0x1" in lines
    assert "\t\tip6 daddr 2001:db8:1::101 counter meta mark set 0xffff0001" in lines
    assert "\t\tip daddr . meta l4proto . th dport . ct original ip daddr @snat4 counter masquerade" in lines
    assert "\t\ttype ipv6_addr . inet_proto . inet_service . ipv6_addr" in lines
    assert "2001:db8:9::11 . udp . 53 . 2001:db8:1::100" in text


def test_snat_elements_change_alone_in_one_transaction() -> None:
    added = SnatRule(Family.INET, "10.9.0.13", Proto.TCP, 8080, "192.0.2.100")
    removed = sorted(SNATS)
    assert nft.element_script([added], removed).splitlines() == [
        "add element inet kubelvs snat4 { 10.9.0.13 . tcp . 8080 . 192.0.2.100 }",
        "delete element inet kubelvs snat4 { 10.9.0.11 . tcp . 8080 . 192.0.2.100, "
        "10.9.0.12 . tcp . 8080 . 192.0.2.100 }",
        "delete element inet kubelvs snat6 { 2001:db8:9::11 . udp . 53 . 2001:db8:1::100 }",
    ]
    assert nft.element_script([], []) == ""
    with pytest.raises(ValueError, match=r"10\.9\.0\.1:80 \(original destination\): 2001:db8::1 does not"):
        nft.element_script([SnatRule(Family.INET, "10.9.0.1", Proto.TCP, 80, "2001:db8::1")], [])


def test_nothing_to_write_only_deletes_the_table() -> None:
    assert nft.script([], []) == "table inet kubelvs\ndelete table inet kubelvs\n"


@pytest.mark.parametrize(
    ("marks", "snats", "message"),
    [
        pytest.param(
            [FwmarkRule(0, Family.INET, "192.0.2.1", Proto.TCP, (80,))], [], "mark must be 1..", id="mark-0"
        ),
        pytest.param(
            [FwmarkRule(1, Family.INET, "2001:db8::1", Proto.TCP, (80,))],
            [],
            "does not match family INET",
            id="family",
        ),
        pytest.param(
            [FwmarkRule(1, Family.INET, "192.0.2.1", Proto.TCP, (0,))], [], "port 0 is outside", id="port-0"
        ),
        pytest.param(
            [FwmarkRule(1, Family.INET, "192.0.2.1", Proto.NONE, (80,))], [], "need a protocol", id="no-proto"
        ),
        pytest.param(
            [
                FwmarkRule(1, Family.INET, "192.0.2.1", Proto.TCP, (80,)),
                FwmarkRule(1, Family.INET, "192.0.2.2", Proto.TCP, (80,)),
            ],
            [],
            "marks must be unique",
            id="duplicate-mark",
        ),
        pytest.param(
            [],
            [SnatRule(Family.INET, "10.9.0.300", Proto.TCP, 80, "192.0.2.1")],
            "'10.9.0.300' is not an IP",
            id="snat-addr",
        ),
        pytest.param(
            [],
            [SnatRule(Family.INET, "10.9.0.3", Proto.NONE, 80, "192.0.2.1")],
            "must be TCP, UDP or SCTP",
            id="snat-proto",
        ),
    ],
)
def test_bad_rule_is_refused_with_its_field(marks, snats, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nft.script(marks, snats)
