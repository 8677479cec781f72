"""``ipvsadm -Ln | kubelvs import ipvsadm -`` is the usual slip: the listing is refused in one line that says
to use ``ipvsadm -Sn``, exit 1 (nothing imported), nothing on stdout. The listings are what ipvsadm 1.31
printed in the VM (tests/unit/data/capture_ipvsadm.sh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubelvs.formats import ipvsadm

DATA = Path(__file__).parent / "data"
LISTINGS = ["ipvsadm-Ln.txt", "ipvsadm-Ln-stats.txt", "ipvsadm-Ln-rate.txt", "ipvsadm-Ln-thresholds.txt"]


def _import(text: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubelvs.cli", "import", "ipvsadm", "-"]
    return subprocess.run(command, input=text, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", LISTINGS)
def test_a_listing_is_refused_in_one_line_naming_ipvsadm_sn(name: str) -> None:
    done = _import((DATA / name).read_text())
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("<stdin>:1: error: nothing imported: this is a listing")
    assert "ipvsadm -Sn | kubelvs import ipvsadm -" in line


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("".join((DATA / "ipvsadm-Ln.txt").read_text().splitlines(True)[3:]), 1, id="rows-only"),
        pytest.param(
            "  -> 198.51.100.11:80             Route   3      0          0\n", 1, id="one-destination-row"
        ),
        pytest.param("# saved\n\nFWM  7 fo persistent 60\n", 3, id="fwmark-row-after-comments"),
    ],
)
def test_rows_without_the_headers_are_a_listing_too(text: str, line: int) -> None:
    table = ipvsadm.parse(text)
    assert table.listing == line
    assert not table.services and [n.line for n in table.notes] == [line]


def test_the_save_format_and_scripts_are_not_mistaken_for_listings() -> None:
    saved = (DATA / "ipvsadm-Sn.txt").read_text()
    assert ipvsadm.parse(saved).listing is None
    script = (DATA / "ipvsadm-edits.sh").read_text()
    assert ipvsadm.parse(script).listing is None
    done = _import(saved)
    assert done.returncode == 0 and "kind: VirtualServer" in done.stdout
