"""The standalone agent given a metrics port serves /healthz at once and /readyz only once its first pass has read
the manifests and adopted the kernel state (the real agent loop and HTTP server on loopback; the kernel is the
reconciler's fake, whose IPVS read the test holds back); /metrics names the service the pass programmed."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml
from fakes import FakeIpvs
from reconciling import Node

from kubelvs.agent.options import StandaloneOptions as Options
from kubelvs.agent.standalone import StandaloneAgent
from kubelvs.netstate import Service, ServiceKey

API = "lvs.kubelvs.io/v1alpha1"
PATIENCE = 10.0


class HeldIpvs(FakeIpvs):
    """An IPVS table whose reads wait until the test lets them through."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()
        self.let_through = threading.Event()

    def services(self) -> dict[ServiceKey, Service]:
        self.reading.set()
        assert self.let_through.wait(30), "the test never let the IPVS read through"
        return super().services()


def probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=PATIENCE) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "not within the test's patience"
        time.sleep(0.01)


def test_readyz_turns_ready_after_the_first_pass(tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    web = {"apiVersion": API, "kind": "VirtualServer", "metadata": {"name": "web"}}
    web["spec"] = {"address": "192.0.2.100", "port": 80}
    one = {"apiVersion": API, "kind": "RealServer", "metadata": {"name": "web-1"}}
    one["spec"] = {"virtualServer": "web", "address": "10.9.0.11"}
    path.write_text(yaml.safe_dump_all([web, one]))
    node = Node.new()
    node.ipvs = ipvs = HeldIpvs()
    options = Options((str(path),), "dir1", {}, (), None, 3600.0, 300.0, (0, 0, 0), metrics_port=0)
    agent = StandaloneAgent(options, node.kernel())
    thread = threading.Thread(target=agent.serve, daemon=True)
    thread.start()
    try:
        wait_for(lambda: agent.served_port is not None)
        port = agent.served_port
        assert port is not None
        wait_for(ipvs.reading.is_set)  # the first pass is in the kernel
        assert probe(port, "/readyz") == (503, "the first pass has not adopted the kernel state yet\n")
        assert probe(port, "/healthz") == (200, "ok\n")
        ipvs.let_through.set()
        wait_for(lambda: agent.runner.done >= 1)
        assert probe(port, "/readyz") == (200, "ok\n")
        status, body = probe(port, "/metrics")
        assert status == 200 and 'virtual_server="default/web"' in body, body
    finally:
        ipvs.let_through.set()
        agent.stop()
        thread.join(PATIENCE)
    assert not thread.is_alive()
