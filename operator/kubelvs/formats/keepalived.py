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

Each block level has its own table of keyword -> handler, as keepalived's parser installs one handler per
keyword per level (``install_keyword("lb_algo", ...)`` in its check_parser.c): a handler reads one statement
into its block's scope; a keyword no handler takes is a warning naming it and its line.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kubelvs import API_VERSION
from kubelvs.api.durations import format_duration
from kubelvs.api.enums import Scheduler
from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.api.objects import parse_object
from kubelvs.formats import keepalived_syntax, naming, reading
from kubelvs.formats.keepalived_syntax import Statement
from kubelvs.formats.manifests import Document
from kubelvs.formats.notes import Level, Note
from kubelvs.formats.reading import shown, word
from kubelvs.formats.tables import NAT_NOTE
from kubelvs.netstate import DestKey, Family, Proto, ServiceKey

logger = logging.getLogger(__name__)

KEEPALIVED_DELAY_LOOP = 60.0  # keepalived's default delay_loop, kept so behaviour does not change silently
_LB_KIND = {"NAT": "nat", "DR": "dr", "TUN": "tun"}
_CHECKERS = {"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https"}
_UNSUPPORTED_CHECKERS = {"MISC_CHECK", "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "PING_CHECK", "UDP_CHECK"}
_UNSUPPORTED_CHECKERS |= {"FILE_CHECK"}
_SCHED_FLAG_WORDS = {"sh-port", "sh-fallback", "mh-port", "mh-fallback", "flag-1", "flag-2"}
HTTP_STATUS = range(100, 600)  # what an HTTP status code can be, so a status_code range is bounded
MAX_FWMARK = 2**32 - 1
_DURATIONS = frozenset({"interval", "connectTimeout", "delayBeforeRetry"})  # healthCheck fields, in seconds


@dataclass
class Converted:
    documents: list[Document] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def note(self, line: int, keyword: str, message: str, level: Level = Level.WARNING) -> None:
        reading.add_note(self.notes, line, keyword, message, level)


@dataclass
class _Vrrp:
    name: str
    line: int
    state: str = ""
    priority: int = 100
    interface: str | None = None
    addresses: list[tuple[str, str | None, int]] = field(default_factory=list)  # address, dev, line


@dataclass
class _Held:
    """The vrrp_instances' addresses indexed once, so each virtual_server looks its VIP up, not scans."""

    vrrps: list[_Vrrp]
    holders: dict[str, list[tuple[_Vrrp, str | None]]] = field(default_factory=dict)  # in file order
    gateways: dict[Family, list[tuple[str, str | None]]] = field(default_factory=dict)

    @classmethod
    def index(cls, vrrps: list[_Vrrp]) -> _Held:
        held = cls(vrrps)
        for vrrp in vrrps:
            for address, dev, _ in vrrp.addresses:
                held.holders.setdefault(address, []).append((vrrp, dev))
        return held


@dataclass
class _Real:
    """One real_server block: its RealServer spec, its checker (if any) and inhibit_on_failure."""

    statement: Statement
    spec: dict[str, Any]
    checker: Statement | None
    inhibit: bool


def _extra(statement: Statement, out: Converted) -> None:
    """Words after a keyword's one value: warned about and left, as the importer always left them."""
    if len(statement.args) > 1:
        out.note(
            statement.line, statement.keyword, f"{shown(' '.join(statement.args[1:]))} after the value; ignored"
        )


def _refused(statement: Statement, out: Converted, wanted: str) -> None:
    got = shown(statement.args[0]) if statement.args else "nothing"
    out.note(statement.line, statement.keyword, f"needs {wanted}, got {got}", Level.ERROR)


def _seconds(statement: Statement, out: Converted) -> float | None:
    value = reading.decimal(statement.args[0]) if statement.args else None
    if value is None:
        _refused(statement, out, "a number of seconds (ASCII digits, like 6 or 1.5)")
        return None
    if value <= 0:
        out.note(statement.line, statement.keyword, f"{value} must be above zero", Level.ERROR)
        return None
    _extra(statement, out)
    return value


def _integer(statement: Statement, out: Converted) -> int | None:
    value = reading.integer(statement.args[0]) if statement.args else None
    if value is None:
        _refused(statement, out, f"an integer (ASCII digits, at most {reading.MAX_DIGITS})")
        return None
    _extra(statement, out)
    return value


def _port(text: str) -> int | None:
    value = reading.integer(text)
    return value if value is not None and 0 <= value <= 65535 else None


def _first(statement: Statement) -> str:
    return statement.args[0] if statement.args else ""


# ----------------------------------------------------------------------------------------- keyword tables


@dataclass
class _Scope:
    """What every block's handlers share: the notes, and whether the whole block was given up."""

    out: Converted
    abandoned: bool = False


_S = TypeVar("_S", bound=_Scope)
_Handler = Callable[[Statement, _S], None]
_Guard = Callable[[Statement, _S], bool]


def _always(statement: Statement, scope: _Scope) -> bool:
    return True


def _has_args(statement: Statement, scope: _Scope) -> bool:
    return bool(statement.args)


class _Keywords(Generic[_S]):
    """The keywords of one block level, each with its handler (keepalived's ``install_keyword``).

    A keyword without a handler, or whose statement fails the handler's ``when``, is noted with the
    level's own message for what it ignores.
    """

    def __init__(self, ignored: Callable[[Statement, _S], str]) -> None:
        self._handlers: dict[str, tuple[_Handler[_S], _Guard[_S]]] = {}
        self._ignored = ignored

    def install(self, *keywords: str, when: _Guard[_S] = _always) -> Callable[[_Handler[_S]], _Handler[_S]]:
        def register(handler: _Handler[_S]) -> _Handler[_S]:
            for keyword in keywords:
                self._handlers[keyword] = (handler, when)
            return handler

        return register

    def read(self, statements: Iterable[Statement], scope: _S) -> None:
        """Hand each statement to its keyword's handler; stop when a handler gives up the block."""
        for statement in statements:
            entry = self._handlers.get(statement.keyword)
            if entry is None or not entry[1](statement, scope):
                scope.out.note(statement.line, statement.keyword, self._ignored(statement, scope))
                continue
            entry[0](statement, scope)
            if scope.abandoned:
                return


# -------------------------------------------------------------------------------------------- top level


@dataclass
class _FileScope(_Scope):
    vrrps: list[_Vrrp] = field(default_factory=list)
    servers: list[Statement] = field(default_factory=list)


_FILE = _Keywords[_FileScope](lambda statement, scope: "has no kube-lvs equivalent; ignored")


@_FILE.install("vrrp_instance")
def _vrrp_instance(statement: Statement, scope: _FileScope) -> None:
    scope.vrrps.append(_vrrp(statement, scope.out))


@_FILE.install("virtual_server")
def _virtual_server_block(statement: Statement, scope: _FileScope) -> None:
    scope.servers.append(statement)  # read once every vrrp_instance is known, wherever it stands


@_FILE.install("include")
def _include(statement: Statement, scope: _FileScope) -> None:
    scope.out.note(
        statement.line, "include", f"{shown(' '.join(statement.args))} is not read: import that file separately"
    )


@_FILE.install("global_defs")
def _global_defs(statement: Statement, scope: _FileScope) -> None:
    scope.out.note(statement.line, "global_defs", "global settings have no kube-lvs equivalent; ignored")


def convert(data: str | bytes, source: str, namespace: str) -> Converted:
    """Every virtual_server of a keepalived.conf (UTF-8 bytes or text) as objects; notes for the rest."""
    out = Converted()
    syntax = keepalived_syntax.parse(data)
    for note in syntax.notes:
        out.note(note.line, note.keyword, note.message, note.level)
    scope = _FileScope(out)
    _FILE.read(syntax.statements, scope)
    vrrps, servers = scope.vrrps, scope.servers
    held = _Held.index(vrrps)
    claimed: dict[str, int] = {}
    vips = {_vip(s) for s in servers} - {None}
    used: set[str] = set()
    for statement in servers:
        _virtual_server(statement, held, claimed, (vips, used), source, namespace, out)
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
    return reading.address(statement.args[0]) if statement.args else None


# ---------------------------------------------------------------------------------------- vrrp_instance


@dataclass
class _VrrpScope(_Scope):
    vrrp: _Vrrp = field(default_factory=lambda: _Vrrp("?", 0))


_VRRP = _Keywords[_VrrpScope](
    lambda statement, scope: (
        "VRRP setting with no kube-lvs equivalent (directors elect with a Kubernetes Lease); ignored"
    )
)


def _vrrp(statement: Statement, out: Converted) -> _Vrrp:
    scope = _VrrpScope(out, vrrp=_Vrrp(word(statement.args[0]) if statement.args else "?", statement.line))
    _VRRP.read(statement.inner(), scope)
    return scope.vrrp


@_VRRP.install("state", when=_has_args)
def _vrrp_state(item: Statement, scope: _VrrpScope) -> None:
    scope.vrrp.state = word(item.args[0].upper())


@_VRRP.install("priority")
def _vrrp_priority(item: Statement, scope: _VrrpScope) -> None:
    scope.vrrp.priority = _integer(item, scope.out) or scope.vrrp.priority


@_VRRP.install("interface", when=_has_args)
def _vrrp_interface(item: Statement, scope: _VrrpScope) -> None:
    scope.vrrp.interface = item.args[0]


@_VRRP.install("virtual_ipaddress")
def _vrrp_addresses(item: Statement, scope: _VrrpScope) -> None:
    for entry in item.inner():  # lines of addresses, not keywords
        words = [entry.keyword, *entry.args]
        host, _, prefix = words[0].partition("/")
        address = reading.address(host)
        if address is None or (prefix and reading.integer(prefix) is None):
            scope.out.note(entry.line, words[0], "is not an address; ignored", Level.ERROR)
            continue
        dev = words[words.index("dev") + 1] if "dev" in words[:-1] else None
        scope.vrrp.addresses.append((address, dev, entry.line))


@_VRRP.install("advert_int")
def _vrrp_advert_int(item: Statement, scope: _VrrpScope) -> None:
    scope.out.note(
        item.line, item.keyword, "failover timing is the agent's Lease timing (Helm election.*); ignored"
    )


def _directors(
    vip: str | None, held: _Held, spec: dict[str, Any], comments: list[str], out: Converted, line: int
) -> None:
    """VIP found in vrrp_instances -> directors.interface, and a preferred-order hint."""
    holders = sorted(held.holders.get(vip or "", []), key=lambda pair: -pair[0].priority)
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


def _gateway_candidates(held: _Held, vips: set[str | None], family: Family) -> list[tuple[str, str | None]]:
    """VRRP addresses of the family that no virtual_server uses (the same for every virtual_server)."""
    if family in held.gateways:
        return held.gateways[family]
    found: dict[str, str | None] = {}
    for vrrp in held.vrrps:
        for address, dev, _ in vrrp.addresses:
            version = ipaddress.ip_address(address).version
            same_family = (version == 6) == (family == Family.INET6)
            if address not in vips and same_family and address not in found:
                found[address] = dev or vrrp.interface
    held.gateways[family] = list(found.items())
    return held.gateways[family]


# --------------------------------------------------------------------------------------- virtual_server


@dataclass
class _ServerScope(_Scope):
    spec: dict[str, Any] = field(default_factory=dict)
    check_defaults: dict[str, Any] = field(default_factory=dict)
    reals: list[Statement] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    family_hint: str | None = None


_SERVER = _Keywords[_ServerScope](
    lambda statement, scope: "virtual_server setting with no kube-lvs equivalent; ignored"
)


@_SERVER.install("real_server")
def _server_real_server(item: Statement, scope: _ServerScope) -> None:
    scope.reals.append(item)  # read once the whole virtual_server block is known


@_SERVER.install("lb_algo", "lvs_sched")
def _server_scheduler(item: Statement, scope: _ServerScope) -> None:
    value = _first(item)
    if value not in {s.value for s in Scheduler}:
        scope.out.note(item.line, item.keyword, f"{shown(value)} is not an IPVS scheduler", Level.ERROR)
        scope.abandoned = True
        return
    scope.spec["scheduler"] = value


@_SERVER.install("lb_kind", "lvs_method")
def _server_forwarding(item: Statement, scope: _ServerScope) -> None:
    value = _first(item)
    if value.upper() not in _LB_KIND:
        scope.out.note(item.line, item.keyword, f"{shown(value)} is not NAT, DR or TUN", Level.ERROR)
        scope.abandoned = True
        return
    scope.spec["forwarding"] = _LB_KIND[value.upper()]


@_SERVER.install("protocol")
def _server_protocol(item: Statement, scope: _ServerScope) -> None:
    value = _first(item)
    if value.upper() not in ("TCP", "UDP", "SCTP"):
        scope.out.note(item.line, item.keyword, f"{shown(value)} is not TCP, UDP or SCTP", Level.ERROR)
        scope.abandoned = True
        return
    if "fwmark" in scope.spec:
        scope.out.note(item.line, item.keyword, "a fwmark service has no protocol of its own; ignored")
    else:
        scope.spec["protocol"] = value.upper()


@_SERVER.install("persistence_timeout")
def _server_persistence_timeout(item: Statement, scope: _ServerScope) -> None:
    timeout = _integer(item, scope.out)
    if timeout is not None:
        scope.spec.setdefault("persistence", {})["timeout"] = timeout


@_SERVER.install("persistence_granularity")
def _server_persistence_granularity(item: Statement, scope: _ServerScope) -> None:
    value = _first(item)
    scope.spec.setdefault("persistence", {})["netmask"] = value if "." in value else f"/{value.lstrip('/')}"


@_SERVER.install("ops")
def _server_ops(item: Statement, scope: _ServerScope) -> None:
    scope.spec["onePacket"] = True


@_SERVER.install(*sorted(_SCHED_FLAG_WORDS))
def _server_scheduler_flag(item: Statement, scope: _ServerScope) -> None:
    scope.flags.append(item.keyword)


@_SERVER.install("ip_family")
def _server_ip_family(item: Statement, scope: _ServerScope) -> None:
    scope.family_hint = _first(item)


@_SERVER.install("delay_loop")
def _server_delay_loop(item: Statement, scope: _ServerScope) -> None:
    scope.check_defaults["interval"] = _seconds(item, scope.out)


@_SERVER.install("retry", "nb_get_retry")
def _server_retries(item: Statement, scope: _ServerScope) -> None:
    scope.check_defaults["retries"] = _integer(item, scope.out)


@_SERVER.install("delay_before_retry")
def _server_delay_before_retry(item: Statement, scope: _ServerScope) -> None:
    scope.check_defaults["delayBeforeRetry"] = _seconds(item, scope.out)


@_SERVER.install("connect_timeout")
def _server_connect_timeout(item: Statement, scope: _ServerScope) -> None:
    scope.check_defaults["connectTimeout"] = _seconds(item, scope.out)


@_SERVER.install("virtualhost")
def _server_virtualhost(item: Statement, scope: _ServerScope) -> None:
    scope.check_defaults["host"] = _first(item)


@_SERVER.install("inhibit_on_failure")
def _server_inhibit(item: Statement, scope: _ServerScope) -> None:
    scope.check_defaults["inhibit"] = True


def _virtual_server(
    statement: Statement,
    held: _Held,
    claimed: dict[str, int],
    addresses: tuple[set[str | None], set[str]],
    source: str,
    namespace: str,
    out: Converted,
) -> None:
    line = statement.line
    args = statement.args
    scope = _ServerScope(out)
    spec = scope.spec
    vip: str | None = None
    if len(args) == 2 and args[0] == "fwmark":
        mark = reading.integer(args[1])
        if mark is None or not 1 <= mark <= MAX_FWMARK:
            out.note(line, "fwmark", f"{shown(args[1])} is not a firewall mark (1..{MAX_FWMARK})", Level.ERROR)
            return
        spec["fwmark"] = mark
    elif len(args) >= 1 and args[0] == "group":
        out.note(line, "virtual_server group", "virtual_server_group has no kube-lvs equivalent; skipped")
        return
    elif len(args) == 2:
        vip = reading.address(args[0])
        if vip is None:
            out.note(line, "virtual_server", f"{shown(args[0])} is not an IP address; skipped", Level.ERROR)
            return
        port = _port(args[1])
        if port is None:
            out.note(line, "virtual_server", f"{shown(args[1])} is not a port (0..65535); skipped", Level.ERROR)
            return
        spec.update(address=vip, port=port, protocol="TCP")
    else:
        out.note(line, "virtual_server", "expects 'IP PORT' or 'fwmark N'; skipped", Level.ERROR)
        return
    _SERVER.read(statement.inner(), scope)
    if scope.abandoned:
        return
    check_defaults, reals, flags = scope.check_defaults, scope.reals, scope.flags
    if spec.get("persistence") is not None and "timeout" not in spec["persistence"]:
        spec["persistence"]["timeout"] = 360  # keepalived's default persistence_timeout
    if flags:
        scheduler = spec.get("scheduler", "wlc")
        generic = {"flag-1": f"{scheduler}-fallback", "flag-2": f"{scheduler}-port"}
        spec["schedulerFlags"] = [generic.get(f, f) for f in flags]
    key = _service_key(spec, reals, scope.family_hint)
    identity = str(key)
    if identity in claimed:
        out.note(line, "virtual_server", f"{identity} is already defined on line {claimed[identity]}", Level.ERROR)
        return
    claimed[identity] = line
    name = naming.service_name(key)
    comments = [f"{source}:{line}: virtual_server {' '.join(args)}"]
    _directors(vip, held, spec, comments, out, line)
    dests = [d for d in (_real_server(item, spec, out) for item in reals) if d is not None]
    health = _health_check(dests, check_defaults, out, line)
    if health is not None:
        spec["healthCheck"] = health
    elif set(check_defaults) - {"inhibit"}:
        out.note(
            line, "delay_loop", "checker settings but no real_server has a checker: nothing to check; ignored"
        )
    if spec.get("forwarding") == "nat" or any(d.spec.get("forwarding") == "nat" for d in dests):
        gateway = _nat_return_path(spec, held, addresses[0], key.family, out, line, comments)
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
            where = " ".join(item.args[:2])  # what was read of the line; the rest was noted
            out.documents.append(Document(rs, (f"{source}:{item.line}: real_server {where}",)))


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


# ------------------------------------------------------------------------------------------ real_server


@dataclass
class _RealScope(_Scope):
    vs_spec: dict[str, Any] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    checker: Statement | None = None
    inhibit: bool = False


_REAL = _Keywords[_RealScope](lambda statement, scope: "real_server setting with no kube-lvs equivalent; ignored")


def _real_server(item: Statement, vs_spec: dict[str, Any], out: Converted) -> _Real | None:
    """One real_server block, or None (with an error note) when it cannot be read."""
    args = item.args
    address = reading.address(args[0]) if args else None
    if address is None:
        out.note(
            item.line,
            "real_server",
            f"{shown(' '.join(args)) if args else 'nothing'} does not start with an IP address; skipped",
            Level.ERROR,
        )
        return None
    rs: dict[str, Any] = {"address": address}
    vs_port = vs_spec.get("port", 0)
    if len(args) > 2:
        out.note(item.line, "real_server", f"{shown(' '.join(args[2:]))} after IP PORT; ignored")
    if len(args) > 1:
        port = _port(args[1])
        if port is None:
            out.note(item.line, "real_server", f"{shown(args[1])} is not a port (0..65535); skipped", Level.ERROR)
            return None
        forwarding = vs_spec.get("forwarding", "dr")
        if forwarding in ("dr", "tun") and "fwmark" not in vs_spec and port != vs_port:
            out.note(
                item.line,
                "real_server",
                f"port {port}: {forwarding} cannot remap ports; the kernel uses the service's port {vs_port}",
            )
        elif port != vs_port:
            rs["port"] = port
    scope = _RealScope(out, vs_spec=vs_spec, spec=rs)
    _REAL.read(item.inner(), scope)
    return _Real(item, rs, scope.checker, scope.inhibit)


@_REAL.install("weight")
def _real_weight(item: Statement, scope: _RealScope) -> None:
    weight = _integer(item, scope.out)
    if weight is not None and weight != 1:
        scope.spec["weight"] = weight


@_REAL.install("inhibit_on_failure")
def _real_inhibit(item: Statement, scope: _RealScope) -> None:
    scope.inhibit = True


@_REAL.install("uthreshold")
def _real_upper_threshold(item: Statement, scope: _RealScope) -> None:
    upper = _integer(item, scope.out)
    if upper is not None:
        scope.spec["upperThreshold"] = upper


@_REAL.install("lthreshold")
def _real_lower_threshold(item: Statement, scope: _RealScope) -> None:
    lower = _integer(item, scope.out)
    if lower is not None:
        scope.spec["lowerThreshold"] = lower


def _is_lb_kind(item: Statement, scope: _Scope) -> bool:
    return bool(item.args) and item.args[0].upper() in _LB_KIND


@_REAL.install("lb_kind", "lvs_method", when=_is_lb_kind)
def _real_forwarding(item: Statement, scope: _RealScope) -> None:
    if _LB_KIND[item.args[0].upper()] != scope.vs_spec.get("forwarding", "dr"):
        scope.spec["forwarding"] = _LB_KIND[item.args[0].upper()]


@_REAL.install(*_CHECKERS)
def _real_checker(item: Statement, scope: _RealScope) -> None:
    if scope.checker is not None:
        scope.out.note(item.line, item.keyword, f"a second checker (first: line {scope.checker.line}); ignored")
    else:
        scope.checker = item


@_REAL.install(*sorted(_UNSUPPORTED_CHECKERS))
def _real_unsupported_checker(item: Statement, scope: _RealScope) -> None:
    scope.out.note(item.line, item.keyword, "checker has no kube-lvs equivalent (tcp, http, https); ignored")


# --------------------------------------------------------------------------- TCP_CHECK, HTTP_GET, SSL_GET


@dataclass
class _CheckerScope(_Scope):
    checker: Statement | None = None
    check: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    urls: int = 0

    @property
    def speaks_http(self) -> bool:
        return bool(self.check["type"] != "tcp")


_CHECK = _Keywords[_CheckerScope](
    lambda statement, scope: (
        f"{scope.checker.keyword if scope.checker else '?'} setting with no kube-lvs equivalent; ignored"
    )
)


def _speaks_http(item: Statement, scope: _CheckerScope) -> bool:
    return scope.speaks_http


def _checker(checker: Statement, defaults: dict[str, Any], out: Converted) -> dict[str, Any]:
    """One TCP_CHECK / HTTP_GET / SSL_GET block as a healthCheck mapping (keepalived's defaults kept)."""
    check: dict[str, Any] = {"type": _CHECKERS[checker.keyword], "interval": KEEPALIVED_DELAY_LOOP}
    for name in ("interval", "retries", "delayBeforeRetry", "connectTimeout"):
        if defaults.get(name) is not None:
            check[name] = defaults[name]
    scope = _CheckerScope(out, checker=checker, check=check)
    if defaults.get("host") and scope.speaks_http:
        scope.http["host"] = defaults["host"]
    _CHECK.read(checker.inner(), scope)
    if scope.speaks_http:
        check["http"] = scope.http
    _timeout_within_interval(checker, check, out)
    # Durations as the API has them, strings ("6s", "1m"): a number of seconds is no duration to the CRD.
    return {k: format_duration(v) if k in _DURATIONS else v for k, v in check.items() if v is not None}


def _timeout_within_interval(checker: Statement, check: dict[str, Any], out: Converted) -> None:
    """keepalived lets connect_timeout outlast delay_loop (the next check waits); kube-lvs checks on the
    interval, so a longer timeout would pile checks up and the API refuses it: cut to the interval, said."""
    timeout, interval = check.get("connectTimeout"), check.get("interval")
    if timeout is not None and interval is not None and timeout > interval:
        check["connectTimeout"] = interval
        out.note(
            checker.line,
            "connect_timeout",
            f"{format_duration(timeout)} is longer than the check interval {format_duration(interval)} "
            f"(delay_loop); kube-lvs ends a check before the next starts: connectTimeout set to "
            f"{format_duration(interval)}",
        )


@_CHECK.install("connect_port")
def _check_port(item: Statement, scope: _CheckerScope) -> None:
    scope.check["port"] = _integer(item, scope.out)


@_CHECK.install("connect_timeout")
def _check_connect_timeout(item: Statement, scope: _CheckerScope) -> None:
    scope.check["connectTimeout"] = _seconds(item, scope.out)


@_CHECK.install("nb_get_retry", "retry")
def _check_retries(item: Statement, scope: _CheckerScope) -> None:
    scope.check["retries"] = _integer(item, scope.out)


@_CHECK.install("delay_before_retry")
def _check_delay_before_retry(item: Statement, scope: _CheckerScope) -> None:
    scope.check["delayBeforeRetry"] = _seconds(item, scope.out)


@_CHECK.install("delay_loop")
def _check_delay_loop(item: Statement, scope: _CheckerScope) -> None:
    scope.check["interval"] = _seconds(item, scope.out)


@_CHECK.install("virtualhost", when=_speaks_http)
def _check_virtualhost(item: Statement, scope: _CheckerScope) -> None:
    scope.http["host"] = item.args[0] if item.args else None


@_CHECK.install("url", when=_speaks_http)
def _check_url(item: Statement, scope: _CheckerScope) -> None:
    scope.urls += 1
    if scope.urls > 1:
        scope.out.note(item.line, "url", "kube-lvs checks one url per VirtualServer; this one is ignored")
        return
    url = _UrlScope(scope.out)
    _URL.read(item.inner(), url)
    scope.http.update(url.result)


# -------------------------------------------------------------------------------------------------- url


@dataclass
class _UrlScope(_Scope):
    result: dict[str, Any] = field(default_factory=dict)


_URL = _Keywords[_UrlScope](
    lambda statement, scope: "url setting with no kube-lvs equivalent (path, status_code); ignored"
)


@_URL.install("path", when=_has_args)
def _url_path(item: Statement, scope: _UrlScope) -> None:
    scope.result["path"] = item.args[0]


@_URL.install("status_code")
def _url_status_code(item: Statement, scope: _UrlScope) -> None:
    codes: dict[int, None] = {}  # in the order written, each once: a range holds at most 500
    for text in item.args:
        low_text, dash, high_text = text.partition("-")
        low = reading.integer(low_text) if low_text.isdigit() else None
        high = (reading.integer(high_text) if high_text.isdigit() else None) if dash else low
        if low is None or high is None:
            scope.out.note(item.line, "status_code", f"{shown(text)} is not a status code or range", Level.ERROR)
        elif low not in HTTP_STATUS or high not in HTTP_STATUS or low > high:
            scope.out.note(
                item.line,
                "status_code",
                f"{shown(text)}: HTTP status codes are {HTTP_STATUS.start}..{HTTP_STATUS.stop - 1}, "
                "a range low-high with low <= high",
                Level.ERROR,
            )
        else:
            codes.update(dict.fromkeys(range(low, high + 1)))
    if codes:
        scope.result["expectStatus"] = list(codes)


@_URL.install("virtualhost", when=_has_args)
def _url_virtualhost(item: Statement, scope: _UrlScope) -> None:
    scope.result["host"] = item.args[0]


# ------------------------------------------------------------------------------------------------ judging


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
    held: _Held,
    vips: set[str | None],
    family: Family,
    out: Converted,
    line: int,
    comments: list[str],
) -> str | None:
    """keepalived's NAT setups route real servers through a second VRRP address: that is the gateway."""
    candidates = _gateway_candidates(held, vips, family)
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
