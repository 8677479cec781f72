"""TCP_CHECK, HTTP_GET and SSL_GET against real servers on ``::1`` (issue 17): an IPv6 real server is probed over
IPv6, the URL and the Host header carry the address in brackets (``[::1]:port``, as RFC 3986 writes it), every
message names the target as ``[::1]:port``, and the engine takes a dead IPv6 server down and back up."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from health_probes import PATIENCE, until

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, HttpChecker, TcpChecker, Transition
from kubelvs.api.enums import HealthCheckType

LOOPBACK = "::1"


def free_port() -> int:
    """An IPv6 loopback port nobody listens on (bound once, then closed)."""
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def certificate(directory: Path) -> ssl.SSLContext:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not-this-host",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture()
async def server(tmp_path: Path) -> AsyncIterator[tuple[dict[str, int], list[tuple[str, str]]]]:
    """An aiohttp server on [::1], plain and TLS; ``seen`` records (Host header, peer address) of each request."""
    seen: list[tuple[str, str]] = []

    async def healthz(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Host", ""), request.remote or ""))
        return web.Response(text="ok")

    async def virtual_host(request: web.Request) -> web.Response:
        return web.Response(status=200 if request.host == "shop.example" else 421)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/vhost", virtual_host)
    runner = web.AppRunner(app)
    await runner.setup()
    plain = web.TCPSite(runner, LOOPBACK, 0)
    secure = web.TCPSite(runner, LOOPBACK, 0, ssl_context=certificate(tmp_path))
    await plain.start()
    await secure.start()
    ports = {name: site._server.sockets[0].getsockname()[1] for name, site in (("http", plain), ("https", secure))}
    yield ports, seen
    await runner.cleanup()


@pytest.mark.parametrize("scheme", [pytest.param("http", id="http-get"), pytest.param("https", id="ssl-get")])
async def test_http_checks_send_the_bracketed_address_in_the_url_and_host_header(server, scheme: str) -> None:
    ports, seen = server
    port = ports[scheme]
    checker = HttpChecker()
    try:
        result = await checker.check(CheckSpec(HealthCheckType(scheme), LOOPBACK, port, path="/healthz"), PATIENCE)
    finally:
        await checker.close()
    assert result.ok, result.detail
    assert result.detail == f"GET {scheme}://[::1]:{port}/healthz: 200"
    assert seen == [(f"[::1]:{port}", LOOPBACK)]  # a Host header servers parse; came over IPv6


async def test_an_http_check_of_an_ipv6_server_sends_the_host_it_is_given(server) -> None:
    ports, _ = server
    checker = HttpChecker()
    target = CheckSpec(HealthCheckType.HTTP, LOOPBACK, ports["http"], path="/vhost")
    try:
        named = await checker.check(CheckSpec(**{**vars(target), "host": "shop.example"}), PATIENCE)
        unnamed = await checker.check(target, PATIENCE)
    finally:
        await checker.close()
    assert named.ok, named.detail
    assert not unnamed.ok and unnamed.detail.endswith(": 421, expected 200"), unnamed.detail


async def test_an_http_check_of_a_closed_ipv6_port_names_the_bracketed_url() -> None:
    port = free_port()
    checker = HttpChecker()
    try:
        result = await checker.check(CheckSpec(HealthCheckType.HTTP, LOOPBACK, port, path="/healthz"), PATIENCE)
    finally:
        await checker.close()
    assert not result.ok
    assert result.detail.startswith(f"GET http://[::1]:{port}/healthz: "), result.detail


async def test_tcp_checks_of_an_ipv6_server_name_it_in_brackets() -> None:
    port = free_port()
    refused = await TcpChecker().check(CheckSpec(HealthCheckType.TCP, LOOPBACK, port), PATIENCE)
    listener = await asyncio.start_server(lambda _r, w: w.close(), LOOPBACK, port, reuse_address=True)
    try:
        accepted = await TcpChecker().check(CheckSpec(HealthCheckType.TCP, LOOPBACK, port), PATIENCE)
    finally:
        listener.close()
    assert (refused.ok, refused.detail) == (False, f"connect to [::1]:{port}: Connection refused")
    assert (accepted.ok, accepted.detail) == (True, f"connected to [::1]:{port}")


async def test_the_engine_takes_a_dead_ipv6_server_down_and_back_up() -> None:
    port = free_port()
    changes: list[Transition[str]] = []
    target = CheckSpec(HealthCheckType.TCP, LOOPBACK, port, interval=0.2, connect_timeout=0.5, retries=2,
                       delay_before_retry=0.1)  # fmt: skip
    async with HealthEngine({HealthCheckType.TCP: TcpChecker()}, changes.append, jitter=False) as engine:
        engine.set_targets({"web6-1": target})
        await until(lambda: engine.states()["web6-1"] is Health.DOWN)
        listener = await asyncio.start_server(lambda _r, w: w.close(), LOOPBACK, port, reuse_address=True)
        try:
            await until(lambda: engine.states()["web6-1"] is Health.UP)
        finally:
            listener.close()
    assert [(t.old, t.new) for t in changes] == [(Health.UNKNOWN, Health.DOWN), (Health.DOWN, Health.UP)]
    assert changes[0].result.detail == f"connect to [::1]:{port}: Connection refused"
    assert changes[1].result.detail == f"connected to [::1]:{port}"
