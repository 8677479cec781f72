"""keepalived.conf -> VirtualServer / RealServer objects, with a note for everything left behind.

Mapped: ``virtual_server IP PORT`` / ``virtual_server fwmark N`` with lb_algo, lb_kind, protocol,
persistence_timeout, persistence_granularity, ops, scheduler flags, delay_loop; ``real_server`` with
weight, inhibit_on_failure, uthreshold/lthreshold; TCP_CHECK, HTTP_GET, SSL_GET (url path and
status_code, virtualhost, connect_port, connect_timeout, nb_get_retry/retry, delay_before_retry);
``vrrp_instance`` virtual_ipaddress/interface/priority become the directors' interface and a hint for
``directors.preferred`` (kube-lvs elects with Leases among nodes, not among keepalived instances).

keepalived checks each real server with its own checker; kube-lvs checks every real server of a
VirtualServer the same way, so the first real server's checker is taken and any difference is noted.
Values keepalived defaults and kube-lvs defaults differently (delay_loop 60 s) are written out.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any

from kubelvs import API_VERSION
from kubelvs.api.enums import Scheduler
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.formats import keepalived_syntax, naming
from kubelvs.formats.keepalived_syntax import Statement
from kubelvs.formats.manifests import Document
from kubelvs.formats.notes import Level, Note
from kubelvs.formats.tables import NAT_NOTE
from kubelvs.netstate import DestKey, Family, Proto, ServiceKey

logger = logging.getLogger(__name__)

KEEPALIVED_DELAY_LOOP = 60.0  # keepalived's default delay_loop, kept so behaviour does not change silently
_LB_KIND = {"NAT": "nat", "DR": "dr", "TUN": "tun"}
_CHECKERS = {"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https"}
_UNSUPPORTED_CHECKERS = {"MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "PING_CHECK", "UDP_CHECK"}
_UNSUPPORTED_CHECKERS |= {"FILE_CHECK"}
_SCHED_FLAG_WORDS = {"sh-port", "sh-fallback", "mh-port", "mh-fallback", "flag-1", "flag-2"}


@dataclass
class Converted:
    documents: list[Document] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def note(self, line: int, keyword: str, message: str, level: Level = Level.WARNING) -> None:
        self.notes.append(Note(line, keyword, message, level))


@dataclass
class _Vrrp:
    name: str
    line: int
    state: str = ""
    priority: int = 100
    interface: str | None = None
    addresses: list[tuple[str, str | None, int]] = field(default_factory=list)  # address, dev, line


@dataclass
class _Real:
    """One real_server block: its RealServer spec, its checker (if any) and inhibit_on_failure."""

    statement: Statement
    spec: dict[str, Any]
    checker: Statement | None
    inhibit: bool


def _seconds(statement: Statement, out: Converted) -> float | None:
    try:
        value = float(statement.args[0])
    except (IndexError, ValueError):
        out.note(
            statement.line, statement.keyword, f"needs a number of seconds, got {statement.args}", Level.ERROR
        )
        return None
    if value <= 0:
        out.note(statement.line, statement.keyword, f"{value} must be above zero", Level.ERROR)
        return None
    return value


def _integer(statement: Statement, out: Converted) -> int | None:
    try:
        return int(statement.args[0])
    except (IndexError, ValueError):
        out.note(statement.line, statement.keyword, f"needs an integer, got {statement.args}", Level.ERROR)
        return None


def convert(text: str, source: str, namespace: str) -> Converted:
    """Every virtual_server of a keepalived.conf as objects; notes for the rest."""
    out = Converted()
    syntax = keepalived_syntax.parse(text)
    for line, message in syntax.errors:
        out.note(line, "{", message, Level.ERROR)
    vrrps: list[_Vrrp] = []
    servers: list[Statement] = []
    for statement in syntax.statements:
        if statement.keyword == "vrrp_instance":
            vrrps.append(_vrrp(statement, out))
        elif statement.keyword == "virtual_server":
            servers.append(statement)
        elif statement.keyword == "include":
            out.note(
                statement.line,
                "include",
                f"{' '.join(statement.args)} is not read: import that file separately",
            )
        elif statement.keyword == "global_defs":
            out.note(statement.line, "global_defs", "global settings have no kube-lvs equivalent; ignored")
        else:
            out.note(statement.line, statement.keyword, "has no kube-lvs equivalent; ignored")
    claimed: dict[str, int] = {}
    vips = {_vip(s) for s in servers} - {None}
    used: set[str] = set()
    for statement in servers:
        _virtual_server(statement, vrrps, claimed, (vips, used), source, namespace, out)
    for vrrp in vrrps:
        for address, _, line in vrrp.addresses:
            if address not in vips and address not in used:
                out.note(
                    line,
                    "virtual_ipaddress",
                    f"{address} (vrrp_instance {vrrp.name}) is no virtual_server's address; "
                    "if NAT real servers route through it, it is a VirtualServer's spec.directors.gateway",
                    Level.INFO,
                )
    return out


def _vip(statement: Statement) -> str | None:
    try:
        return ipaddress.ip_address(statement.args[0]).compressed
    except (IndexError, ValueError):
        return None


def _vrrp(statement: Statement, out: Converted) -> _Vrrp:
    vrrp = _Vrrp(statement.args[0] if statement.args else "?", statement.line)
    for item in statement.inner():
        keyword = item.keyword
        if keyword == "state" and item.args:
            vrrp.state = item.args[0].upper()
        elif keyword == "priority":
            vrrp.priority = _integer(item, out) or vrrp.priority
        elif keyword == "interface" and item.args:
            vrrp.interface = item.args[0]
        elif keyword == "virtual_ipaddress":
            for entry in item.inner():
                words = [entry.keyword, *entry.args]
                try:
                    address = ipaddress.ip_interface(words[0]).ip.compressed
                except ValueError:
                    out.note(entry.line, words[0], "is not an address; ignored", Level.ERROR)
                    continue
                dev = words[words.index("dev") + 1] if "dev" in words[:-1] else None
                vrrp.addresses.append((address, dev, entry.line))
        elif keyword == "advert_int":
            out.note(item.line, keyword, "failover timing is the agent's Lease timing (Helm election.*); ignored")
        else:
            out.note(
                item.line,
                keyword,
                "VRRP setting with no kube-lvs equivalent (directors elect with a Kubernetes Lease); ignored",
            )
    return vrrp


def _directors(
    vip: str | None, vrrps: list[_Vrrp], spec: dict[str, Any], comments: list[str], out: Converted, line: int
) -> None:
    """VIP found in vrrp_instances -> directors.interface, and a preferred-order hint."""
    holders = sorted(
        ((v, dev) for v in vrrps for address, dev, _ in v.addresses if address == vip),
        key=lambda pair: -pair[0].priority,
    )
    if not holders:
        return
    first, dev = holders[0]
    interface = dev or first.interface
    if interface:
        spec["directors"] = {"interface": interface}
    order = ", ".join(f"{v.name} ({v.state or '?'}, priority {v.priority}, line {v.line})" for v, _ in holders)
    hint = (
        f"directors: keepalived held {vip} with {order}; label those nodes for spec.directors.nodeSelector "
        "and list them in spec.directors.preferred in that order"
    )
    comments.append(hint)
    out.note(line, "vrrp_instance", hint, Level.INFO)


def _gateway_candidates(vrrps: list[_Vrrp], vips: set[str | None], family: Family) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for vrrp in vrrps:
        for address, dev, _ in vrrp.addresses:
            version = ipaddress.ip_address(address).version
            same_family = (version == 6) == (family == Family.INET6)
            if address not in vips and same_family and address not in [a for a, _ in found]:
                found.append((address, dev or vrrp.interface))
    return found


def _virtual_server(
    statement: Statement,
    vrrps: list[_Vrrp],
    claimed: dict[str, int],
    addresses: tuple[set[str | None], set[str]],
    source: str,
    namespace: str,
    out: Converted,
) -> None:
    line = statement.line
    args = statement.args
    spec: dict[str, Any] = {}
    vip: str | None = None
    if len(args) == 2 and args[0] == "fwmark":
        if not args[1].isdigit() or int(args[1]) < 1:
            out.note(line, "fwmark", f"{args[1]!r} is not a firewall mark (1..4294967295)", Level.ERROR)
            return
        spec["fwmark"] = int(args[1])
    elif len(args) >= 1 and args[0] == "group":
        out.note(line, "virtual_server group", "virtual_server_group has no kube-lvs equivalent; skipped")
        return
    elif len(args) == 2:
        try:
            vip = ipaddress.ip_address(args[0]).compressed
        except ValueError:
            out.note(line, "virtual_server", f"{args[0]!r} is not an IP address; skipped", Level.ERROR)
            return
        if not args[1].isdigit() or int(args[1]) > 65535:
            out.note(line, "virtual_server", f"{args[1]!r} is not a port (0..65535); skipped", Level.ERROR)
            return
        spec.update(address=vip, port=int(args[1]), protocol="TCP")
    else:
        out.note(line, "virtual_server", "expects 'IP PORT' or 'fwmark N'; skipped", Level.ERROR)
        return
    check_defaults: dict[str, Any] = {}
    reals: list[Statement] = []
    flags: list[str] = []
    family_hint: str | None = None
    for item in statement.inner():
        keyword = item.keyword
        value = item.args[0] if item.args else ""
        if keyword == "real_server":
            reals.append(item)
        elif keyword in ("lb_algo", "lvs_sched"):
            if value not in {s.value for s in Scheduler}:
                out.note(item.line, keyword, f"{value!r} is not an IPVS scheduler", Level.ERROR)
                return
            spec["scheduler"] = value
        elif keyword in ("lb_kind", "lvs_method"):
            if value.upper() not in _LB_KIND:
                out.note(item.line, keyword, f"{value!r} is not NAT, DR or TUN", Level.ERROR)
                return
            spec["forwarding"] = _LB_KIND[value.upper()]
        elif keyword == "protocol":
            if value.upper() not in ("TCP", "UDP", "SCTP"):
                out.note(item.line, keyword, f"{value!r} is not TCP, UDP or SCTP", Level.ERROR)
                return
            if "fwmark" in spec:
                out.note(item.line, keyword, "a fwmark service has no protocol of its own; ignored")
            else:
                spec["protocol"] = value.upper()
        elif keyword == "persistence_timeout":
            timeout = _integer(item, out)
            if timeout is not None:
                spec.setdefault("persistence", {})["timeout"] = timeout
        elif keyword == "persistence_granularity":
            spec.setdefault("persistence", {})["netmask"] = value if "." in value else f"/{value.lstrip('/')}"
        elif keyword == "ops":
            spec["onePacket"] = True
        elif keyword in _SCHED_FLAG_WORDS:
            flags.append(keyword)
        elif keyword == "ip_family":
            family_hint = value
        elif keyword == "delay_loop":
            check_defaults["interval"] = _seconds(item, out)
        elif keyword in ("retry", "nb_get_retry"):
            check_defaults["retries"] = _integer(item, out)
        elif keyword == "delay_before_retry":
            check_defaults["delayBeforeRetry"] = _seconds(item, out)
        elif keyword == "connect_timeout":
            check_defaults["connectTimeout"] = _seconds(item, out)
        elif keyword == "virtualhost":
            check_defaults["host"] = value
        elif keyword == "inhibit_on_failure":
            check_defaults["inhibit"] = True
        else:
            out.note(item.line, keyword, "virtual_server setting with no kube-lvs equivalent; ignored")
    if spec.get("persistence") is not None and "timeout" not in spec["persistence"]:
        spec["persistence"]["timeout"] = 360  # keepalived's default persistence_timeout
    if flags:
        scheduler = spec.get("scheduler", "wlc")
        generic = {"flag-1": f"{scheduler}-fallback", "flag-2": f"{scheduler}-port"}
        spec["schedulerFlags"] = [generic.get(f, f) for f in flags]
    key = _service_key(spec, reals, family_hint)
    identity = str(key)
    if identity in claimed:
        out.note(line, "virtual_server", f"{identity} is already defined on line {claimed[identity]}", Level.ERROR)
        return
    claimed[identity] = line
    name = naming.service_name(key)
    comments = [f"{source}:{line}: virtual_server {' '.join(args)}"]
    _directors(vip, vrrps, spec, comments, out, line)
    dests = [d for d in (_real_server(item, spec, out) for item in reals) if d is not None]
    health = _health_check(dests, check_defaults, out, line)
    if health is not None:
        spec["healthCheck"] = health
    elif set(check_defaults) - {"inhibit"}:
        out.note(
            line, "delay_loop", "checker settings but no real_server has a checker: nothing to check; ignored"
        )
    if spec.get("forwarding") == "nat" or any(d.spec.get("forwarding") == "nat" for d in dests):
        gateway = _nat_return_path(spec, vrrps, addresses[0], key.family, out, line, comments)
        if gateway:
            addresses[1].add(gateway)
    vs = _checked("VirtualServer", name, namespace, spec, line, out)
    if vs is None:
        return
    out.documents.append(Document(vs, tuple(comments)))
    for dest in dests:
        item, rs_spec = dest.statement, dest.spec
        rs_spec["virtualServer"] = name
        rs_key = DestKey(key, rs_spec["address"], rs_spec.get("port", spec.get("port", 0)))
        rs = _checked("RealServer", naming.destination_name(rs_key), namespace, rs_spec, item.line, out)
        if rs is not None:
            out.documents.append(Document(rs, (f"{source}:{item.line}: real_server {' '.join(item.args)}",)))


def _service_key(spec: dict[str, Any], reals: list[Statement], family_hint: str | None) -> ServiceKey:
    if "fwmark" in spec:
        first_real_v6 = bool(reals and reals[0].args and ":" in reals[0].args[0])
        v6 = family_hint == "inet6" or (family_hint is None and first_real_v6)
        family = Family.INET6 if v6 else Family.INET
        if family == Family.INET6:
            spec["addressFamily"] = "IPv6"
        return ServiceKey(family, Proto.NONE, "", 0, spec["fwmark"])
    family = Family.INET6 if ":" in spec["address"] else Family.INET
    return ServiceKey(family, Proto[spec["protocol"]], spec["address"], spec["port"])


def _real_server(item: Statement, vs_spec: dict[str, Any], out: Converted) -> _Real | None:
    """One real_server block, or None (with an error note) when it cannot be read."""
    args = item.args
    try:
        address = ipaddress.ip_address(args[0]).compressed
    except (IndexError, ValueError):
        out.note(
            item.line, "real_server", f"{' '.join(args)!r} does not start with an IP address; skipped", Level.ERROR
        )
        return None
    rs: dict[str, Any] = {"address": address}
    vs_port = vs_spec.get("port", 0)
    if len(args) > 1:
        if not args[1].isdigit() or int(args[1]) > 65535:
            out.note(item.line, "real_server", f"{args[1]!r} is not a port; skipped", Level.ERROR)
            return None
        port = int(args[1])
        forwarding = vs_spec.get("forwarding", "dr")
        if forwarding in ("dr", "tun") and "fwmark" not in vs_spec and port != vs_port:
            out.note(
                item.line,
                "real_server",
                f"port {port}: {forwarding} cannot remap ports; the kernel uses the service's port {vs_port}",
            )
        elif port != vs_port:
            rs["port"] = port
    checker: Statement | None = None
    inhibit = False
    for inner in item.inner():
        keyword = inner.keyword
        if keyword == "weight":
            weight = _integer(inner, out)
            if weight is not None and weight != 1:
                rs["weight"] = weight
        elif keyword == "inhibit_on_failure":
            inhibit = True
        elif keyword == "uthreshold":
            rs["upperThreshold"] = _integer(inner, out)
        elif keyword == "lthreshold":
            rs["lowerThreshold"] = _integer(inner, out)
        elif keyword in ("lb_kind", "lvs_method") and inner.args and inner.args[0].upper() in _LB_KIND:
            if _LB_KIND[inner.args[0].upper()] != vs_spec.get("forwarding", "dr"):
                rs["forwarding"] = _LB_KIND[inner.args[0].upper()]
        elif keyword in _CHECKERS:
            if checker is not None:
                out.note(inner.line, keyword, f"a second checker (first: line {checker.line}); ignored")
            else:
                checker = inner
        elif keyword in _UNSUPPORTED_CHECKERS:
            out.note(inner.line, keyword, "checker has no kube-lvs equivalent (tcp, http, https); ignored")
        else:
            out.note(inner.line, keyword, "real_server setting with no kube-lvs equivalent; ignored")
    return _Real(item, rs, checker, inhibit)


def _checker(checker: Statement, defaults: dict[str, Any], out: Converted) -> dict[str, Any]:
    """One TCP_CHECK / HTTP_GET / SSL_GET block as a healthCheck mapping (keepalived's defaults kept)."""
    check: dict[str, Any] = {"type": _CHECKERS[checker.keyword], "interval": KEEPALIVED_DELAY_LOOP}
    for name in ("interval", "retries", "delayBeforeRetry", "connectTimeout"):
        if defaults.get(name) is not None:
            check[name] = defaults[name]
    http: dict[str, Any] = {}
    if defaults.get("host") and check["type"] != "tcp":
        http["host"] = defaults["host"]
    urls = 0
    for item in checker.inner():
        keyword = item.keyword
        if keyword == "connect_port":
            check["port"] = _integer(item, out)
        elif keyword == "connect_timeout":
            check["connectTimeout"] = _seconds(item, out)
        elif keyword in ("nb_get_retry", "retry"):
            check["retries"] = _integer(item, out)
        elif keyword == "delay_before_retry":
            check["delayBeforeRetry"] = _seconds(item, out)
        elif keyword == "delay_loop":
            check["interval"] = _seconds(item, out)
        elif keyword == "virtualhost" and check["type"] != "tcp":
            http["host"] = item.args[0] if item.args else None
        elif keyword == "url" and check["type"] != "tcp":
            urls += 1
            if urls > 1:
                out.note(item.line, "url", "kube-lvs checks one url per VirtualServer; this one is ignored")
                continue
            http.update(_url(item, out))
        else:
            out.note(item.line, keyword, f"{checker.keyword} setting with no kube-lvs equivalent; ignored")
    if check["type"] != "tcp":
        check["http"] = http
    return {k: v for k, v in check.items() if v is not None}


def _url(url: Statement, out: Converted) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in url.inner():
        if item.keyword == "path" and item.args:
            result["path"] = item.args[0]
        elif item.keyword == "status_code":
            codes: list[int] = []
            for word in item.args:
                low, _, high = word.partition("-")
                if low.isdigit() and (not high or high.isdigit()):
                    codes.extend(range(int(low), int(high or low) + 1))
                else:
                    out.note(item.line, "status_code", f"{word!r} is not a status code or range", Level.ERROR)
            if codes:
                result["expectStatus"] = codes
        elif item.keyword == "virtualhost" and item.args:
            result["host"] = item.args[0]
        else:
            out.note(
                item.line, item.keyword, "url setting with no kube-lvs equivalent (path, status_code); ignored"
            )
    return result


def _health_check(
    reals: list[_Real], defaults: dict[str, Any], out: Converted, line: int
) -> dict[str, Any] | None:
    """The first real server's checker for the whole VirtualServer; differences are noted."""
    checked = [(real, real.checker) for real in reals if real.checker is not None]
    if not checked:
        return None
    first, first_checker = checked[0]
    check = _checker(first_checker, defaults, out)
    for _, checker in checked[1:]:
        if _checker(checker, defaults, Converted()) != check:  # its own notes were given with the first
            out.note(
                checker.line,
                checker.keyword,
                f"differs from the checker of real_server line {first.statement.line}; kube-lvs checks every "
                "real server of a VirtualServer alike: the first one's settings are used",
            )
    for real in reals:
        if real.checker is None:
            out.note(
                real.statement.line,
                "real_server",
                "has no checker but its VirtualServer's health check applies to it",
            )
    inhibits = {real.inhibit or bool(defaults.get("inhibit")) for real, _ in checked}
    if len(inhibits) > 1:
        out.note(line, "inhibit_on_failure", "set on some real servers only; kube-lvs quiesces all of them")
    check["onFailure"] = "quiesce" if True in inhibits else "remove"
    return check


def _nat_return_path(
    spec: dict[str, Any],
    vrrps: list[_Vrrp],
    vips: set[str | None],
    family: Family,
    out: Converted,
    line: int,
    comments: list[str],
) -> str | None:
    """keepalived's NAT setups route real servers through a second VRRP address: that is the gateway."""
    candidates = _gateway_candidates(vrrps, vips, family)
    if len(candidates) == 1:
        address, interface = candidates[0]
        gateway: dict[str, Any] = {"address": address}
        if interface:
            gateway["interface"] = interface
        spec.setdefault("directors", {})["gateway"] = gateway
        message = f"NAT: real servers return through the VRRP address {address}: directors.gateway"
        comments.append(message)
        out.note(line, "lb_kind", message, Level.INFO)
        return address
    spec["natReturnPath"] = "none"
    out.note(line, "lb_kind", NAT_NOTE, Level.INFO)
    return None


def _checked(
    kind: str, name: str, namespace: str, spec: dict[str, Any], line: int, out: Converted
) -> VirtualServer | RealServer | None:
    raw = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    parsed = parse_object(raw)
    if isinstance(parsed, list):
        for problem in parsed:
            out.note(line, kind, f"rejected by the API: {problem}", Level.ERROR)
        return None
    return parsed
