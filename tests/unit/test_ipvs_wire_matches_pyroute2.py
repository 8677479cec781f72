"""The lean IPVS packer emits, byte for byte, what pyroute2's encoder emits for the same message."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest
from pyroute2.netlink import genlmsg, nla
from pyroute2.netlink.generic import ipvs as pr

from kubelvs.kernel import ipvs_wire as wire
from kubelvs.netstate import (
    AddDestination,
    AddService,
    DeleteDestination,
    DeleteService,
    Destination,
    DestKey,
    EditDestination,
    EditService,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    SvcFlag,
)

FAMILY_ID = 0x25
SEQ = 4242


def _encode(msg: genlmsg, cmd: int, flags: int) -> bytes:
    msg["cmd"] = cmd
    msg["version"] = 1
    msg["header"]["type"] = FAMILY_ID
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = SEQ
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


def _pr_service_key(key: ServiceKey) -> list[tuple[str, object]]:
    if key.fwmark:
        return [("IPVS_SVC_ATTR_AF", int(key.family)), ("IPVS_SVC_ATTR_FWMARK", key.fwmark)]
    return [
        ("IPVS_SVC_ATTR_AF", int(key.family)),
        ("IPVS_SVC_ATTR_PROTOCOL", int(key.protocol)),
        ("IPVS_SVC_ATTR_ADDR", key.address),
        ("IPVS_SVC_ATTR_PORT", key.port),
    ]


def _pr_netmask(family: Family, prefix: int) -> str:
    # pyroute2 types the netmask "ip4addr"; for IPv6 the kernel reads the same four bytes as a prefix length
    if family == Family.INET6:
        return socket.inet_ntoa(struct.pack("=I", prefix))
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)


def _pr_service(svc: Service) -> list[tuple[str, object]]:
    return [
        *_pr_service_key(svc.key),
        ("IPVS_SVC_ATTR_SCHED_NAME", svc.scheduler),
        ("IPVS_SVC_ATTR_FLAGS", {"flags": int(svc.flags & ~SvcFlag.HASHED), "mask": 0xFFFFFFFF}),
        ("IPVS_SVC_ATTR_TIMEOUT", svc.timeout),
        ("IPVS_SVC_ATTR_NETMASK", _pr_netmask(svc.key.family, svc.netmask)),
    ]


def _pr_dest_key(key: DestKey, family: Family | None) -> list[tuple[str, object]]:
    family = family or (Family.INET6 if ":" in key.address else Family.INET)
    return [
        ("IPVS_DEST_ATTR_ADDR_FAMILY", int(family)),
        ("IPVS_DEST_ATTR_ADDR", key.address),
        ("IPVS_DEST_ATTR_PORT", key.port),
    ]


def _pr_dest(dest: Destination) -> list[tuple[str, object]]:
    return [
        *_pr_dest_key(dest.key, dest.family),
        ("IPVS_DEST_ATTR_FWD_METHOD", int(dest.forwarding)),
        ("IPVS_DEST_ATTR_WEIGHT", dest.weight),
        ("IPVS_DEST_ATTR_U_THRESH", dest.upper_threshold),
        ("IPVS_DEST_ATTR_L_THRESH", dest.lower_threshold),
    ]


CREATE = 0x1 | 0x4 | 0x400 | 0x200
CHANGE = 0x1 | 0x4 | 0x100
REQUEST = 0x1 | 0x4


def pyroute2_encoding(op: object) -> bytes:
    msg = pr.ipvsmsg()
    match op:
        case AddService(svc) | EditService(svc):
            msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", {"attrs": _pr_service(svc)})]
            add = isinstance(op, AddService)
            return _encode(
                msg, pr.IPVS_CMD_NEW_SERVICE if add else pr.IPVS_CMD_SET_SERVICE, CREATE if add else CHANGE
            )
        case DeleteService(key):
            msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", {"attrs": _pr_service_key(key)})]
            return _encode(msg, pr.IPVS_CMD_DEL_SERVICE, REQUEST)
        case AddDestination(dest) | EditDestination(dest):
            msg["attrs"] = [
                ("IPVS_CMD_ATTR_SERVICE", {"attrs": _pr_service_key(dest.key.service)}),
                ("IPVS_CMD_ATTR_DEST", {"attrs": _pr_dest(dest)}),
            ]
            add = isinstance(op, AddDestination)
            return _encode(msg, pr.IPVS_CMD_NEW_DEST if add else pr.IPVS_CMD_SET_DEST, CREATE if add else CHANGE)
        case DeleteDestination(key):
            msg["attrs"] = [
                ("IPVS_CMD_ATTR_SERVICE", {"attrs": _pr_service_key(key.service)}),
                ("IPVS_CMD_ATTR_DEST", {"attrs": _pr_dest_key(key, None)}),
            ]
            return _encode(msg, pr.IPVS_CMD_DEL_DEST, REQUEST)
    raise AssertionError(op)


TCP4 = ServiceKey(Family.INET, Proto.TCP, "192.0.2.100", 80)
UDP4 = ServiceKey(Family.INET, Proto.UDP, "192.0.2.100", 53)
SCTP4 = ServiceKey(Family.INET, Proto.SCTP, "192.0.2.100", 3868)
TCP6 = ServiceKey(Family.INET6, Proto.TCP, "2001:db8::100", 443)
FWM4 = ServiceKey(Family.INET, Proto.NONE, "", 0, fwmark=7)
FWM6 = ServiceKey(Family.INET6, Proto.NONE, "", 0, fwmark=0xFFFFFFFF)
P = SvcFlag.PERSISTENT

SERVICES = [
    pytest.param(Service(TCP4), id="tcp4-defaults"),
    pytest.param(Service(UDP4, scheduler="rr"), id="udp4-rr"),
    pytest.param(Service(SCTP4, scheduler="lblcr"), id="sctp4-lblcr"),
    pytest.param(Service(TCP6, scheduler="mh", netmask=128), id="tcp6"),
    pytest.param(Service(FWM4, scheduler="wrr"), id="fwmark4"),
    pytest.param(Service(FWM6, scheduler="sh", netmask=64), id="fwmark6-max-mark"),
    pytest.param(Service(TCP4, flags=P, timeout=300, netmask=24), id="persistence-netmask-24"),
    pytest.param(Service(TCP4, flags=P, timeout=1, netmask=0), id="persistence-netmask-0"),
    pytest.param(Service(TCP6, flags=P, timeout=3600, netmask=48), id="persistence-v6-prefix-48"),
    pytest.param(Service(TCP4, scheduler="sh", flags=SvcFlag.SCHED1 | SvcFlag.SCHED2), id="sh-fallback-port"),
    pytest.param(Service(UDP4, flags=SvcFlag.ONEPACKET), id="one-packet"),
    pytest.param(Service(TCP4, flags=P | SvcFlag.HASHED, timeout=60), id="hashed-flag-dropped"),
    pytest.param(Service(TCP4, scheduler="lblc"), id="odd-length-scheduler"),
]

DESTINATIONS = [
    pytest.param(Destination(DestKey(TCP4, "10.9.0.11", 8080), forwarding=Fwd.MASQ), id="nat"),
    pytest.param(Destination(DestKey(TCP4, "10.9.0.11", 80)), id="dr-default"),
    pytest.param(Destination(DestKey(TCP4, "198.51.100.7", 80), forwarding=Fwd.TUNNEL), id="tun"),
    pytest.param(Destination(DestKey(TCP4, "127.0.0.1", 80), forwarding=Fwd.LOCALNODE), id="local"),
    pytest.param(Destination(DestKey(TCP4, "10.9.0.12", 80), weight=0), id="weight-0-quiesced"),
    pytest.param(Destination(DestKey(TCP4, "10.9.0.12", 80), weight=65535), id="weight-max"),
    pytest.param(
        Destination(DestKey(TCP4, "10.9.0.13", 80), upper_threshold=1000, lower_threshold=200), id="thresholds"
    ),
    pytest.param(Destination(DestKey(TCP6, "2001:db8:9::11", 443), forwarding=Fwd.MASQ), id="v6-nat"),
    pytest.param(Destination(DestKey(FWM4, "10.9.0.11", 0)), id="fwmark-port-0"),
    pytest.param(Destination(DestKey(FWM6, "2001:db8:9::11", 0)), id="fwmark6"),
    pytest.param(
        Destination(DestKey(TCP6, "198.51.100.7", 443), forwarding=Fwd.TUNNEL, family=Family.INET),
        id="tun-v4-dest-in-v6-service",
    ),
    pytest.param(Destination(DestKey(UDP4, "10.9.0.11", 65535), forwarding=Fwd.MASQ), id="udp-port-max"),
]


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", [AddService, EditService], ids=["new", "set"])
def test_service_messages_match(kind, service):
    op = kind(service)
    assert wire.op_message(op, FAMILY_ID, SEQ) == pyroute2_encoding(op)


@pytest.mark.parametrize("service", SERVICES)
def test_service_delete_carries_only_the_key(service):
    op = DeleteService(service.key)
    assert wire.op_message(op, FAMILY_ID, SEQ) == pyroute2_encoding(op)


@pytest.mark.parametrize("dest", DESTINATIONS)
@pytest.mark.parametrize("kind", [AddDestination, EditDestination], ids=["new", "set"])
def test_destination_messages_match(kind, dest):
    op = kind(dest)
    assert wire.op_message(op, FAMILY_ID, SEQ) == pyroute2_encoding(op)


@pytest.mark.parametrize("dest", DESTINATIONS)
def test_destination_delete_carries_only_the_keys(dest):
    op = DeleteDestination(dest.key)
    assert wire.op_message(op, FAMILY_ID, SEQ) == pyroute2_encoding(op)


# pyroute2 types the daemon nest and the timeouts as opaque "hex"; the same layout in its own nla classes:
class _DaemonMsg(genlmsg):
    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "hex"),
        ("IPVS_CMD_ATTR_DEST", "hex"),
        ("IPVS_CMD_ATTR_DAEMON", "daemon"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class daemon(nla):
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
        )


@pytest.mark.parametrize(
    ("state", "code", "interface", "syncid"),
    [
        pytest.param("master", 1, "eth0", 0, id="master"),
        pytest.param("backup", 2, "bond0.100", 255, id="backup-odd-name"),
        pytest.param("master", 1, "abcdefghijklmno", 7, id="longest-name"),
    ],
)
def test_sync_daemon_start_and_stop_match(state, code, interface, syncid):
    msg = _DaemonMsg()
    msg["attrs"] = [
        (
            "IPVS_CMD_ATTR_DAEMON",
            {
                "attrs": [
                    ("IPVS_DAEMON_ATTR_STATE", code),
                    ("IPVS_DAEMON_ATTR_MCAST_IFN", interface),
                    ("IPVS_DAEMON_ATTR_SYNC_ID", syncid),
                ]
            },
        )
    ]
    assert wire.start_daemon_message(FAMILY_ID, SEQ, state, interface, syncid) == _encode(
        msg, pr.IPVS_CMD_NEW_DAEMON, REQUEST
    )
    msg = _DaemonMsg()
    msg["attrs"] = [("IPVS_CMD_ATTR_DAEMON", {"attrs": [("IPVS_DAEMON_ATTR_STATE", code)]})]
    assert wire.stop_daemon_message(FAMILY_ID, SEQ, state) == _encode(msg, pr.IPVS_CMD_DEL_DAEMON, REQUEST)


def test_timeouts_match():
    msg = _DaemonMsg()
    msg["attrs"] = [
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", 900),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", 0),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", 300),
    ]
    assert wire.config_message(FAMILY_ID, SEQ, 900, 0, 300) == _encode(msg, pr.IPVS_CMD_SET_CONFIG, REQUEST)
