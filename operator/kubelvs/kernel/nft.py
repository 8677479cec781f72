"""The nftables table ``inet kubelvs``: fwmark marking for fwmark services and director-side SNAT.

kube-lvs owns the whole table and rewrites it in one ``nft -f -`` transaction
(``table …; delete table …; table … {…}``), so readers never see half a ruleset and nothing else on the
node (kube-proxy, firewalld) is touched; a change of NAT destinations alone is one transaction of set
elements added and removed (:meth:`NftPacketRules.change_snats`), never a rewrite of ten thousand rules.
The ``nft`` binary (Debian's ``nftables``) is run as a subprocess
because pyroute2's nftables support is too thin for anonymous sets, ``ct`` expressions and masquerade.

- chain ``prerouting`` (filter, priority mangle): ``ip daddr VIP tcp dport { 80, 443 } meta mark set M`` —
  IPVS sees the mark at LOCAL_IN and matches the ``ipvsadm -A -f M`` service.
- chain ``postrouting`` (nat, priority srcnat), one rule per family: ``ip daddr . meta l4proto . th dport .
  ct original ip daddr @snat4 masquerade`` over the set of ``RIP . tcp . P . VIP`` elements — only
  connections to a VIP that IPVS-NAT rewrote to that real server are masqueraded; the director's own
  traffic to the RIP (health checks) keeps its source.
  IPVS traffic only has a conntrack entry (and so only gets NATed) with ``net/ipv4/vs/conntrack=1``:
  the planner must set that sysctl wherever it asks for SNAT rules.

``current`` reads ``nft -j list table inet kubelvs`` back into values; the table not existing means none,
anything in it kube-lvs did not write means None (the reconciler writes the table whole).
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
SETS = {Family.INET: "snat4", Family.INET6: "snat6"}
SET_TYPES = {
    Family.INET: "ipv4_addr . inet_proto . inet_service . ipv4_addr",
    Family.INET6: "ipv6_addr . inet_proto . inet_service . ipv6_addr",
}
# One rule per family, the destinations in a set: a change of endpoints is a few set elements, never a table
# rewrite. The element's last field is the connection's original destination (the VIP IPVS rewrote), so the
# director's own traffic to a real server (a health check) is never masqueraded.
SNAT_RULES = {
    family: f"{ip} daddr . meta l4proto . th dport . ct original {ip} daddr @{SETS[family]} counter masquerade"
    for family, ip in IP.items()
}


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


def snat_element(rule: SnatRule) -> str:
    """One element of the SNAT set: ``RIP . proto . port . VIP``."""
    what = f"SNAT rule {rule.destination}:{rule.port}"
    if rule.protocol not in L4:
        raise ValueError(f"{what}: protocol {rule.protocol!r} must be TCP, UDP or SCTP")
    address = _address(rule.family, rule.destination, what)
    original = _address(rule.family, rule.original, f"{what} (original destination)")
    return f"{address} . {L4[rule.protocol]} . {_port(rule.port, what)} . {original}"


def _elements(snats: Sequence[SnatRule], family: Family) -> list[str]:
    return [snat_element(rule) for rule in snats if rule.family == family]


def _set_lines(name: str, family: Family, elements: list[str]) -> list[str]:
    lines = [f"\tset {name} {{", f"\t\ttype {SET_TYPES[family]}"]
    if elements:
        lines.append("\t\telements = { " + ",\n\t\t\t".join(elements) + " }")
    return [*lines, "\t}"]


def script(marks: Sequence[FwmarkRule], snats: Sequence[SnatRule]) -> str:
    """The whole transaction: (re)create the table, or only delete it when there is nothing to put in it."""
    if len({rule.mark for rule in marks}) != len(marks):
        raise ValueError(f"fwmark rules: marks must be unique, got {sorted(rule.mark for rule in marks)}")
    lines = [f"table inet {TABLE}", f"delete table inet {TABLE}"]
    if marks or snats:
        lines.append(f"table inet {TABLE} {{")
        for family, name in SETS.items():
            lines += _set_lines(name, family, _elements(snats, family))
        lines.append(f"\tchain {MARK_CHAIN} {{")
        lines.append("\t\ttype filter hook prerouting priority mangle; policy accept;")
        lines += [f"\t\t{mark_rule(rule)}" for rule in sorted(marks)]
        lines.append("\t}")
        lines.append(f"\tchain {SNAT_CHAIN} {{")
        lines.append("\t\ttype nat hook postrouting priority srcnat; policy accept;")
        lines += [f"\t\t{rule}" for rule in SNAT_RULES.values()]
        lines.append("\t}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def element_script(add: Sequence[SnatRule], remove: Sequence[SnatRule]) -> str:
    """One transaction of SNAT set elements added and removed (the table as :func:`script` made it)."""
    lines: list[str] = []
    for verb, rules in (("add", add), ("delete", remove)):
        for family, name in SETS.items():
            elements = _elements(rules, family)
            if elements:
                lines.append(f"{verb} element inet {TABLE} {name} {{ " + ", ".join(elements) + " }")
    return "\n".join(lines) + "\n" if lines else ""


# ---- parsing: nft -j output -> values (pure) ----

_PROTOS = {name: proto for proto, name in L4.items()}
_FAMILIES = {name: family for family, name in IP.items()}


def _ports(right: Any) -> tuple[int, ...]:
    if isinstance(right, dict) and "set" in right:
        return tuple(sorted(int(port) for port in right["set"]))
    return (int(right),)


def _fields(expressions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What one of our marking rules says, or None if it has any expression we never write there."""
    seen: dict[str, Any] = {}
    for expression in expressions:
        (kind, body), *_ = expression.items()
        if kind == "counter":
            continue
        if kind == "mangle" and body["key"] == {"meta": {"key": "mark"}}:
            seen["mark"] = int(body["value"])
        elif kind == "match":
            left, right, op = body["left"], body["right"], body["op"]
            payload, meta = left.get("payload", {}), left.get("meta", {})
            if op == "==" and payload.get("field") == "daddr" and payload.get("protocol") in _FAMILIES:
                seen["family"], seen["destination"] = _FAMILIES[payload["protocol"]], str(right)
            elif op == "==" and meta.get("key") == "l4proto" and right in _PROTOS:
                seen["protocol"] = _PROTOS[right]
            elif op == "==" and payload.get("field") == "dport" and payload.get("protocol") in ("th", *_PROTOS):
                seen["ports"] = _ports(right)
                if payload["protocol"] in _PROTOS:  # nft may fold "meta l4proto tcp th dport" into "tcp dport"
                    seen["protocol"] = _PROTOS[payload["protocol"]]
            else:
                return None
        else:
            return None
    return seen


def _snat_rule_family(expressions: list[dict[str, Any]]) -> Family | None:
    """The family of one of the fixed SNAT rules (:data:`SNAT_RULES`), None for any other rule."""
    kinds = [next(iter(expression)) for expression in expressions]
    if kinds != ["match", "counter", "masquerade"]:
        return None
    match = expressions[0]["match"]
    parts = match.get("left", {}).get("concat") if isinstance(match.get("left"), dict) else None
    for family, ip in IP.items():
        wanted = [
            {"payload": {"protocol": ip, "field": "daddr"}},
            {"meta": {"key": "l4proto"}},
            {"payload": {"protocol": "th", "field": "dport"}},
            {"ct": {"key": f"{ip} daddr", "dir": "original"}},
        ]
        if match.get("op") == "==" and parts == wanted and match.get("right") == f"@{SETS[family]}":
            return family
    return None


def _set_elements(item: dict[str, Any], family: Family) -> set[SnatRule] | None:
    """The elements of one of our SNAT sets, None if one of them is not ours to read."""
    found: set[SnatRule] = set()
    for element in item.get("elem") or []:
        value = element.get("elem", {}).get("val", element) if isinstance(element, dict) else element
        parts = value.get("concat") if isinstance(value, dict) else None
        if not isinstance(parts, list) or len(parts) != 4 or parts[1] not in _PROTOS:
            return None
        destination, protocol, port, original = parts
        try:
            found.add(
                SnatRule(
                    family,
                    ipaddress.ip_address(destination).compressed,
                    _PROTOS[protocol],
                    int(port),
                    ipaddress.ip_address(original).compressed,
                )
            )
        except (TypeError, ValueError):
            return None
    return found


def parse(listing: dict[str, Any]) -> tuple[set[FwmarkRule], set[SnatRule]] | None:
    """Turn ``nft -j list table inet kubelvs`` back into rules; None if the table holds anything kube-lvs did
    not write (logged: the reconciler then writes the table whole, which removes it)."""
    marks: set[FwmarkRule] = set()
    snats: set[SnatRule] = set()
    foreign = 0
    families = {name: family for family, name in SETS.items()}
    for item in listing.get("nftables", []):
        if "set" in item and item["set"].get("table") == TABLE:
            family = families.get(item["set"].get("name"))
            elements = _set_elements(item["set"], family) if family is not None else None
            if elements is None:
                logger.warning("table inet %s holds a set kube-lvs did not write: %s", TABLE, item["set"])
                foreign += 1
            else:
                snats |= elements
            continue
        rule = item.get("rule")
        if not rule or rule.get("table") != TABLE:
            continue
        if rule["chain"] == SNAT_CHAIN and _snat_rule_family(rule.get("expr", [])) is not None:
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
        else:
            logger.warning("table inet %s holds a rule kube-lvs did not write: %s", TABLE, rule)
            foreign += 1
    return None if foreign else (marks, snats)


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

    def current(self) -> tuple[set[FwmarkRule], set[SnatRule]] | None:
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

    def change_snats(self, add: Sequence[SnatRule], remove: Sequence[SnatRule]) -> None:
        text = element_script(add, remove)  # validated whole before the kernel sees any of it
        if not text:
            return
        done = self._run(["-f", "-"], stdin=text)
        if done.returncode != 0:
            raise NftError(f"nft rejected the SNAT set elements: {done.stderr.strip()}")
        logger.debug("table inet %s: %d SNAT element(s) added, %d removed", TABLE, len(add), len(remove))
