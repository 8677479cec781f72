"""ipvsadm's language: read ``ipvsadm -S[n]`` output and shell scripts of ipvsadm commands into an IPVS
table (netstate values), and print netstate values as the exact lines ``ipvsadm -Sn`` prints.

Reading replays the commands the way ipvsadm and the kernel would (``-C`` clears, ``-E`` replaces a
service's settings, DR/TUN destinations take the service's port, ``-p`` alone means 360 seconds), so the
table is what the kernel would hold after running the script. Anything without a kube-lvs equivalent
becomes a :class:`Note` naming the option and the line. A repeated option is refused as ipvsadm refuses
it ("multiple options specified"), and shell variables are bounded (:data:`MAX_EXPANSION`), so a script
that keeps doubling a variable is an error on the line where it grows too long, not a memory blow-up.

Printing follows ipvsadm 1.31 (measured in the VM, fixture ``tests/unit/data/ipvsadm-Sn.txt``):
``-A <svc> -s <sched> [-p T [-M mask]] [-o] [-b flags]`` and ``-a <svc> -r <rip:port> -g|-m|-i -w W
[--tun-type ipip]``. Thresholds (-x/-y) are not part of ``-S`` output; ``thresholds=True`` adds them for a
restore that keeps them. Services are sorted as ipvsadm sorts them: fwmark (0 first), family,
protocol, address, port; destinations by address and port.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shlex
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kubelvs.address_text import with_port
from kubelvs.formats import reading
from kubelvs.formats.notes import Level, Note
from kubelvs.formats.reading import shown
from kubelvs.netstate import (
    NO_FLAGS,
    Destination,
    DestKey,
    Family,
    Fwd,
    Proto,
    Service,
    ServiceKey,
    SvcFlag,
)

logger = logging.getLogger(__name__)

DEFAULT_SCHEDULER = "wlc"
DEFAULT_PERSISTENCE = 360  # what ipvsadm 1.31 programs for a bare -p (measured; its man page says 300)
SCHEDULERS = frozenset(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"])
MAX_TIMEOUT = 86400 * 31
MAX_EXPANSION = 64 * 1024  # a shell variable's value, and a line's words once expanded

# option -> (canonical name, argument: 0 none, 1 required, 2 optional)
_LONG: dict[str, tuple[str, int]] = {
    "add-service": ("A", 0),
    "edit-service": ("E", 0),
    "delete-service": ("D", 0),
    "clear": ("C", 0),
    "list": ("L", 0),
    "zero": ("Z", 0),
    "add-server": ("a", 0),
    "edit-server": ("e", 0),
    "delete-server": ("d", 0),
    "set": ("set", 0),
    "help": ("h", 0),
    "version": ("v", 0),
    "restore": ("R", 0),
    "save": ("S", 0),
    "start-daemon": ("start-daemon", 1),
    "stop-daemon": ("stop-daemon", 1),
    "tcp-service": ("t", 1),
    "udp-service": ("u", 1),
    "sctp-service": ("sctp-service", 1),
    "fwmark-service": ("f", 1),
    "ipv6": ("6", 0),
    "scheduler": ("s", 1),
    "pe": ("pe", 1),
    "persistent": ("p", 2),
    "netmask": ("M", 1),
    "sched-flags": ("b", 1),
    "ops": ("o", 0),
    "real-server": ("r", 1),
    "masquerading": ("m", 0),
    "ipip": ("i", 0),
    "gatewaying": ("g", 0),
    "weight": ("w", 1),
    "u-threshold": ("x", 1),
    "l-threshold": ("y", 1),
    "tun-type": ("tun-type", 1),
    "tun-port": ("tun-port", 1),
    "tun-nocsum": ("tun-nocsum", 0),
    "tun-csum": ("tun-csum", 0),
    "tun-remcsum": ("tun-remcsum", 0),
    "numeric": ("n", 0),
    "connection": ("c", 0),
    "mcast-interface": ("mcast-interface", 1),
    "mcast-group": ("mcast-group", 1),
    "mcast-port": ("mcast-port", 1),
    "mcast-ttl": ("mcast-ttl", 1),
    "syncid": ("syncid", 1),
    "timeout": ("timeout", 0),
    "daemon": ("daemon", 0),
    "stats": ("stats", 0),
    "rate": ("rate", 0),
    "thresholds": ("thresholds", 0),
    "persistent-conn": ("persistent-conn", 0),
    "nosort": ("nosort", 0),
    "sort": ("sort", 0),
    "exact": ("X", 0),
}
_SHORT: dict[str, int] = {
    **{c: 0 for c in "AEDCLlZaedhvRSmignc6oX"},
    **{c: 1 for c in "tufsMrwxyb"},
    "p": 2,
}
_COMMANDS = {"A", "E", "D", "C", "L", "l", "Z", "a", "e", "d", "set", "h", "v", "R", "S"}
_COMMANDS |= {"start-daemon", "stop-daemon"}
_SERVICE_OPTIONS = {"t": Proto.TCP, "u": Proto.UDP, "sctp-service": Proto.SCTP}
_FWD = {"g": Fwd.DROUTE, "m": Fwd.MASQ, "i": Fwd.TUNNEL}
_FWD_SWITCH = {Fwd.MASQ: "-m", Fwd.TUNNEL: "-i", Fwd.DROUTE: "-g", Fwd.LOCALNODE: "-g"}
_SCHED_FLAGS = {
    "sh": {"sh-fallback": SvcFlag.SCHED1, "sh-port": SvcFlag.SCHED2},
    "mh": {"mh-fallback": SvcFlag.SCHED1, "mh-port": SvcFlag.SCHED2},
}
_SHELL_OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "2>", "2>&1", "<"}
_SHELL_SPECIAL = re.compile(r"""["'\\#();<>|&]""")
_BLANKS = re.compile(r"[ \t]+")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
# ipvsadm -L's banner, its two header lines, and a service or destination row of any of its layouts
_LISTING = re.compile(
    r"IP Virtual Server version \d|Prot LocalAddress:Port\b|\s*-> (RemoteAddress:Port\b|\S+:\d+\s+\w)"
    r"|(TCP|UDP|SCTP) +\S+:\d+( |$)|FWM +\d+( |$)"
)
LISTING_REFUSED = (
    "this is a listing (ipvsadm -L/-Ln output), not rules; "
    "give what `ipvsadm -Sn` prints: ipvsadm -Sn | kubelvs import ipvsadm -"
)
_SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._+-]{0,63}")  # an /etc/services name, so the lookup is sane


class LineError(ValueError):
    """A command ipvsadm itself would reject; the message names the option and the value."""

    def __init__(self, keyword: str, message: str) -> None:
        super().__init__(message)
        self.keyword = keyword


@dataclass
class Table:
    """The IPVS table a script leaves behind, with the line that last defined each entry."""

    services: dict[ServiceKey, Service] = field(default_factory=dict)
    destinations: dict[DestKey, Destination] = field(default_factory=dict)
    lines: dict[ServiceKey | DestKey, int] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    listing: int | None = None  # the line that shows the input is an ipvsadm -L listing, refused whole
    # each service's destinations, so -D does not scan every destination of the table
    by_service: dict[ServiceKey, set[DestKey]] = field(default_factory=dict, repr=False, compare=False)

    def note(self, line: int, keyword: str, message: str, level: Level = Level.WARNING) -> None:
        reading.add_note(self.notes, line, keyword, message, level)

    def put(self, dest: Destination, line: int) -> None:
        self.destinations[dest.key] = dest
        self.by_service.setdefault(dest.key.service, set()).add(dest.key)
        self.lines[dest.key] = line

    def drop(self, key: DestKey) -> None:
        del self.destinations[key]
        self.by_service.get(key.service, set()).discard(key)

    def drop_service(self, key: ServiceKey) -> None:
        del self.services[key]
        for dest in self.by_service.pop(key, set()):
            del self.destinations[dest]

    def clear(self) -> None:
        self.services.clear()
        self.destinations.clear()
        self.by_service.clear()


@dataclass
class _Shell:
    """The variables a script has set, and those refused for growing too long (with the line)."""

    variables: dict[str, str] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- reading


def parse(data: str | bytes) -> Table:
    """Replay ``ipvsadm -S`` output or a shell script of ipvsadm commands (UTF-8 bytes or text).

    A listing (``ipvsadm -L``/``-Ln``) is refused whole, with one note: it is not a script, and it leaves out
    what a restore needs (tunnel types, thresholds under ``--stats``), so guessing rules from it would mislead.
    """
    table = Table()
    read = reading.lines(data)
    for note in read.notes:
        table.note(note.line, note.keyword, note.message, note.level)
    listed = listing_line(read.text)
    if listed is not None:
        table.listing = listed
        table.note(listed, "ipvsadm -L", LISTING_REFUSED, Level.ERROR)
        return table
    shell = _Shell()
    for number, line in _logical_lines(read.text):
        try:
            args = _command_args(line, number, shell, table)
            if args is not None:
                _apply(_options(args), number, table)
        except LineError as error:
            table.note(number, error.keyword, str(error), Level.ERROR)
    return table


def listing_line(lines: list[str]) -> int | None:
    """The number of the first line shaped like ``ipvsadm -L`` output (its banner, a header, a ``->`` row)."""
    for number, line in enumerate(lines, start=1):
        if _LISTING.match(line):
            return number
    return None


def _logical_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Lines with backslash continuations joined, numbered by the line they start on."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, start=1):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        yield start, " ".join(pending)
        pending = []
    if pending:
        yield start, " ".join(pending)


def _command_args(line: str, number: int, shell: _Shell, table: Table) -> list[str] | None:
    """The ipvsadm arguments of one shell line, or None for a line that holds no ipvsadm command."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if len(stripped) > MAX_EXPANSION:  # before splitting, which reads a character at a time
        raise LineError("shell", f"the line is longer than {MAX_EXPANSION} characters; no ipvsadm command is")
    try:
        words = _split(stripped)
    except ValueError as error:
        raise LineError("shell", f"cannot split the line: {error}") from None
    if sum(map(len, words)) > MAX_EXPANSION:
        raise LineError("shell", f"the line is longer than {MAX_EXPANSION} characters; no ipvsadm command is")
    if not words:
        return None
    for cut, word in enumerate(words):
        if word in _SHELL_OPERATORS or word[:1] in tuple(";&|<>"):
            table.note(number, word, f"shell operator: everything from {shown(word)} on is ignored", Level.INFO)
            words = words[:cut]
            break
    if words and words[0] == "export":
        words = words[1:]
    if words and all(re.fullmatch(r"[A-Za-z_]\w*=.*", w) for w in words):
        for word in words:
            name, _, value = word.partition("=")
            try:
                shell.variables[name] = _expand([value], shell)[0]
            except LineError:
                shell.variables.pop(name, None)
                shell.refused[name] = number
                raise
            shell.refused.pop(name, None)
        return None
    words = _expand(words, shell)
    if words and words[0] == "sudo":
        words = words[1:]
    if words and words[0].startswith("-"):
        return words  # a line of ``ipvsadm -S`` output
    if words and words[0].rsplit("/", 1)[-1] == "ipvsadm":
        return words[1:]
    table.note(number, words[0] if words else "shell", "not an ipvsadm command; ignored")
    return None


def _split(line: str) -> list[str]:
    """Shell words, with ``;``, ``&&``, ``|`` and redirections split off even when glued to a word."""
    if not _SHELL_SPECIAL.search(line):
        return _BLANKS.split(line.strip(" \t"))  # what shlex gives for plain words, without its per-character loop
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def _expand(words: list[str], shell: _Shell) -> list[str]:
    """``$NAME`` and ``${NAME}`` replaced, refused once the words would pass :data:`MAX_EXPANSION`."""
    room = MAX_EXPANSION - sum(map(len, words))

    def one(match: re.Match[str]) -> str:
        nonlocal room
        name = match.group(1) or match.group(2)
        if name in shell.refused:
            raise LineError(f"${name}", f"was refused on line {shell.refused[name]} (it grew too long)")
        if name not in shell.variables:
            raise LineError(f"${name}", "shell variable is not set by an earlier NAME=value line")
        value = shell.variables[name]
        room -= len(value) - len(match.group())
        if room < 0:
            raise LineError(
                f"${name}", f"expanding it passes {MAX_EXPANSION} characters; the importer stops there"
            )
        return value

    return [_VARIABLE.sub(one, word) for word in words]


def _options(args: list[str]) -> list[tuple[str, str | None]]:
    """getopt/popt-style: clustered short options (-Ln), ``--opt=value``, optional argument of -p."""
    result: list[tuple[str, str | None]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name not in _LONG:
                raise LineError(arg, "unknown ipvsadm option")
            canonical, takes = _LONG[name]
            if canonical == "set":  # --set tcp tcpfin udp: three positional values
                values = args[index : index + 3]
                if len(values) < 3:
                    raise LineError(arg, "needs three values: tcp tcpfin udp timeouts")
                result.append((canonical, " ".join(values)))
                index += 3
            elif eq:
                result.append((canonical, value))
            elif takes == 1:
                if index >= len(args):
                    raise LineError(arg, "needs a value")
                result.append((canonical, args[index]))
                index += 1
            elif takes == 2 and index < len(args) and not args[index].startswith("-"):
                result.append((canonical, args[index]))
                index += 1
            else:
                result.append((canonical, None))
        elif arg.startswith("-") and len(arg) > 1:
            cluster = arg[1:]
            while cluster:
                letter, cluster = cluster[0], cluster[1:]
                if letter not in _SHORT:
                    raise LineError(f"-{letter}", "unknown ipvsadm option")
                takes = _SHORT[letter]
                if takes and cluster:
                    result.append((letter, cluster))
                    cluster = ""
                elif takes == 1:
                    if index >= len(args):
                        raise LineError(f"-{letter}", "needs a value")
                    result.append((letter, args[index]))
                    index += 1
                elif takes == 2 and index < len(args) and not args[index].startswith("-"):
                    result.append((letter, args[index]))
                    index += 1
                else:
                    result.append((letter, None))
        else:
            raise LineError(arg, "unexpected argument")
    _refuse_repeats(result)
    return result


def _refuse_repeats(options: list[tuple[str, str | None]]) -> None:
    """ipvsadm takes each option once (``-t a -t b``, ``-s rr -s wrr`` fail there)."""
    seen: set[str] = set()
    for name, _ in options:
        if name in _COMMANDS or name in _FWD:
            continue  # their own checks say more: exactly one command, one of -g -m -i
        if name in seen:
            raise LineError(_spelled(name), "is given twice (ipvsadm refuses a repeated option)")
        seen.add(name)


def _spelled(option: str) -> str:
    return f"-{option}" if len(option) == 1 else f"--{option}"


def _apply(options: list[tuple[str, str | None]], line: int, table: Table) -> None:
    commands = [name for name, _ in options if name in _COMMANDS]
    if len(commands) != 1:
        raise LineError("command", "needs exactly one of -A -E -D -C -a -e -d (or -L, -S, --set ...)")
    command = commands[0]
    given = {name: value for name, value in options if name not in _COMMANDS}
    command_value = next(value for name, value in options if name == command)
    if command == "C":
        table.note(line, "-C", "clears the table: every rule before this line is dropped", Level.INFO)
        table.clear()
        return
    if command in ("L", "l", "Z", "S", "R", "h", "v"):
        table.note(line, _spelled(command), "lists, saves or restores, changes no rule; ignored", Level.INFO)
        return
    if command == "set":
        table.note(
            line,
            "--set",
            "connection timeouts are per node: agent flags --tcp-timeout --tcpfin-timeout --udp-timeout "
            "(Helm ipvs.timeouts); not imported",
        )
        return
    if command in ("start-daemon", "stop-daemon"):
        table.note(
            line,
            f"--{command} {command_value or ''}".strip(),
            "the agent runs the sync daemon itself (Helm sync.*); not imported",
        )
        return
    key = _service_key(given)
    if command in ("A", "E"):
        _service_command(command, key, given, line, table)
    elif command == "D":
        if key not in table.services:
            raise LineError("-D", f"service {key} does not exist")
        table.drop_service(key)
    else:
        _destination_command(command, key, given, line, table)


def _service_key(given: dict[str, str | None]) -> ServiceKey:
    chosen = [name for name in ("t", "u", "sctp-service", "f") if name in given]
    if len(chosen) != 1:
        raise LineError("service", "needs exactly one of -t, -u, --sctp-service, -f")
    option = chosen[0]
    value = given[option] or ""
    if option == "f":
        mark = reading.integer(value)
        if mark is None or not 0 < mark < 2**32:
            raise LineError("-f", f"{shown(value)} is not a fwmark (an integer 1..4294967295)")
        family = Family.INET6 if "6" in given else Family.INET
        return ServiceKey(family, Proto.NONE, "", 0, mark)
    protocol = _SERVICE_OPTIONS[option]
    address, port = _host_port(value, protocol, _spelled(option))
    if port is None:
        raise LineError(_spelled(option), f"{shown(value)} has no port (write VIP:port; 0 for all ports)")
    return ServiceKey(_family(address), protocol, address, port)


def _family(address: str) -> Family:
    return Family.INET6 if ipaddress.ip_address(address).version == 6 else Family.INET


def _host_port(value: str, protocol: Proto, keyword: str) -> tuple[str, int | None]:
    """``1.2.3.4:80``, ``[2001:db8::1]:80``, ``2001:db8::1``, ``1.2.3.4:http`` -> (address, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") > 1:
        host, port_text = value, ""
    else:
        host, _, port_text = value.partition(":")
    address = reading.address(host)
    if address is None and "%" in host:
        raise LineError(keyword, f"{shown(host)}: an address with a zone (%...) cannot be a service or server")
    if address is None:
        raise LineError(
            keyword, f"{shown(host)} is not an IP address (host names are not resolved: save with ipvsadm -Sn)"
        )
    if not port_text:
        return address, None
    port = reading.integer(port_text) if not port_text.startswith("-") else None
    if port is not None:
        if port > 65535:
            raise LineError(keyword, f"port {port} is out of range 0..65535")
        return address, port
    unknown = LineError(keyword, f"{shown(port_text)} is not a port number or a known service name")
    if not _SERVICE_NAME.fullmatch(port_text):
        raise unknown
    try:
        return address, socket.getservbyname(port_text, "udp" if protocol == Proto.UDP else "tcp")
    except OSError:
        raise unknown from None


def _number(given: dict[str, str | None], option: str, low: int, high: int, default: int) -> int:
    if option not in given:
        return default
    value = given[option] or ""
    number = reading.integer(value)
    if number is None or not low <= number <= high:
        raise LineError(_spelled(option), f"{shown(value)} must be an integer {low}..{high}")
    return number


def _service_command(command: str, key: ServiceKey, given: dict[str, str | None], line: int, table: Table) -> None:
    exists = key in table.services
    if command == "A" and exists:
        raise LineError("-A", f"service {key} already exists (ipvsadm fails here)")
    if command == "E" and not exists:
        raise LineError("-E", f"service {key} does not exist")
    scheduler = given.get("s") or DEFAULT_SCHEDULER
    if scheduler not in SCHEDULERS:
        raise LineError("-s", f"{shown(scheduler)} is not an IPVS scheduler ({', '.join(sorted(SCHEDULERS))})")
    flags = NO_FLAGS
    timeout = 0
    full = 128 if key.family == Family.INET6 else 32
    netmask = full
    if "p" in given:
        flags |= SvcFlag.PERSISTENT
        value = given["p"]
        timeout = DEFAULT_PERSISTENCE if value is None else _number(given, "p", 1, MAX_TIMEOUT, 0)
        if "M" in given:
            netmask = _netmask(given["M"] or "", key.family)
    elif "M" in given:
        table.note(line, "-M", "a netmask without -p has no effect (ipvsadm drops it); ignored")
    if "o" in given:
        if key.protocol != Proto.UDP and not key.fwmark:
            raise LineError("-o", "one-packet scheduling is only for UDP services")
        flags |= SvcFlag.ONEPACKET
    if "b" in given:
        flags |= _sched_flags(given["b"] or "", scheduler)
    if "pe" in given:
        table.note(line, "--pe", f"persistence engine {shown(given['pe'] or '')} has no kube-lvs field; dropped")
    if key.port == 0 and not key.fwmark and not flags & SvcFlag.PERSISTENT:
        raise LineError("port", "port 0 (all ports) needs -p (ipvsadm fails here)")
    table.services[key] = Service(key, scheduler, flags, timeout, netmask)
    table.lines[key] = line


def _netmask(value: str, family: Family) -> int:
    if family == Family.INET6:
        length = reading.integer(value.removeprefix("/"))
        if length is None or not 0 <= length <= 128:
            raise LineError("-M", f"{shown(value)} is not an IPv6 prefix length (0..128)")
        return length
    if not value.isascii() or len(value) > 15:
        raise LineError("-M", f"{shown(value)} is not a dotted IPv4 netmask")
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{value}").prefixlen
    except ValueError:
        raise LineError("-M", f"{shown(value)} is not a dotted IPv4 netmask") from None


def _sched_flags(value: str, scheduler: str) -> SvcFlag:
    flags = NO_FLAGS
    names = _SCHED_FLAGS.get(scheduler, {})
    generic = {"flag-1": SvcFlag.SCHED1, "flag-2": SvcFlag.SCHED2, "flag-3": SvcFlag.SCHED3}
    for name in value.split(","):
        if name in names:
            flags |= names[name]
        elif name in generic and names:
            flags |= generic[name]
        else:
            allowed = ", ".join(names) or "none: only sh and mh take flags"
            raise LineError("-b", f"{shown(name)} is not a flag of scheduler {scheduler!r} ({allowed})")
    if flags & SvcFlag.SCHED3:
        raise LineError("-b", f"flag-3 means nothing to scheduler {scheduler!r}")
    return flags


def _destination_command(
    command: str, service: ServiceKey, given: dict[str, str | None], line: int, table: Table
) -> None:
    if "r" not in given:
        raise LineError(_spelled(command), "needs -r real-server")
    if service not in table.services:
        raise LineError("-r", f"service {service} does not exist ({_how_to_name(service, table)})")
    address, port = _host_port(given["r"] or "", service.protocol, "-r")
    fwds = [_FWD[name] for name in _FWD if name in given]
    if len(fwds) > 1:
        raise LineError("forwarding", "give only one of -g, -m, -i")
    forwarding = fwds[0] if fwds else Fwd.DROUTE
    if forwarding != Fwd.MASQ:
        if port is not None and port != service.port:
            table.note(
                line,
                "-r",
                f"port {port}: direct routing and tunnelling cannot remap ports; "
                f"ipvsadm uses the service's port {service.port}",
                Level.INFO,
            )
        port = service.port
    elif port is None:
        port = service.port
    key = DestKey(service, address, port)
    exists = key in table.destinations
    if command == "d":
        if not exists:
            raise LineError("-d", f"real server {key} does not exist")
        table.drop(key)
        return
    if command == "a" and exists:
        raise LineError("-a", f"real server {key} already exists (ipvsadm fails here)")
    if command == "e" and not exists:
        raise LineError("-e", f"real server {key} does not exist")
    if _family(address) != service.family and forwarding != Fwd.TUNNEL:
        raise LineError("-r", f"{address} is not of the service's family (only -i can cross families)")
    _tunnel_options(given, forwarding, line, table)
    upper = _number(given, "x", 0, 2**32 - 1, 0)
    lower = _number(given, "y", 0, 2**32 - 1, 0)
    weight = _number(given, "w", 0, 65535, 1)
    family = _family(address) if _family(address) != service.family else None
    table.put(Destination(key, forwarding, weight, upper, lower, family), line)


def _how_to_name(service: ServiceKey, table: Table) -> str:
    """What to write instead: a fwmark names its family on every line (``-f 8 -6``), as ipvsadm -S prints it."""
    if service.fwmark:
        other = Family.INET if service.family == Family.INET6 else Family.INET6
        if ServiceKey(other, Proto.NONE, "", 0, service.fwmark) in table.services:
            mark = service.fwmark
            return (
                f"FWM {mark} IPv6 does: write -f {mark} -6"
                if other == Family.INET6
                else f"FWM {mark} does: drop -6"
            )
    return "add it with -A first"


def _tunnel_options(given: dict[str, str | None], forwarding: Fwd, line: int, table: Table) -> None:
    tun_type = given.get("tun-type")
    if tun_type is not None and forwarding != Fwd.TUNNEL:
        raise LineError("--tun-type", "only for tunnelled real servers (-i)")
    if tun_type not in (None, "ipip"):
        table.note(line, "--tun-type", f"{shown(tun_type)} tunnels have no kube-lvs field; imported as ipip")
    for option in ("tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"):
        if option in given:
            table.note(line, f"--{option}", "GUE/GRE tunnel options have no kube-lvs field; dropped")


# --------------------------------------------------------------------------------------------- printing


def service_switch(key: ServiceKey) -> str:
    """``-t 192.0.2.1:80``, ``-u [2001:db8::1]:53``, ``--sctp-service ...``, ``-f 7``, ``-f 8 -6``."""
    if key.fwmark:
        return f"-f {key.fwmark}" + (" -6" if key.family == Family.INET6 else "")
    option = {Proto.TCP: "-t", Proto.UDP: "-u", Proto.SCTP: "--sctp-service"}[key.protocol]
    return f"{option} {with_port(key.address, key.port)}"


def flag_names(service: Service) -> list[str]:
    """sh-/mh- names for the schedulers that define them, ipvsadm's generic flag-N otherwise."""
    names = _SCHED_FLAGS.get(service.scheduler)
    if names:
        return [name for name, flag in names.items() if service.flags & flag]
    generic = (SvcFlag.SCHED1, SvcFlag.SCHED2, SvcFlag.SCHED3)
    return [f"flag-{n}" for n, flag in enumerate(generic, 1) if service.flags & flag]


def render_service(service: Service) -> str:
    """The ``-A`` line ipvsadm -Sn prints for a service."""
    parts = [f"-A {service_switch(service.key)} -s {service.scheduler}"]
    if service.flags & SvcFlag.PERSISTENT:
        parts.append(f"-p {service.timeout}")
        if service.key.family == Family.INET6 and service.netmask != 128:
            parts.append(f"-M {service.netmask}")
        elif service.key.family == Family.INET and service.netmask != 32:
            parts.append(f"-M {ipaddress.IPv4Network(f'0.0.0.0/{service.netmask}').netmask}")
    if service.flags & SvcFlag.ONEPACKET:
        parts.append("-o")
    flags = flag_names(service)
    if flags:
        parts.append(f"-b {','.join(flags)}")
    return " ".join(parts)


def render_destination(dest: Destination, thresholds: bool = False) -> str:
    """The ``-a`` line ipvsadm -Sn prints for a destination (with -x/-y if asked: -S omits them)."""
    line = (
        f"-a {service_switch(dest.key.service)} -r {with_port(dest.key.address, dest.key.port)} "
        f"{_FWD_SWITCH[dest.forwarding]} -w {dest.weight}"
    )
    if dest.forwarding == Fwd.TUNNEL:
        line += " --tun-type ipip"
    if thresholds and dest.upper_threshold:
        line += f" -x {dest.upper_threshold}"
    if thresholds and dest.lower_threshold:
        line += f" -y {dest.lower_threshold}"
    return line


def _address_order(address: str) -> tuple[int, int]:
    if not address:
        return (0, 0)
    parsed = ipaddress.ip_address(address)
    return (parsed.version, int(parsed))


def service_order(key: ServiceKey) -> tuple[int, int, int, tuple[int, int], int]:
    """ipvsadm's listing order: fwmark (0 first), family, protocol, address, port."""
    return (key.fwmark, int(key.family), int(key.protocol), _address_order(key.address), key.port)


def dest_order(key: DestKey) -> tuple[tuple[int, int], int]:
    return (_address_order(key.address), key.port)


def render(
    services: Iterable[Service], destinations: Iterable[Destination], thresholds: bool = False
) -> list[str]:
    """Every line ``ipvsadm -Sn`` prints for this table, in ipvsadm's order."""
    by_service: dict[ServiceKey, list[Destination]] = {}
    for dest in destinations:
        by_service.setdefault(dest.key.service, []).append(dest)
    lines = []
    for service in sorted(services, key=lambda s: service_order(s.key)):
        lines.append(render_service(service))
        for dest in sorted(by_service.get(service.key, []), key=lambda d: dest_order(d.key)):
            lines.append(render_destination(dest, thresholds))
    return lines
