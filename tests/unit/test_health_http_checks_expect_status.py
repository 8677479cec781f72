"""HTTP_GET / SSL_GET against aiohttp servers on loopback: status, path, Host header, TLS, retries."""

from __future__ import annotations

import itertools
import ssl
import subprocess
import time

import pytest
from aiohttp import web
from health_probes import PATIENCE, until

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, HttpChecker, Transition
from kubelvs.api.enums import HealthCheckType


@pytest.fixture()
async def server(tmp_path):
    """An aiohttp server with a few routes; ``hits`` counts the requests of /flaky."""
    hits: list[float] = []

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def broken(request: web.Request) -> web.Response:
        hits.append(time.monotonic())
        return web.Response(status=500)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/healthz")

    async def virtual_host(request: web.Request) -> web.Response:
        return web.Response(status=200 if request.host == "shop.example" else 421)

    app = web.Application()
    app.router.add_get("/healthz", ok)
    app.router.add_get("/flaky", broken)
    app.router.add_get("/old", moved)
    app.router.add_get("/vhost", virtual_host)
    runner = web.AppRunner(app)
    await runner.setup()
    plain = web.TCPSite(runner, "127.0.0.1", 0)
    await plain.start()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=not-this-host",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    secure = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await secure.start()
    ports = {
        "http": plain._server.sockets[0].getsockname()[1],
        "https": secure._server.sockets[0].getsockname()[1],
    }
    yield ports, hits
    await runner.cleanup()


@pytest.mark.parametrize(
    ("scheme", "path", "expect", "host", "up"),
    [
        pytest.param("http", "/healthz", [200], None, True, id="200-expected"),
        pytest.param("http", "/flaky", [200], None, False, id="500-is-down"),
        pytest.param("http", "/missing", [200], None, False, id="wrong-path-404-is-down"),
        pytest.param("http", "/old", [200, 301], None, True, id="301-accepted-when-listed"),
        pytest.param("http", "/old", [200], None, False, id="redirect-not-followed"),
        pytest.param("http", "/vhost", [200], "shop.example", True, id="host-header-sent"),
        pytest.param("http", "/vhost", [200], None, False, id="host-defaults-to-address"),
        pytest.param("https", "/healthz", [200], None, True, id="tls-without-verification"),
    ],
)
async def test_http_checks_expect_status(server, scheme, path, expect, host, up):
    ports, _ = server
    target = CheckSpec(
        HealthCheckType(scheme), "127.0.0.1", ports[scheme], path=path, expect_status=frozenset(expect), host=host
    )
    checker = HttpChecker()
    try:
        result = await checker.check(target, timeout=PATIENCE)  # the answer is under test, not its speed
    finally:
        await checker.close()
    assert result.ok is up, result.detail


async def test_retries_are_attempts_spaced_by_delay_before_retry(server):
    ports, hits = server
    changes: list[Transition[str]] = []
    target = CheckSpec(
        HealthCheckType.HTTP,
        "127.0.0.1",
        ports["http"],
        path="/flaky",
        interval=5,
        retries=3,
        delay_before_retry=0.2,
    )
    async with HealthEngine({HealthCheckType.HTTP: HttpChecker()}, changes.append, jitter=False) as engine:
        engine.set_targets({"web-1": target})
        await until(lambda: changes)
        attempts = len(hits)
    assert attempts == 3
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(hits))
    assert changes[0].new is Health.DOWN
    assert changes[0].result.detail.endswith("500, expected 200")
