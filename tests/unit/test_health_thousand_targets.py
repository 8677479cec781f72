"""1,000 targets checked every second: all stay up, and the CPU it costs is measured (printed, not asserted).

The real servers run in a child process, so ``time.process_time()`` counts the engine's side only.
Run with ``-s`` to see the figure.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter

import pytest
from health_probes import PATIENCE

from kubelvs.agent.health import CheckSpec, Health, HealthEngine, Transition, default_checkers
from kubelvs.api.enums import HealthCheckType

TARGETS = 1000
LISTENERS = 10
WINDOW = 5.0

SERVERS = """
import asyncio, json, sys
from aiohttp import web

async def main(kind):
    ports = []
    if kind == "tcp":
        async def hang_up(reader, writer):
            writer.close()
        for _ in range(int(sys.argv[2])):
            server = await asyncio.start_server(hang_up, "127.0.0.1", 0, backlog=1024)
            ports.append(server.sockets[0].getsockname()[1])
    else:
        async def ok(request):
            return web.Response(text="ok")
        app = web.Application()
        app.router.add_get("/healthz", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for _ in range(int(sys.argv[2])):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])
    print(json.dumps(ports), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1]))
"""


@pytest.fixture()
def servers(request):
    kind = request.param
    child = subprocess.Popen(
        [sys.executable, "-c", SERVERS, kind, str(LISTENERS)], stdout=subprocess.PIPE, text=True
    )
    try:
        ports = json.loads(child.stdout.readline())
        yield kind, ports
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize(
    "servers", [pytest.param("tcp", id="tcp"), pytest.param("http", id="http")], indirect=True
)
async def test_a_thousand_targets_at_one_second(servers):
    kind, ports = servers
    changes: list[Transition[int]] = []
    targets = {
        index: CheckSpec(
            HealthCheckType(kind),
            "127.0.0.1",
            ports[index % LISTENERS],
            interval=1.0,
            connect_timeout=5.0,
            retries=2,
            delay_before_retry=0.2,
            path="/healthz",
        )
        for index in range(TARGETS)
    }
    async with HealthEngine(default_checkers(), changes.append) as engine:
        engine.set_targets(targets)
        deadline = time.monotonic() + 3 * PATIENCE  # the first checks of all: slow on a loaded host
        while any(health is not Health.UP for health in engine.states().values()):
            if time.monotonic() > deadline:
                late = Counter(health for health in engine.states().values())
                raise AssertionError(f"not all targets came up: {dict(late)}; {engine.last_results()[0]}")
            await asyncio.sleep(0.05)
        wall, cpu = time.monotonic(), time.process_time()
        await asyncio.sleep(WINDOW)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        states = engine.states()
        results = engine.last_results()
    down = {key: results[key].detail for key, health in states.items() if health is not Health.UP}
    assert not down, f"{len(down)} down, e.g. {next(iter(down.values()))}"
    assert len(changes) == TARGETS  # Unknown -> Healthy once each, no flapping
    print(f"\n{TARGETS} {kind} targets at 1s: {100 * cpu / wall:.1f}% of one core over {wall:.1f}s")
