"""Properties of both importers: any text or bytes gives notes, never an exception; and an IPVS table
printed as ``kubelvs export`` prints it is imported back to the same table, and to CRs that export it again.
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelvs.api.models import RealServer, VirtualServer
from kubelvs.formats import ipvsadm, keepalived, reading, tables
from kubelvs.formats.notes import Level, Note
from kubelvs.netstate import NO_FLAGS, Destination, DestKey, Family, Fwd, Proto, Service, ServiceKey, SvcFlag
from kubelvs.planner import ipvs_rules

KEYWORDS = ["virtual_server", "real_server", "lb_algo", "lb_kind", "HTTP_GET", "url", "status_code", "weight"]
KEYWORDS += ["delay_loop", "vrrp_instance", "virtual_ipaddress", "fwmark", "{", "}", '"', "#", "\\"]
OPTIONS = ["ipvsadm", "-A", "-a", "-t", "-u", "-f", "-r", "-s", "-p", "-M", "-w", "-x", "-b", "-m", "-g", "-i"]
OPTIONS += ["--set", "-D", "-C", "$A", "A=$A$A", "10.0.0.1:80", "[2001:db8::1]:80", "rr", "sh", "'", ";", "\\"]


def _well_formed(notes: list[Note]) -> None:
    for note in notes:
        assert isinstance(note.line, int) and note.line >= 0
        assert len(note.message) <= reading.MESSAGE_LIMIT + 40
        assert len(note.keyword) <= 120


def _words_text(words: list[str]) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(words), st.text(max_size=6), st.integers(-5, 2**40).map(str))
    line = st.lists(piece, max_size=8).map(" ".join)
    return st.lists(line, max_size=12).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.binary(), _words_text(KEYWORDS)))
def test_keepalived_gives_notes_for_any_input(data: str | bytes) -> None:
    converted = keepalived.convert(data, "random.conf", "default")
    _well_formed(converted.notes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.binary(), _words_text(OPTIONS)))
def test_ipvsadm_gives_notes_for_any_input(data: str | bytes) -> None:
    table = ipvsadm.parse(data)
    _well_formed(table.notes)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[Service], list[Destination]]:
    services: dict[ServiceKey, Service] = {}
    destinations: list[Destination] = []
    for index in range(draw(st.integers(1, 4))):
        v6 = draw(st.booleans())
        family = Family.INET6 if v6 else Family.INET
        if draw(st.integers(0, 4)) == 0:
            key = ServiceKey(family, Proto.NONE, "", 0, draw(st.integers(1, 2**32 - 1)))
        else:
            protocol = draw(st.sampled_from([Proto.TCP, Proto.UDP, Proto.SCTP]))
            address = f"2001:db8::{index + 1:x}" if v6 else f"192.0.2.{index + 1}"
            key = ServiceKey(family, protocol, address, draw(st.integers(1, 65535)))
        if key in services:
            continue
        scheduler = draw(st.sampled_from(sorted(ipvsadm.SCHEDULERS)))
        flags = NO_FLAGS
        if scheduler in ("sh", "mh"):
            flags |= draw(
                st.sampled_from([NO_FLAGS, SvcFlag.SCHED1, SvcFlag.SCHED2, SvcFlag.SCHED1 | SvcFlag.SCHED2])
            )
        if key.protocol == Proto.UDP and draw(st.booleans()):
            flags |= SvcFlag.ONEPACKET
        timeout, netmask = 0, 128 if v6 else 32
        if draw(st.booleans()):
            flags |= SvcFlag.PERSISTENT
            timeout = draw(st.integers(1, ipvsadm.MAX_TIMEOUT))
            netmask = draw(st.integers(64, 128) if v6 else st.integers(8, 32))
        services[key] = Service(key, scheduler, flags, timeout, netmask)
        for number in range(draw(st.integers(0, 3))):
            forwarding = draw(st.sampled_from([Fwd.DROUTE, Fwd.MASQ, Fwd.TUNNEL]))
            host = str(ipaddress.ip_address(f"2001:db8:1::{number + 1:x}" if v6 else f"198.51.100.{number + 1}"))
            port = draw(st.integers(1, 65535)) if forwarding == Fwd.MASQ and key.port else key.port
            upper = draw(st.integers(0, 1000))
            destinations.append(
                Destination(
                    DestKey(key, host, port),
                    forwarding,
                    draw(st.integers(0, 65535)),
                    upper,
                    draw(st.integers(0, upper)),
                    None,
                )
            )
    return list(services.values()), destinations


@settings(max_examples=200, deadline=None)
@given(_tables())
def test_the_exported_lines_import_back_to_the_same_table(table: tuple[list[Service], list[Destination]]) -> None:
    services, destinations = table
    parsed = ipvsadm.parse("\n".join(ipvsadm.render(services, destinations, thresholds=True)))
    assert [n for n in parsed.notes if n.level == Level.ERROR] == []
    assert parsed.services == {s.key: s for s in services}
    assert parsed.destinations == {d.key: d for d in destinations}


@settings(max_examples=60, deadline=None)
@given(_tables())
def test_imported_objects_export_the_same_lines(table: tuple[list[Service], list[Destination]]) -> None:
    services, destinations = table
    lines = ipvsadm.render(services, destinations, thresholds=True)
    parsed = ipvsadm.parse("\n".join(lines).encode())
    documents, notes = tables.to_documents(parsed.services, parsed.destinations, parsed.lines, "default", "x")
    assert [n for n in notes if n.level == Level.ERROR] == []
    objects = [d.obj for d in documents]
    exported = ipvs_rules(
        [o for o in objects if isinstance(o, VirtualServer)], [o for o in objects if isinstance(o, RealServer)]
    )
    assert ipvsadm.render(exported[0].values(), exported[1].values(), thresholds=True) == lines
