"""The nftables table ``inet kubelvs``: fwmark marking for fwmark services and director-side SNAT.

kube-lvs owns the whole table and rewrites it in one ``nft -f -`` transaction
(``table …; delete table …; table … {…}``), so readers never see half a ruleset and nothing else on the
node (kube-proxy, firewalld) is touched. The ``nft`` binary (Debian's ``nftables``) is run as a subprocess
because pyroute2's nftables support is too thin for anonymous sets, ``ct`` expressions and masquerade.

- chain ``prerouting`` (filter, priority mangle): ``ip daddr VIP tcp dport { 80, 443 } meta mark set M`` —
  IPVS sees the mark at LOCAL_IN and matches the ``ipvsadm -A -f M`` service.
- chain ``postrouting`` (nat, priority srcnat): ``ip daddr RIP tcp dport P ct original ip daddr != RIP
  masquerade`` — only connections whose original destination was something else (the VIP, rewritten by
  IPVS-NAT) are masqueraded; the director's own traffic to the RIP (health checks) keeps its source.
  IPVS traffic only has a conntrack entry (and so only gets NATed) with ``net/ipv4/vs/conntrack=1``:
  the planner must set that sysctl wherever it asks for SNAT rules.

``current`` reads ``nft -j list table inet kubelvs`` back into values; the table not existing means none.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from kubelvs.netstate import Family, FwmarkRule, Proto, SnatRule

logger = logging.getLogger(__name__)

TABLE = "kubelvs"
MARK_CHAIN = "prerouting"
SNAT_CHAIN = "postrouting"
L4 = {Proto.TCP: "tcp", Proto.UDP: "udp", Proto.SCTP: "sctp"}
IP = {Family.INET: "ip", Family.INET6: "ip6"}


class NftError(RuntimeError):
    """``nft`` failed; the message carries its stderr."""


class NftNotFound(NftError, FileNotFoundError):
    """No ``nft`` binary on PATH."""


# ---- rendering: values -> nft script (pure) ----


def _address(family: Family, value: str, what: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an IP address") from None
    if (address.version == 4) != (family == Family.INET):
        raise ValueError(f"{what}: {value} does not match family {family.name}")
    return address.compressed


def _port(value: int, what: str) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"{what}: port {value} is outside 1..65535")
    return value


def mark_rule(rule: FwmarkRule) -> str:
    what = f"fwmark rule {rule.mark}"
    if not 1 <= rule.mark <= 0xFFFFFFFF:
        raise ValueError(f"{what}: mark must be 1..4294967295")
    words = [IP[rule.family], "daddr", _address(rule.family, rule.destination, what)]
    if rule.protocol != Proto.NONE:
        ports = sorted({_port(port, what) for port in rule.ports})
        words.append(f"meta l4proto {L4[rule.protocol]}")
        if ports:
            words.append(f"th dport {{ {', '.join(map(str, ports))} }}")
    elif rule.ports:
        raise ValueError(f"{what}: ports {rule.ports} need a protocol")
    words += ["counter", f"meta mark set {rule.mark:#x}"]
    return " ".join(words)


def snat_rule(rule: SnatRule) -> str:
    what = f"SNAT rule {rule.destination}:{rule.port}"
    if rule.protocol not in L4:
        raise ValueError(f"{what}: protocol {rule.protocol!r} must be TCP, UDP or SCTP")
    family, address = IP[rule.family], _address(rule.family, rule.destination, what)
    return (
        f"{family} daddr {address} meta l4proto {L4[rule.protocol]} th dport {_port(rule.port, what)}"
        f" ct original {family} daddr != {address} counter masquerade"
    )


def script(marks: Sequence[FwmarkRule], snats: Sequence[SnatRule]) -> str:
    """The whole transaction: (re)create the table, or only delete it when there is nothing to put in it."""
    if len({rule.mark for rule in marks}) != len(marks):
        raise ValueError(f"fwmark rules: marks must be unique, got {sorted(rule.mark for rule in marks)}")
    lines = [f"table inet {TABLE}", f"delete table inet {TABLE}"]
    if marks or snats:
        lines.append(f"table inet {TABLE} {{")
        lines.append(f"\tchain {MARK_CHAIN} {{")
        lines.append("\t\ttype filter hook prerouting priority mangle; policy accept;")
        lines += [f"\t\t{mark_rule(rule)}" for rule in sorted(marks)]
        lines.append("\t}")
        lines.append(f"\tchain {SNAT_CHAIN} {{")
        lines.append("\t\ttype nat hook postrouting priority srcnat; policy accept;")
        lines += [f"\t\t{snat_rule(rule)}" for rule in sorted(snats)]
        lines.append("\t}")
        lines.append("}")
    return "\n".join(lines) + "\n"


# ---- parsing: nft -j output -> values (pure) ----

_PROTOS = {name: proto for proto, name in L4.items()}
_FAMILIES = {name: family for family, name in IP.items()}


def _ports(right: Any) -> tuple[int, ...]:
    if isinstance(right, dict) and "set" in right:
        return tuple(sorted(int(port) for port in right["set"]))
    return (int(right),)


def _fields(expressions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What one of our rules says, or None if it has any expression we never write."""
    seen: dict[str, Any] = {}
    for expression in expressions:
        (kind, body), *_ = expression.items()
        if kind == "counter":
            continue
        if kind == "masquerade":
            seen["masquerade"] = True
        elif kind == "mangle" and body["key"] == {"meta": {"key": "mark"}}:
            seen["mark"] = int(body["value"])
        elif kind == "match":
            left, right, op = body["left"], body["right"], body["op"]
            payload, meta, ct = left.get("payload", {}), left.get("meta", {}), left.get("ct", {})
            if op == "==" and payload.get("field") == "daddr" and payload.get("protocol") in _FAMILIES:
                seen["family"], seen["destination"] = _FAMILIES[payload["protocol"]], str(right)
            elif op == "==" and meta.get("key") == "l4proto" and right in _PROTOS:
                seen["protocol"] = _PROTOS[right]
            elif op == "==" and payload.get("field") == "dport" and payload.get("protocol") in ("th", *_PROTOS):
                seen["ports"] = _ports(right)
                if payload["protocol"] in _PROTOS:  # nft may fold "meta l4proto tcp th dport" into "tcp dport"
                    seen["protocol"] = _PROTOS[payload["protocol"]]
            elif op == "!=" and ct.get("key") in ("ip daddr", "ip6 daddr") and ct.get("dir") == "original":
                seen["original"] = str(right)
            else:
                return None
        else:
            return None
    return seen


def parse(listing: dict[str, Any]) -> tuple[set[FwmarkRule], set[SnatRule]]:
    """Turn ``nft -j list table inet kubelvs`` back into rules; rules we did not write are logged and skipped."""
    marks: set[FwmarkRule] = set()
    snats: set[SnatRule] = set()
    for item in listing.get("nftables", []):
        rule = item.get("rule")
        if not rule or rule.get("table") != TABLE:
            continue
        seen = _fields(rule.get("expr", []))
        if seen and rule["chain"] == MARK_CHAIN and "mark" in seen and "destination" in seen:
            marks.add(
                FwmarkRule(
                    mark=seen["mark"],
                    family=seen["family"],
                    destination=ipaddress.ip_address(seen["destination"]).compressed,
                    protocol=seen.get("protocol", Proto.NONE),
                    ports=seen.get("ports", ()),
                )
            )
        elif (
            seen
            and rule["chain"] == SNAT_CHAIN
            and seen.get("masquerade")
            and seen.get("original") == seen.get("destination")
            and len(seen.get("ports", ())) == 1
            and "protocol" in seen
        ):
            address = ipaddress.ip_address(seen["destination"]).compressed
            snats.add(SnatRule(seen["family"], address, seen["protocol"], seen["ports"][0]))
        else:
            logger.warning("table inet %s holds a rule kube-lvs did not write: %s", TABLE, rule)
    return marks, snats


# ---- the gateway ----


class NftPacketRules:
    """The ``PacketRules`` gateway: ``nft`` run in the current network namespace."""

    def __init__(self, binary: str = "nft") -> None:
        self._binary = binary

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        path = shutil.which(self._binary)
        if path is None:
            raise NftNotFound(f"{self._binary!r} not found on PATH; install the nftables package")
        return subprocess.run([path, *args], input=stdin, capture_output=True, text=True, check=False)

    def current(self) -> tuple[set[FwmarkRule], set[SnatRule]]:
        done = self._run(["-j", "list", "table", "inet", TABLE])
        if done.returncode != 0:
            if "No such file or directory" in done.stderr:
                return set(), set()
            raise NftError(f"nft list table inet {TABLE} failed: {done.stderr.strip()}")
        return parse(json.loads(done.stdout))

    def replace(self, marks: Sequence[FwmarkRule], snats: Sequence[SnatRule]) -> None:
        text = script(marks, snats)  # validates everything before the kernel sees any of it
        done = self._run(["-f", "-"], stdin=text)
        if done.returncode != 0:
            raise NftError(f"nft rejected the kubelvs table: {done.stderr.strip()}\n--- script ---\n{text}")
        logger.info("table inet %s: %d fwmark rule(s), %d SNAT rule(s)", TABLE, len(marks), len(snats))
