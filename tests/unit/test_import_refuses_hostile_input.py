"""Hostile input to both importers ends in one clear note naming the line, the keyword or option and the
value, never a traceback, a hang or a memory blow-up; the good lines around it are still imported.

Each case runs under pytest-timeout; the whole corpus also runs once in a child process whose address
space is capped with ``RLIMIT_AS``, so a case that blew up memory would fail there with MemoryError.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubelvs.formats import ipvsadm, keepalived, reading
from kubelvs.formats.notes import Level, Note

MEMORY = 1024**3  # the address space the whole corpus gets in its own process: a blow-up ends there


@dataclass(frozen=True)
class Expect:
    """The note a case must give (line, keyword, words in the message), and whether good rules survive."""

    line: int
    keyword: str
    words: str
    level: Level = Level.ERROR
    imported: int | None = None  # objects (keepalived) or services + destinations (ipvsadm)


def _check(notes: list[Note], count: int, expect: Expect) -> None:
    for note in notes:
        assert len(note.message) <= reading.MESSAGE_LIMIT + 40
        assert len(note.keyword) <= 120
    if not expect.keyword:  # an acceptance: no error at all
        assert not [n for n in notes if n.level == Level.ERROR], [n.message[:200] for n in notes]
        assert count == expect.imported
        return
    found = [n for n in notes if (n.line, n.keyword, n.level) == (expect.line, expect.keyword, expect.level)]
    assert found, [(n.line, n.keyword, n.level, n.message[:120]) for n in notes]
    assert any(expect.words in n.message for n in found), [n.message[:200] for n in found]
    if expect.imported is not None:
        assert count == expect.imported


VS = "virtual_server 10.0.0.1 80 {\n"
RS = "  real_server 10.0.1.1 80 {\n"
GOOD_VS = "virtual_server 10.0.0.9 80 {\n  real_server 10.0.1.9 80\n}\n"  # two objects


def _ka_real(body: str) -> str:
    return VS + RS + body + "  }\n}\n"


def _ka_url(body: str) -> str:
    return _ka_real("    HTTP_GET {\n      url {\n" + body + "      }\n    }\n")


KEEPALIVED = [
    pytest.param(
        b"virtual_server 10.0.0.1 \xff80 {\n}\n" + GOOD_VS.encode(),
        Expect(1, "encoding", "0xff", imported=2),
        id="non-utf8",
    ),
    pytest.param(b"\xfe\xff\x00v\x00i\x00r", Expect(1, "encoding", "not UTF-8"), id="utf16"),
    pytest.param(
        b"virtual_server 10.0.0.1\x00 80\n" + GOOD_VS.encode(), Expect(1, "character", "NUL", imported=2), id="nul"
    ),
    pytest.param(bytes(range(256)) * 4, Expect(1, "character", "binary input"), id="binary"),
    pytest.param("lb_algo \x1b[31mrr\n", Expect(1, "character", "U+001B"), id="escape-sequence"),
    pytest.param("x \ud800\n", Expect(1, "character", "surrogate"), id="lone-surrogate"),
    pytest.param(b"\xef\xbb\xbf" + GOOD_VS.encode(), Expect(0, "", "", imported=2), id="bom-accepted"),
    pytest.param(
        VS + "  delay_loop \u0661\u0662\n" + RS + "    TCP_CHECK\n  }\n}\n",
        Expect(2, "delay_loop", "'١٢'"),
        id="arabic-indic-seconds",
    ),
    pytest.param(
        _ka_real("    weight \u0661\u0662\n"), Expect(3, "weight", "ASCII digits"), id="arabic-indic-weight"
    ),
    pytest.param(
        _ka_real("    weight 1_000\n"), Expect(3, "weight", "'1_000'", imported=2), id="underscore-weight"
    ),
    pytest.param(_ka_real("    weight \u00b2\n"), Expect(3, "weight", "'²'"), id="superscript-weight"),
    pytest.param(
        _ka_real("    weight " + "9" * 5000 + "\n"), Expect(3, "weight", "characters)"), id="huge-weight"
    ),
    pytest.param(
        _ka_real("    weight 99999999999999999999\n"), Expect(2, "RealServer", "65535"), id="weight-over-range"
    ),
    pytest.param(_ka_real("    weight\n"), Expect(3, "weight", "got nothing"), id="weight-without-value"),
    pytest.param(
        _ka_real("    weight 2 3\n"),
        Expect(3, "weight", "after the value", Level.WARNING, imported=2),
        id="weight-extra-word",
    ),
    pytest.param(_ka_real("    uthreshold -\n"), Expect(3, "uthreshold", "'-'", imported=2), id="threshold-dash"),
    pytest.param(VS + "  delay_loop nan\n}\n", Expect(2, "delay_loop", "'nan'"), id="nan-seconds"),
    pytest.param(VS + "  delay_loop inf\n}\n", Expect(2, "delay_loop", "'inf'"), id="inf-seconds"),
    pytest.param(VS + "  delay_loop 1e999\n}\n", Expect(2, "delay_loop", "'1e999'"), id="exponent-seconds"),
    pytest.param(VS + "  delay_loop 0\n}\n", Expect(2, "delay_loop", "above zero"), id="zero-seconds"),
    pytest.param(
        VS + "  persistence_timeout " + "1" * 100 + "\n}\n",
        Expect(2, "persistence_timeout", "at most 20"),
        id="huge-persistence",
    ),
    pytest.param(
        _ka_url("        status_code 100-30000000\n"), Expect(5, "status_code", "100..599"), id="status-range-huge"
    ),
    pytest.param(
        _ka_url("        status_code 204-200\n"),
        Expect(5, "status_code", "low <= high"),
        id="status-range-backwards",
    ),
    pytest.param(_ka_url("        status_code 99\n"), Expect(5, "status_code", "'99'"), id="status-below-100"),
    pytest.param(
        _ka_url("        status_code \u0662\u0660\u0660\n"),
        Expect(5, "status_code", "not a status code"),
        id="status-arabic-indic",
    ),
    pytest.param(
        _ka_url("        status_code 2_00\n"), Expect(5, "status_code", "'2_00'"), id="status-underscore"
    ),
    pytest.param(
        _ka_url("        status_code 200-\n"), Expect(5, "status_code", "'200-'"), id="status-open-range"
    ),
    pytest.param(
        _ka_url("        status_code " + "200 " * 50_000 + "\n"),
        Expect(0, "", "", imported=2),
        id="status-repeated-50k",
    ),
    pytest.param(
        "virtual_server fwmark 4294967296 {\n}\n", Expect(1, "fwmark", "1..4294967295"), id="fwmark-over-32-bits"
    ),
    pytest.param("virtual_server fwmark \u0667 {\n}\n", Expect(1, "fwmark", "'\u0667'"), id="fwmark-arabic-indic"),
    pytest.param(
        "virtual_server 10.0.0.1 \u0668\u0660 {\n}\n",
        Expect(1, "virtual_server", "not a port"),
        id="port-arabic-indic",
    ),
    pytest.param(
        "virtual_server 10.0.0.1 \u00b2 {\n}\n", Expect(1, "virtual_server", "not a port"), id="port-superscript"
    ),
    pytest.param(
        "virtual_server 10.0.0.1 65536 {\n}\n", Expect(1, "virtual_server", "0..65535"), id="port-over-range"
    ),
    pytest.param(
        "virtual_server fe80::1%eth0 80 {\n}\n", Expect(1, "virtual_server", "not an IP address"), id="scoped-vip"
    ),
    pytest.param(
        "virtual_server " + "1" * 100_000 + " 80 {\n}\n",
        Expect(1, "virtual_server", "100000 characters"),
        id="huge-vip",
    ),
    pytest.param(
        VS + "  real_server 10.0.1.1 99999999999999999999999999\n}\n",
        Expect(2, "real_server", "not a port"),
        id="real-port-huge",
    ),
    pytest.param(
        VS + "  real_server 10.0.1.1 80 x y\n}\n",
        Expect(2, "real_server", "after IP PORT", Level.WARNING, imported=2),
        id="real-extra-words",
    ),
    pytest.param(
        VS + "  lb_algo " + "r" * 1_000_000 + "\n}\n",
        Expect(2, "lb_algo", "1000000 characters"),
        id="huge-scheduler",
    ),
    pytest.param(
        "x" * 1_000_000 + "\n" + GOOD_VS,
        Expect(
            1, "'" + "x" * 80 + "'... (1000000 characters)", "no kube-lvs equivalent", Level.WARNING, imported=2
        ),
        id="huge-keyword",
    ),
    pytest.param("{" * 100_000, Expect(1, "{", "nested deeper than 16"), id="deep-nesting"),
    pytest.param("}" * 20 + "\n" + GOOD_VS, Expect(1, "{", "closes no block", imported=2), id="stray-braces"),
    pytest.param(
        VS + '  lb_algo "rr\n}\n', Expect(2, "quote", "unclosed quote", Level.WARNING), id="unclosed-quote"
    ),
    pytest.param(
        VS + "  lb_algo rr\\\n}\n",
        Expect(2, "quote", "trailing backslash", Level.WARNING),
        id="trailing-backslash",
    ),
    pytest.param(VS + "  lb_algo 'r r'\n}\n", Expect(2, "lb_algo", "'r r'"), id="quoted-space-kept"),
    pytest.param(
        "include " + "/x" * 100_000 + "\n" + GOOD_VS,
        Expect(1, "include", "200000 characters", Level.WARNING, imported=2),
        id="huge-include",
    ),
    pytest.param(
        "vrrp_instance V {\n virtual_ipaddress {\n  10.0.0.1/\u0662\u0664\n }\n}\n",
        Expect(3, "10.0.0.1/٢٤", "not an address"),
        id="vip-prefix-arabic-indic",
    ),
    pytest.param("a {\n}\n" * 20_000, Expect(0, "input", "more notes left out"), id="many-unknown-keywords"),
    pytest.param(b"a" * (reading.MAX_INPUT + 1), Expect(0, "input", "at most"), id="oversized-input"),
]

IPVSADM = [
    pytest.param(
        b"ipvsadm -A -t 10.0.0.1:80 -s \xff\nipvsadm -A -t 10.0.0.2:80\n",
        Expect(1, "encoding", "0xff", imported=1),
        id="non-utf8",
    ),
    pytest.param(
        b"ipvsadm -A -t 10.0.0.1:80\x00\nipvsadm -A -t 10.0.0.2:80\n",
        Expect(1, "character", "NUL", imported=1),
        id="nul",
    ),
    pytest.param(bytes(range(256)) * 4, Expect(1, "character", "binary input"), id="binary"),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 -t 10.0.0.2:80", Expect(1, "-t", "given twice", imported=0), id="service-twice"
    ),
    pytest.param("ipvsadm -A -t 10.0.0.1:80 -s rr -s wrr", Expect(1, "-s", "given twice"), id="scheduler-twice"),
    pytest.param("ipvsadm -A -t 10.0.0.1:80 -p 10 -p 20", Expect(1, "-p", "given twice"), id="persistent-twice"),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 -u 10.0.0.1:53", Expect(1, "service", "exactly one of"), id="tcp-and-udp"
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -w 1 -w 2",
        Expect(2, "-w", "given twice", imported=1),
        id="weight-twice",
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -g -m",
        Expect(2, "forwarding", "only one of"),
        id="two-methods",
    ),
    pytest.param("ipvsadm -A -A -t 10.0.0.1:80", Expect(1, "command", "exactly one"), id="command-twice"),
    pytest.param(
        "A=x\n" + "A=$A$A\n" * 40 + "ipvsadm -A -t 10.0.0.1:80\n",
        Expect(18, "$A", "passes 65536", imported=1),
        id="doubling-variable",
    ),
    pytest.param(
        "A=x\n" + "A=$A$A\n" * 15 + "ipvsadm -A -t 10.0.0.1:80 " + "$A " * 5 + "\n",
        Expect(17, "$A", "passes 65536"),
        id="many-expansions",
    ),
    pytest.param("A=" + "y" * 70_000 + "\n", Expect(1, "shell", "longer than 65536"), id="long-assignment"),
    pytest.param("ipvsadm -A -t $NOPE:80", Expect(1, "$NOPE", "not set"), id="unset-variable"),
    pytest.param("ipvsadm -A -t", Expect(1, "-t", "needs a value"), id="truncated-service"),
    pytest.param("ipvsadm -A -t 10.0.0.1:80 -s", Expect(1, "-s", "needs a value"), id="truncated-scheduler"),
    pytest.param("ipvsadm --set 1 2", Expect(1, "--set", "three values"), id="truncated-set"),
    pytest.param("ipvsadm --tcp-service", Expect(1, "--tcp-service", "needs a value"), id="truncated-long-option"),
    pytest.param('ipvsadm -A -t 10.0.0.1:80 ""', Expect(1, "''", "unexpected argument"), id="empty-word"),
    pytest.param("ipvsadm -A -t 10.0.0.1:\u0668\u0660", Expect(1, "-t", "'٨٠'"), id="port-arabic-indic"),
    pytest.param("ipvsadm -A -t 10.0.0.1:\u00b2", Expect(1, "-t", "'²'"), id="port-superscript"),
    pytest.param("ipvsadm -A -t 10.0.0.1:1_0", Expect(1, "-t", "'1_0'"), id="port-underscore"),
    pytest.param("ipvsadm -A -t 10.0.0.1:" + "9" * 5000, Expect(1, "-t", "5000 characters"), id="port-huge"),
    pytest.param("ipvsadm -A -t 10.0.0.1:-1", Expect(1, "-t", "'-1'"), id="port-negative"),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:" + "h" * 300, Expect(1, "-t", "not a port number"), id="service-name-huge"
    ),
    pytest.param("ipvsadm -A -t [fe80::1%eth0]:80", Expect(1, "-t", "zone"), id="scoped-address"),
    pytest.param("ipvsadm -A -f \u0667", Expect(1, "-f", "'\u0667'"), id="fwmark-arabic-indic"),
    pytest.param("ipvsadm -A -f 4294967296", Expect(1, "-f", "1..4294967295"), id="fwmark-over-32-bits"),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -w \u0661",
        Expect(2, "-w", "0..65535"),
        id="weight-arabic-indic",
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -w \u00b2",
        Expect(2, "-w", "'²'"),
        id="weight-superscript",
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -x " + "9" * 10_000,
        Expect(2, "-x", "10000 characters"),
        id="threshold-huge",
    ),
    pytest.param("ipvsadm -A -t 10.0.0.1:80 -p 1_0", Expect(1, "-p", "'1_0'"), id="persistence-underscore"),
    pytest.param(
        "ipvsadm -A -t [2001:db8::1]:80 -p -M \u0666\u0664",
        Expect(1, "-M", "prefix length"),
        id="netmask-arabic-indic",
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 -p -M " + "255." * 1000, Expect(1, "-M", "4000 characters"), id="netmask-huge"
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 -s " + "x" * 1_000_000,
        Expect(1, "shell", "longer than 65536"),
        id="scheduler-huge",
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 --" + "b" * 60_000,
        Expect(1, "'--" + "b" * 78 + "'... (60002 characters)", "unknown ipvsadm option"),
        id="option-long",
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 -s " + "x" * 60_000, Expect(1, "-s", "60000 characters"), id="scheduler-long"
    ),
    pytest.param("ipvsadm -A -t 10.0.0.1:80 -s 'r r'", Expect(1, "-s", "'r r'"), id="quoted-space-kept"),
    pytest.param("ipvsadm -A -t 10.0.0.1:80 'unclosed", Expect(1, "shell", "cannot split"), id="unclosed-quote"),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 \\\n" * 1000,
        Expect(1, "ipvsadm", "unexpected argument"),
        id="long-continuation",
    ),
    pytest.param(
        "-A -t 10.0.0.1:80\n" * 30_000, Expect(10_001, "-A", "already exists", imported=1), id="many-duplicates"
    ),
    pytest.param(
        "ipvsadm -A -t 10.0.0.1:80 -b " + ",".join(["sh-port"] * 5_000),
        Expect(1, "-b", "not a flag"),
        id="many-flags",
    ),
    pytest.param(b"a" * (reading.MAX_INPUT + 1), Expect(0, "input", "at most"), id="oversized-input"),
]


@pytest.mark.timeout(5)
@pytest.mark.parametrize(("data", "expect"), KEEPALIVED)
def test_keepalived_refuses_hostile_input(data: str | bytes, expect: Expect) -> None:
    def run() -> tuple[list[Note], int]:
        converted = keepalived.convert(data, "hostile.conf", "default")
        return converted.notes, len(converted.documents)

    _check(*run(), expect)


@pytest.mark.timeout(5)
@pytest.mark.parametrize(("data", "expect"), IPVSADM)
def test_ipvsadm_refuses_hostile_input(data: str | bytes, expect: Expect) -> None:
    def run() -> tuple[list[Note], int]:
        table = ipvsadm.parse(data)
        return table.notes, len(table.services) + len(table.destinations)

    _check(*run(), expect)


@pytest.mark.timeout(20)  # a quarter of a million statements are read before the bound is reached
def test_statements_past_the_bound_are_not_read() -> None:
    converted = keepalived.convert("a\n" * 250_000, "many.conf", "default")
    _check(converted.notes, 0, Expect(200_002, "input", "more than 200000 statements"))


def test_quoted_braces_stay_in_the_path() -> None:
    converted = keepalived.convert(_ka_url('        path "/api/{id}/health"\n'), "k.conf", "default")
    assert not [n for n in converted.notes if n.level == Level.ERROR]
    check = converted.documents[0].obj.spec.health_check  # type: ignore[union-attr]
    assert check is not None and check.http is not None and check.http.path == "/api/{id}/health"


def test_a_quoted_value_with_spaces_is_one_word() -> None:
    converted = keepalived.convert(
        _ka_real('    MISC_CHECK {\n      misc_path "/bin/check 10.0.1.1"\n    }\n'), "k.conf", "default"
    )
    assert len(converted.documents) == 2
    assert (4, "misc_path") not in {(n.line, n.keyword) for n in converted.notes}  # MISC_CHECK's block is not read


_IN_A_BOUNDED_PROCESS = """
import importlib.util, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
spec = importlib.util.spec_from_file_location("corpus", sys.argv[1])
corpus = importlib.util.module_from_spec(spec)
sys.modules["corpus"] = corpus  # its dataclass looks itself up there
spec.loader.exec_module(corpus)
from kubelvs.formats import ipvsadm, keepalived
for case in corpus.KEEPALIVED:
    keepalived.convert(case.values[0], "hostile.conf", "default")
for case in corpus.IPVSADM:
    ipvsadm.parse(case.values[0])
print("corpus done")
"""


@pytest.mark.timeout(120)
def test_the_corpus_runs_within_a_memory_bound() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IN_A_BOUNDED_PROCESS, str(Path(__file__)), str(MEMORY)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "corpus done"


def test_the_corpus_is_large_enough() -> None:
    assert len(KEEPALIVED) + len(IPVSADM) >= 60
