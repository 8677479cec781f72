"""``kubelvs operator`` as a process: judges objects through $KUBECONFIG, serves metrics, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import condition, settled, virtual_server
from emulator import wait_for

KUBELVS = Path(sys.executable).with_name("kubelvs")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def metrics_port():
    return free_port()


@pytest.fixture(scope="module")
def command(cluster, metrics_port):
    argv = [str(KUBELVS), "operator", "-A", "--standalone", "--vip-pools", "192.0.2.0/24"]
    argv += ["--metrics-port", str(metrics_port)]
    process = subprocess.Popen(
        argv, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(10)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        return response.read().decode()


def test_the_process_judges_objects(api, command):
    api.create("virtualservers", virtual_server("inside", address="192.0.2.80"))
    api.create("virtualservers", virtual_server("outside", address="198.51.100.80"))

    settled(api, "virtualservers", "inside", "Accepted", "True")
    rejected = settled(api, "virtualservers", "outside", "Accepted", "False", "VIPOutsidePools")
    assert "192.0.2.0/24" in condition(rejected, "Accepted")["message"]


def test_metrics_count_reconciles_and_rejections(command, metrics_port):
    text = wait_for(lambda: scrape(metrics_port))
    assert 'kubelvs_operator_rejections_total{kind="VirtualServer",reason="VIPOutsidePools"} 1.0' in text
    assert 'kubelvs_operator_reconciles_total{outcome="clean"}' in text


def test_sigterm_stops_it_cleanly(command):
    command.send_signal(signal.SIGTERM)
    assert command.wait(30) == 0, command.stdout.read()[-3000:]
