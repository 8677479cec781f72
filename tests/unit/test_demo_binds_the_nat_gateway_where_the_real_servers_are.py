"""``kubelvs demo`` binds each NAT service's gateway on the directors' real-server side (its gratuitous ARP must
reach the real servers after a failover), and its summary says what each number is: the weights, the answers
per real server before and after the crash, and each service's failover gap."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kubelvs.testbed import demo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", [pytest.param("nat-rr", id="rr"), pytest.param("nat-wrr", id="wrr")])
def test_nat_gateway_is_on_the_directors_back_interface(name: str) -> None:
    objects = {o["metadata"]["name"]: o for o in demo.load_examples(EXAMPLES)}
    gateway = objects[name]["spec"]["directors"]["gateway"]
    assert gateway == {"address": "10.9.0.100", "interface": "eth1"}


def test_services_without_a_gateway_get_none() -> None:
    objects = demo.load_examples(EXAMPLES)
    without = [o["metadata"]["name"] for o in objects if o["kind"] == "VirtualServer"
               if "gateway" not in o["spec"]["directors"]]  # fmt: skip
    assert without == ["dr-wlc", "tun-wrr", "ha-dr"]


def test_summary_shows_weights_answers_before_and_after_and_gaps() -> None:
    services = {s.name: s for s in demo.services_of(demo.load_examples(EXAMPLES))}
    for service in services.values():
        service.answers = Counter({"rs1": 6, "rs2": 6})
        service.after = Counter({"rs1": 6, "rs2": 6})
        service.gap = 6.25
    services["nat-wrr"].answers = Counter({"rs1": 9, "rs2": 3})
    services["ha-dr"].answers = Counter({"rs2": 12})
    services["ha-dr"].after = Counter({"rs1": 11, "ERR timed out": 1})
    services["tun-wrr"].gap = None

    text = demo.summary(list(services.values()), ("dir-a", "dir-b", 5.31))
    rows = {line.split()[0]: line.split()[4:] for line in text.splitlines()[3:8]}

    assert rows == {
        "nat-rr": ["1/1", "6/6", "6/6", "6.25", "s"],
        "nat-wrr": ["3/1", "9/3", "6/6", "6.25", "s"],
        "dr-wlc": ["1/1", "6/6", "6/6", "6.25", "s"],
        "tun-wrr": ["2/1", "6/6", "6/6", "-"],
        "ha-dr": ["1/1", "0/12", "11/0", "6.25", "s"],
    }
    assert "ha-dr: persistence 50 s" in text
    assert "dir-b held every VIP 5.3 s later" in text
