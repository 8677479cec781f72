"""A service reply's own counters (IPVS_SVC_ATTR_STATS / STATS64) read by ``ipvs_dump`` as pyroute2 reads them.

The bytes are encoded by pyroute2's ``ipvsmsg``; the VM test
``tests/kernel/test_metrics_count_the_real_traffic.py`` holds ``KernelIpvsTable.service_stats()`` equal to
``ipvsadm -Ln --stats --exact`` on real kernel replies.
"""

from __future__ import annotations

from typing import Any

import pytest
from pyroute2.netlink.generic.ipvs import ipvsmsg

from kubelvs.kernel import ipvs_dump as dump
from kubelvs.kernel import ipvs_wire as wire
from kubelvs.kernel import netlink
from kubelvs.netstate import Family, Proto, ServiceKey, ServiceStats

NLMSG_HEADER = 16
BIG = 2**40 + 12345  # beyond 32 bits: only STATS64 carries it
U32_MAX = 0xFFFFFFFF
TCP4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
FWM6 = ServiceKey(Family.INET6, Proto.NONE, "", 0, fwmark=7)


def _stats(name: str, values: dict[str, int]) -> tuple[str, Any]:
    return (name, {"attrs": [(f"IPVS_STATS_ATTR_{field.upper()}", value) for field, value in values.items()]})


def _reply(key: list[tuple[str, Any]], stats: list[tuple[str, Any]]) -> bytes:
    msg = ipvsmsg()
    msg["cmd"] = wire.Cmd.NEW_SERVICE
    msg["version"] = 1
    msg["header"]["type"] = 0x25
    msg["header"]["flags"] = netlink.NLM_F_MULTI
    msg["header"]["sequence_number"] = 9
    attrs = [
        *key,
        ("IPVS_SVC_ATTR_SCHED_NAME", "wlc"),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": 0, "mask": U32_MAX}),
        ("IPVS_SVC_ATTR_TIMEOUT", 0),
        ("IPVS_SVC_ATTR_NETMASK", "255.255.255.255"),
        *stats,
    ]
    msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", {"attrs": attrs})]
    msg.encode()
    return bytes(msg.data)


def _pyroute2_counters(data: bytes) -> ServiceStats:
    msg = ipvsmsg(data)
    msg.decode()
    nest = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
    counters = nest.get_attr("IPVS_SVC_ATTR_STATS64") or nest.get_attr("IPVS_SVC_ATTR_STATS")
    if counters is None:
        return ServiceStats()
    return ServiceStats(*(int(counters.get_attr(f"IPVS_STATS_ATTR_{f.upper()}") or 0) for f in dump.STATS_FIELDS))


TCP4_KEY = [
    ("IPVS_SVC_ATTR_AF", 2),
    ("IPVS_SVC_ATTR_PROTOCOL", 6),
    ("IPVS_SVC_ATTR_ADDR", "192.0.2.100"),
    ("IPVS_SVC_ATTR_PORT", 80),
]
FWM6_KEY = [("IPVS_SVC_ATTR_AF", 10), ("IPVS_SVC_ATTR_FWMARK", 7)]
COUNTING = {f: i + 1 for i, f in enumerate(dump.STATS_FIELDS)}


@pytest.mark.parametrize(
    ("key", "attrs", "stats", "expected"),
    [
        pytest.param(
            TCP4_KEY,
            TCP4,
            [
                _stats("IPVS_SVC_ATTR_STATS", dict.fromkeys(dump.STATS_FIELDS, U32_MAX)),
                _stats("IPVS_SVC_ATTR_STATS64", {f: BIG + i for i, f in enumerate(dump.STATS_FIELDS)}),
            ],
            ServiceStats(*(BIG + i for i in range(len(dump.STATS_FIELDS)))),
            id="stats64-preferred",
        ),
        pytest.param(
            TCP4_KEY,
            TCP4,
            [_stats("IPVS_SVC_ATTR_STATS", COUNTING)],
            ServiceStats(*range(1, 11)),
            id="stats32-only",
        ),
        pytest.param(
            FWM6_KEY,
            FWM6,
            [_stats("IPVS_SVC_ATTR_STATS64", {"conns": 3, "outbytes": BIG})],
            ServiceStats(conns=3, outbytes=BIG),
            id="fwmark6-some-counters",
        ),
        pytest.param(TCP4_KEY, TCP4, [], ServiceStats(), id="no-counters"),
    ],
)
def test_service_counters_parse_as_pyroute2_reads_them(
    key: list[tuple[str, Any]], attrs: ServiceKey, stats: list[tuple[str, Any]], expected: ServiceStats
) -> None:
    data = _reply(key, stats)
    values = dump.Reader(wire.CmdAttr.SERVICE, counters=True).values(data[NLMSG_HEADER:])
    assert dump.service_key(values) == attrs
    assert dump.service_stats(values) == expected == _pyroute2_counters(data)


def test_a_learnt_layout_reads_the_next_service_s_counters() -> None:
    reader = dump.Reader(wire.CmdAttr.SERVICE, counters=True)
    first = _reply(TCP4_KEY, [_stats("IPVS_SVC_ATTR_STATS64", dict.fromkeys(dump.STATS_FIELDS, 1))])
    second = _reply(TCP4_KEY, [_stats("IPVS_SVC_ATTR_STATS64", dict.fromkeys(dump.STATS_FIELDS, BIG))])
    assert dump.service_stats(reader.values(first[NLMSG_HEADER:])) == ServiceStats(*[1] * 10)
    assert dump.service_stats(reader.values(second[NLMSG_HEADER:])) == ServiceStats(*[BIG] * 10)
    assert len(reader.layouts) == 1  # the second reply was read with the layout learnt from the first


def test_the_resync_s_reader_skips_service_counters() -> None:
    data = _reply(TCP4_KEY, [_stats("IPVS_SVC_ATTR_STATS64", COUNTING)])
    values = dump.Reader(wire.CmdAttr.SERVICE).values(data[NLMSG_HEADER:])
    assert dump.service_stats(values) == ServiceStats()  # not descended into: no counters read
