"""The agent's metrics count real traffic: N HTTP requests through an LVS-NAT VIP programmed by the agent,
then ``/metrics`` scraped over HTTP equals ``ipvsadm -Ln --stats --exact`` per real server and per virtual
server, and both say N connections split round-robin, with packets both ways and bytes that carry exactly the
requests and answers sent (their payloads plus 40 to 120 bytes of IP and TCP header per packet). The series are
found by node_exporter's labels; the kernel's weight is ipvsadm's, 0 once quiesced; and a destination deleted
by hand takes its series along while the virtual server's counters, the kernel's per service, keep its share.

The test serves :class:`kubelvs.agent.metrics.AgentMetrics` over the real ``KernelIpvsTable`` of the
director's namespace, as the in-cluster agent builds it (the standalone agent serves the same with
``--metrics-port``; the full-stack test scrapes the in-cluster agents themselves).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentrun import DIRECTORS, counts, director, rs, vs, write
from agentrun import agent as backend_agent
from netns import LvsTopology, Namespace
from prometheus_client.parser import text_string_to_metric_families

N = 24
SERVICE = "TCP 192.0.2.100:80"
DESTINATIONS = {"rs1": "10.9.0.11:8080", "rs2": "10.9.0.12:8080"}
COLUMNS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
GATEWAY = {"address": "10.9.0.200", "interface": "eth1"}
# what nsprog.py's http-get sends and its http-server answers (rs1/rs2 answer their own name)
REQUEST = len(b"GET / HTTP/1.0\r\nHost: 192.0.2.100\r\n\r\n")
ANSWER = len(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nrs1\n")
# an IPv4 + TCP header: 20 + 20 bytes at least, 60 + 60 at most (options: SYN's MSS/SACK/wscale, timestamps)
HEADERS = (40, 120)

Counters = dict[str, dict[str, int]]  # destination -> column -> value


def nat_web() -> list[dict]:
    return [
        vs("web", address="192.0.2.100", port=80, scheduler="rr", forwarding="nat",
           directors={**DIRECTORS, "gateway": GATEWAY}),
        rs("web-1", "web", "10.9.0.11", port=8080),
        rs("web-2", "web", "10.9.0.12", port=8080),
    ]  # fmt: skip


def ipvsadm_stats(ns: Namespace) -> tuple[Counters, dict[str, int]]:
    """SERVICE's destinations and its own line as ``ipvsadm -Ln --stats --exact`` prints them (exact: no K/M
    rounding); the service line is the kernel's own counter of the service, not a sum made here."""
    found: Counters = {}
    service: dict[str, int] = {}
    inside = False
    for line in ns.exec("ipvsadm", "-Ln", "--stats", "--exact").stdout.splitlines()[3:]:
        fields = line.split()
        if fields[0] != "->":
            inside = " ".join(fields[:2]) == SERVICE
            if inside:
                service = dict(zip(COLUMNS, map(int, fields[2:7]), strict=True))
        elif inside:
            found[fields[1]] = dict(zip(COLUMNS, map(int, fields[2:7]), strict=True))
    return found, service


def ipvsadm_weights(ns: Namespace) -> dict[str, int]:
    """SERVICE's destinations -> their weight, as ``ipvsadm -Ln`` prints them."""
    found: dict[str, int] = {}
    inside = False
    for line in ns.exec("ipvsadm", "-Ln").stdout.splitlines()[3:]:
        fields = line.split()
        if fields[0] != "->":
            inside = " ".join(fields[:2]) == SERVICE
        elif inside:
            found[fields[1]] = int(fields[3])
    return found


# the counter families and the ipvsadm column each is; labels as node_exporter's node_ipvs_backend_* series
NAMES = {
    "connections_total": "conns",
    "incoming_packets_total": "inpkts",
    "outgoing_packets_total": "outpkts",
    "incoming_bytes_total": "inbytes",
    "outgoing_bytes_total": "outbytes",
    "effective_weight": "weight",
}
SERVICE_LABELS = {"local_address": "192.0.2.100", "local_port": "80", "proto": "TCP", "local_mark": ""}


def scrape(ns: Namespace, port: int) -> tuple[Counters, dict[str, int]]:
    """GET /metrics inside ``ns``: the per-real-server counters (and kernel weight) of SERVICE and the virtual
    server's counters, found by node_exporter's labels."""
    with ns.entered(), urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        text = reply.read().decode()
    assert "kubelvs_ipvs_scrape_success 1.0" in text, text
    real: Counters = {}
    virtual: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in SERVICE_LABELS.items()):
                continue
            for prefix, target in (("kubelvs_real_server_", "real"), ("kubelvs_virtual_server_", "virtual")):
                column = NAMES.get(sample.name.removeprefix(prefix)) if sample.name.startswith(prefix) else None
                if column is None:
                    continue
                if target == "real":
                    where = f"{sample.labels['remote_address']}:{sample.labels['remote_port']}"
                    real.setdefault(where, {})[column] = int(sample.value)
                else:
                    virtual[column] = int(sample.value)
    assert real and virtual, f"no counters of {SERVICE} in:\n{text}"
    return real, virtual


def without_weights(real: Counters) -> Counters:
    return {where: {k: v for k, v in columns.items() if k != "weight"} for where, columns in real.items()}


@pytest.fixture
def serve_metrics() -> Iterator[Callable[[Namespace], int]]:
    """``serve_metrics(ns)``: AgentMetrics over a KernelIpvsTable of ``ns``, served on 127.0.0.1 there; the port.

    Its own thread opens the table and the server (so its netlink sockets and the HTTP server's threads are
    all in ``ns``, and nothing is shared with the agent passes the test runs in-process).
    """
    from kubelvs.agent.metrics import AgentMetrics
    from kubelvs.kernel.ipvs import KernelIpvsTable

    opened: list[tuple[KernelIpvsTable, AgentMetrics]] = []

    def serve(ns: Namespace) -> int:
        ports: list[int] = []

        def open_in_namespace() -> None:
            with ns.entered():
                table = KernelIpvsTable()
                metrics = AgentMetrics(ns.name, table)
                opened.append((table, metrics))
                ports.append(metrics.serve(0, "127.0.0.1"))

        opener = threading.Thread(target=open_in_namespace)
        opener.start()
        opener.join(timeout=120)
        assert ports, "the metrics server did not start"
        return ports[0]

    yield serve
    for table, metrics in opened:
        metrics.close()
        table.close()


def settled(ns: Namespace, total: int, timeout: float = 60) -> tuple[Counters, dict[str, int]]:
    """ipvsadm's counters once they hold ``total`` connections and stop moving (the kernel folds its per-CPU
    counters into what it reports every 2 s, and the last FIN/ACKs arrive after the client's last answer)."""
    deadline = time.monotonic() + timeout
    last: tuple[Counters, dict[str, int]] = ({}, {})
    while True:
        now = ipvsadm_stats(ns)
        if now == last and sum(d["conns"] for d in now[0].values()) == total:
            return now
        assert time.monotonic() < deadline, f"counters never settled at {total} connections: {now}"
        last = now
        time.sleep(2.5)


def test_scraped_counters_are_ipvsadm_s_and_count_the_requests(
    lvs: LvsTopology, serve_metrics: Callable[[Namespace], int], tmp_path: Path
) -> None:
    dir1, client = lvs.directors[0], lvs.client
    for server in lvs.real_servers:
        server.http_server(8080)
    path = write(tmp_path / "web.yaml", nat_web())
    for server in lvs.real_servers:
        backend_agent(server, path, tmp_path)  # NAT return routes
    director(dir1, path, tmp_path, "--vip-pools", "192.0.2.0/24")
    port = serve_metrics(dir1)

    before, _ = scrape(dir1, port)
    assert set(before) == set(DESTINATIONS.values())
    assert (
        {where: columns.pop("weight") for where, columns in before.items()}
        == ipvsadm_weights(dir1)
        == {where: 1 for where in DESTINATIONS.values()}
    )
    assert all(value == 0 for columns in before.values() for value in columns.values()), before

    # a generous timeout: on a loaded TCG guest a slow answer must not become a failed (yet counted) request
    answers = client.http_get(lvs.vip, 80, count=N, timeout=10)
    assert counts(answers) == {"rs1": N // 2, "rs2": N // 2}, answers

    kernel, kernel_service = settled(dir1, N)
    scraped, virtual = scrape(dir1, port)
    real = without_weights(scraped)
    assert real == kernel  # the metrics are the kernel's counters, field by field
    assert ipvsadm_stats(dir1) == (kernel, kernel_service)  # and nothing moved while scraping
    assert virtual == kernel_service  # the virtual server's counters are the kernel's service counters
    assert virtual == {column: sum(d[column] for d in real.values()) for column in COLUMNS}
    assert virtual["conns"] == N
    for destination in DESTINATIONS.values():
        columns = real[destination]
        assert columns["conns"] == N // 2, real
        # NAT: requests in, replies out through the director; an HTTP exchange is at least 3 packets each way
        assert columns["inpkts"] >= 3 * N // 2 and columns["outpkts"] >= 3 * N // 2, real
        # the bytes are the payloads sent (one request in, one answer out per connection) plus headers
        for way, payload in (("in", REQUEST), ("out", ANSWER)):
            packets, sent = columns[f"{way}pkts"], columns[f"{way}bytes"]
            low, high = (N // 2 * payload + packets * header for header in HEADERS)
            assert low <= sent <= high, f"{destination} {way}: {sent} bytes in {packets} packets: {real}"

    # quiesced (weight 0) and then deleted by hand: the kernel's weight is reported as it is, and the virtual
    # server keeps what the deleted destination counted (its counters are the service's, not a sum of the rest)
    rs1, rs2 = DESTINATIONS["rs1"], DESTINATIONS["rs2"]
    dir1.exec("ipvsadm", "-e", "-t", "192.0.2.100:80", "-r", rs2, "-m", "-w", "0")
    weights, _ = scrape(dir1, port)
    assert {where: columns["weight"] for where, columns in weights.items()} == {rs1: 1, rs2: 0}
    dir1.exec("ipvsadm", "-d", "-t", "192.0.2.100:80", "-r", rs2)
    after, virtual_after = scrape(dir1, port)
    assert set(after) == {rs1}
    assert virtual_after == virtual == ipvsadm_stats(dir1)[1]
