"""Nothing is dropped silently: each unmappable option or rejected command is a note with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelvs import cli
from kubelvs.formats import ipvsadm
from kubelvs.formats.notes import Level

DATA = Path(__file__).parent / "data"


def test_captured_unsupported_options_are_warned_per_line() -> None:
    notes = {(n.line, n.keyword) for n in ipvsadm.parse((DATA / "ipvsadm-Sn-unsupported.txt").read_text()).notes}
    assert notes == {
        (2, "--tun-type"),
        (2, "--tun-port"),
        (2, "--tun-nocsum"),
        (3, "--tun-type"),
        (3, "--tun-csum"),
        (5, "--pe"),
    }


@pytest.mark.parametrize(
    ("script", "keyword", "words"),
    [
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80 -s fastest", "-s", "'fastest' is not an IPVS scheduler", id="scheduler"
        ),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80 --bogus", "--bogus", "unknown ipvsadm option", id="unknown-option"
        ),
        pytest.param("ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1", "-r", "does not exist", id="server-without-service"),
        pytest.param("ipvsadm -A -t web.example:80", "-t", "not an IP address", id="host-name"),
        pytest.param("ipvsadm -A -t 10.0.0.1:0", "port", "needs -p", id="port-zero-needs-persistence"),
        pytest.param("ipvsadm -A -t 10.0.0.1:80 -o", "-o", "only for UDP", id="ops-on-tcp"),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80 -s rr -b sh-port", "-b", "not a flag of scheduler 'rr'", id="flag"
        ),
        pytest.param("ipvsadm -A -t $VIP:80", "$VIP", "not set", id="unset-variable"),
        pytest.param("ipvsadm -A -t 10.0.0.1:80\nipvsadm -A -t 10.0.0.1:80", "-A", "already exists", id="twice"),
        pytest.param(
            "ipvsadm -A -t 10.0.0.1:80\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -w 70000",
            "-w",
            "0..65535",
            id="weight",
        ),
    ],
)
def test_bad_commands_are_errors_naming_the_option(script: str, keyword: str, words: str) -> None:
    errors = [n for n in ipvsadm.parse(script).notes if n.level == Level.ERROR]
    assert [(n.line, n.keyword) for n in errors] == [(script.count("\n") + 1, keyword)]
    assert words in errors[0].message


def test_errors_only_input_exits_1_and_prints_no_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.sh"
    script.write_text("ipvsadm -A -t 10.0.0.1:80 -s fastest\n")
    assert cli.main(["import", "ipvsadm", str(script)]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert f"{script}:1: error: -s:" in out.err


def test_partial_input_exits_0_with_the_good_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "mixed.sh"
    script.write_text("ipvsadm -A -t 10.0.0.1:80 -s rr\nipvsadm -A -t 10.0.0.2:80 -s fastest\n")
    assert cli.main(["import", "ipvsadm", "--namespace", "lb", str(script)]) == 0
    out = capsys.readouterr()
    assert "name: tcp-10-0-0-1-80\n  namespace: lb\n" in out.out
    assert "10.0.0.2" not in out.out
    assert f"{script}:2: error: -s:" in out.err
