"""``promtool check metrics`` (Prometheus' own linter: names, units, types, help) passes on real scrapes: the
``kubelvs operator`` process's /metrics after it judged objects, and an agent's /metrics with every family
filled (``tests/exported_metrics.py``). promtool comes from Debian's prometheus package (``.ci/setup``); without
it the tests fail rather than skip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import settled, virtual_server
from emulator import wait_for

from exported_metrics import agent_page, run_promtool

KUBELVS = Path(sys.executable).with_name("kubelvs")


@pytest.fixture(scope="module")
def operator_port(cluster: object) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    argv = [
        str(KUBELVS),
        "operator",
        "-A",
        "--standalone",
        "--vip-pools",
        "192.0.2.0/24",
        "--metrics-port",
        str(port),
    ]
    process = subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield port
    process.kill()
    process.wait(10)


def check(page: str) -> None:
    result = run_promtool("check", "metrics", stdin=page)
    assert result.returncode == 0 and not result.stdout.strip(), f"{result.stdout}{result.stderr}\n{page[:3000]}"


def test_the_agent_s_metrics_pass_promtool() -> None:
    page = agent_page()
    assert "kubelvs_real_server_effective_weight{" in page and "kubelvs_virtual_server_connections_total{" in page
    check(page)


def test_the_operator_s_metrics_pass_promtool(api, operator_port: int) -> None:
    api.create("virtualservers", virtual_server("linted", address="192.0.2.81"))
    api.create("virtualservers", virtual_server("refused", address="198.51.100.81"))
    settled(api, "virtualservers", "refused", "Accepted", "False", "VIPOutsidePools")

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{operator_port}/metrics", timeout=2) as reply:
            text = str(reply.read().decode())
        assert "kubelvs_operator_rejections_total{" in text
        return text

    check(wait_for(scrape))


def test_promtool_would_catch_a_counter_without_its_unit_suffix() -> None:
    # the check has teeth: a counter named without _total is reported
    result = run_promtool(
        "check", "metrics", stdin="# HELP kubelvs_bad Bad.\n# TYPE kubelvs_bad counter\nkubelvs_bad 1\n"
    )
    assert "_total" in result.stdout + result.stderr, result
